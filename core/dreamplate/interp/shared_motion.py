"""The motion a whole pair shares (a camera pan, a CG subject over black), for the network to run without it.

RIFE HDv3 was trained on small motions and follows a pan poorly: on the shared sets with a 48 px pan added the
network alone loses 6 dB on middlebury_others (28.67 dB against 34.83 without the pan), and the fused default fell
below the flow method on most pictures (benchmarks/bench_retime_quality.py --pan). Moved back by the pan in whole
pixels (an exact copy), B shows the network only what is left, the motion it was trained on
(`rife.LearnedEstimator.estimate(shift=...)`).

The shared motion is the median of a DIS flow, not phase correlation's clearest peak: a CG subject over black moves
the flow's median with it (issue 19's ball, 80 px a pair), where the clearest peak was an alias (48 px the wrong way,
7 dB lower).
"""

from __future__ import annotations

import cv2
import numpy as np

from dreamplate.interp.flow import gray8, guide

SHIFT_MOTION = 16.0
"""Pixels (at the network's working size) of shared motion from which the network runs with it taken out. No pair of
the shared sets without a pan reaches it. From 8 px one did, a ucf101 shot panning 13 px with a still black border
at its edge: moved back with the pan, the border crossed the picture, and the shot lost 0.45 dB; from 4 px two more
(4 and 5 px), one 0.39 dB lower. Below 16 px the network follows a pan well enough."""
QUICK_SCALE = 2
"""Where no flow candidate is made (`--no-fusion`), the shared motion comes from one DIS pass at this fraction of
the working size, started from the flow method's guide pass (`flow.guide`, which sees motion up to a quarter of the
width): on the shared sets (with and without a pan) and the CG balls it agreed with the flow candidate's median to
2 px on all but 2 of 171 pairs (3 px), in about 25 ms at 960x540; without the guide, 9 pairs differed."""


def shared_shift(forward: np.ndarray, working: tuple[int, int], size: tuple[int, int]) -> np.ndarray | None:
    """The pair's shared motion in whole pixels at `size` (width, height), or None under SHIFT_MOTION.

    `forward` is a flow from A to B (H x W x 2, in pixels of its own size) of the pair, `working` the network's
    working size, that the threshold is judged at.
    """
    height, width = forward.shape[:2]
    median = np.median(forward[::2, ::2].reshape(-1, 2), axis=0)
    if float(np.hypot(*(median * np.float32([working[0] / width, working[1] / height])))) < SHIFT_MOTION:
        return None
    return np.round(median * np.float32([size[0] / width, size[1] / height])).astype(np.float32)


def quick_forward(signal_a: np.ndarray, signal_b: np.ndarray, working: tuple[int, int]) -> np.ndarray:
    """A flow from A to B for `shared_shift` where no flow candidate is made: DIS `medium` at 1 / QUICK_SCALE of
    the working size from the guide pass, one direction (H x W x 2, pixels of that size)."""
    size = (max(working[0] // QUICK_SCALE, 8), max(working[1] // QUICK_SCALE, 8))
    gray_a, gray_b = (cv2.resize(gray8(s), size, interpolation=cv2.INTER_AREA) for s in (signal_a, signal_b))
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(gray_a, gray_b, guide(gray_a, gray_b))
