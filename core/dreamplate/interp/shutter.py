"""Motion blur for retimes: which source positions an output frame's shutter sees, and how they are averaged.

The shutter is that of a camera shooting the retimed plate: `--shutter 180` keeps it open for half an *output*
frame, so a 2x slow-down blurs over a quarter of a source frame and a 2x speed-up over a whole one (a shutter given
in frames, as Nuke's nodes take it, is ANGLE / 360 of them). The offsets are Nuke's (`DD::Image::ShutterControls`:
eCentredOffset, eStartOffset, eEndOffset, eCustomOffset, https://learn.foundry.com/nuke/developers/16.1/ndkreference/Plugins/classDD_1_1Image_1_1ShutterControls.html):
`centred` opens half the shutter before the frame and closes it half after, `start` opens it at the frame, `end`
closes it there (https://learn.foundry.com/nuke/8.0/content/user_guide/prmanrender/adjusting_motion_blur.html), and
`custom` opens it at the frame plus the custom offset, in frames: -0.5 opens it half a frame before (the
`shuttercustomoffset` knob, https://learn.foundry.com/nuke/content/reference_guide/filter_nodes/motionblur3d.html).

Sub-frames are averaged in scene-linear float, so a highlight of 50.0 moving over grey smears into a streak whose
total energy is the highlight's, rather than being dimmed by a display-referred average; channels that must never
be blended (depth, IDs) come whole from the sub-frame nearest the frame's own time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dreamplate.interp.timing import OutputSample

OFFSETS = {"centred": -0.5, "start": 0.0, "end": -1.0}
"""Where the shutter opens, in shutter lengths from the frame's own time (`custom` gives it in frames instead)."""


def frame_rates(samples: Sequence[OutputSample]) -> dict[int, tuple[float, float]]:
    """Per output frame, source frames per output frame toward the next frame and from the previous one.

    Signed: a reversed retime runs backward through the source. The first and last frames take their one neighbour's
    rate for both; a single frame (two frames and one time) runs at the source's own rate, 1.0.
    """
    ordered = sorted(samples, key=lambda s: s.frame)
    steps = [(b.source - a.source) / (b.frame - a.frame) for a, b in zip(ordered, ordered[1:], strict=False)]
    rates: dict[int, tuple[float, float]] = {}
    for index, sample in enumerate(ordered):
        after = steps[index] if index < len(steps) else None
        before = steps[index - 1] if index > 0 else None
        forward = after if after is not None else before if before is not None else 1.0
        backward = before if before is not None else forward
        rates[sample.frame] = (forward, backward)
    return rates


def shutter_positions(
    source: float,
    rate: float,
    angle: float,
    samples: int,
    offset: str,
    first: float,
    last: float,
    custom_offset: float = 0.0,
) -> list[float]:
    """The source positions averaged for an output frame at `source`: the midpoints of `samples` equal slices.

    The shutter spans `angle / 360` output frames, `rate` source frames each, opening at `OFFSETS[offset]` of its
    length from the frame, or for `custom` at `custom_offset` output frames from it. Midpoints make the average the
    best `samples`-point estimate of the open interval (one sample is the interval's middle). Positions are held
    inside the source frames `first`-`last`, as a Read node holds its first and last frames: a retime never
    extrapolates.
    """
    length = rate * angle / 360.0
    opening = source + (rate * custom_offset if offset == "custom" else OFFSETS[offset] * length)
    positions = [opening + length * (k + 0.5) / samples for k in range(samples)]
    return [min(max(p, first), last) for p in positions]


def expose(frames: Sequence[np.ndarray], nearest: Sequence[bool], sharp: int) -> np.ndarray:
    """The average of sub-frames (float32 H x W x C, scene-linear) as one exposure; nearest channels from `sharp`.

    Accumulated in float64 so that many sub-frames of bright values add up without float32 rounding drift.
    """
    total = np.zeros(frames[0].shape, np.float64)
    for frame in frames:
        total += frame
    out = (total / len(frames)).astype(np.float32)
    flags = np.asarray(nearest, bool)
    if flags.any():
        out[..., flags] = frames[sharp][..., flags]
    return out


def sharpest(positions: Sequence[float], source: float) -> int:
    """Index of the sub-frame nearest the frame's own time: where depth and IDs are taken from."""
    return min(range(len(positions)), key=lambda k: abs(positions[k] - source))


def project_motion(
    to_a: np.ndarray, to_b: np.ndarray, weight_b: np.ndarray, t_from: float, t_to: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An in-between's motion at `t_from` carried to the sub-frame time `t_to` of the same pair, without a new estimate.

    `to_a`, `to_b` (H x W x 2): where each pixel at t_from is found in A and B; `weight_b` (H x W): B's blend weight.
    Each pixel moves on along its own motion m = to_b - to_a by (t_to - t_from) m (a forward splat, so a moving
    subject covers the background ahead of it), keeping its A and B positions; B's weight shifts with the time.
    Positions nothing lands on take their surroundings' values. Used for the learned method, whose network is run
    once per pair and output frame instead of once per sub-frame.
    """
    from dreamplate.interp.warp import fill_holes, splat

    if t_to == t_from:
        return to_a, to_b, weight_b
    step = np.float32(t_to - t_from) * (to_b - to_a)
    values = np.dstack([to_a - step, to_b - step, weight_b[..., None]])
    total, mass = splat(values, step, np.ones(weight_b.shape, np.float32))
    # Filled in two calls: OpenCV resizes at most four channels at a time.
    positions = fill_holes(total[..., :4], mass)
    weight = np.clip(fill_holes(total[..., 4:], mass)[..., 0] + np.float32(t_to - t_from), 0.0, 1.0)
    return (
        np.ascontiguousarray(positions[..., :2]),
        np.ascontiguousarray(positions[..., 2:]),
        weight.astype(np.float32),
    )
