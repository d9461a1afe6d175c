"""Steadying a per-frame matte over time without lagging what moves: a motion-aware temporal mean.

A salient-object net looks at each frame alone, so a still subject's matte chatters from frame to frame as the
rest of the picture changes (a moving background, grain, a flicker in the light). Each frame's matte is therefore
averaged with its neighbours' (t - r .. t + r), pixel by pixel, weighted by how little the *picture* changed there:
weight exp(-(d / tolerance)^2), with d the largest per-channel change of the network's picture between that
neighbour and frame t, lightly blurred so grain does not count as motion. Where the plate is still the mattes are
averaged and the chatter cancels; where something moves the neighbours weigh almost nothing and the frame keeps its
own matte, so a moving subject is not dragged or ghosted. The window is centred, so nothing lags, and each frame
depends only on its own neighbourhood: a chunk of a farm job gives the very frames a whole run gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

GRAIN_BLUR = 1.0
"""Gaussian sigma, in network pixels, applied to the picture change before it is weighed: grain is not motion."""


def neighbours(frame: int, sequence: Sequence[int], radius: int) -> list[int]:
    """The frames within `radius` places of `frame` in `sequence` (itself included), in order."""
    index = list(sequence).index(frame)
    return list(sequence[max(0, index - radius) : index + radius + 1])


def steady_matte(
    frame: int,
    mattes: Mapping[int, np.ndarray],
    pictures: Mapping[int, np.ndarray],
    window: Sequence[int],
    tolerance: float,
) -> np.ndarray:
    """Frame `frame`'s matte averaged over `window` where its picture did not change (all arrays at one size).

    `mattes`: frame -> H x W float32 raw matte; `pictures`: frame -> H x W x C float32 picture the matte was made
    from. A window of `frame` alone returns its matte unchanged.
    """
    own = mattes[frame]
    total = own.astype(np.float32, copy=True)
    weight_sum = np.ones_like(total)
    reference = pictures[frame]
    for other in window:
        if other == frame:
            continue
        change = np.abs(pictures[other] - reference).max(axis=-1)
        change = cv2.GaussianBlur(change, (0, 0), GRAIN_BLUR)
        weight = np.exp(-np.square(change / np.float32(tolerance)))
        total += weight * mattes[other]
        weight_sum += weight
    return total / weight_sum
