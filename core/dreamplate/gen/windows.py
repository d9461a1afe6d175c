"""Long shots through a short model: overlapping frame windows, one seed schedule, seam blends, colour anchoring.

A video model generates k*m+1 frames at a time (Wan: 4k+1, at most 81; LTX-Video: 8k+1). A longer plate is cut into
windows of the longest valid length that overlap by at least the asked number of frames; the overlaps are
cross-faded with a raised cosine, and each window's colour is anchored to its own plate frames with the change
window 0 made, never only to the previous window, so nothing drifts over 300 frames.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dreamplate.errors import JobError

log = logging.getLogger(__name__)

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Window:
    """Frames [start, start + length) of a shot (0-based indices) that one model call generates.

    `padded` > 0 only for a shot shorter than one valid length: the model then sees the last frame repeated
    `padded` times after the shot, and those generated frames are dropped by `blend_windows`.
    """

    index: int
    start: int
    length: int
    padded: int = 0

    @property
    def stop(self) -> int:
        """One past the last real (unpadded) frame of the shot this window covers."""
        return self.start + self.length - self.padded

    def source_indices(self) -> list[int]:
        """The shot frame index for each of the window's `length` model frames (the padding repeats the last)."""
        return [min(self.start + i, self.stop - 1) for i in range(self.length)]


def valid_length(limit: int, temporal_multiple: int) -> int:
    """The longest k*m+1 that is <= limit (k >= 0)."""
    return ((limit - 1) // temporal_multiple) * temporal_multiple + 1


def plan_windows(n_frames: int, window: int, overlap: int, temporal_multiple: int) -> list[Window]:
    """Windows that cover frames 0..n_frames-1, each k*temporal_multiple+1 frames long and at most `window`.

    Every window has the longest valid length; consecutive windows overlap by at least `overlap` frames (stride =
    length - overlap) and the last one is moved back to end exactly on the last frame, so its overlap with the one
    before may be larger. A shot shorter than that length is one window of the shortest valid length that holds it,
    padded with its last frame (logged). Deterministic. Raises JobError for settings that cannot work.
    """
    if n_frames < 1:
        raise JobError(f"windows: need at least one frame, got {n_frames}")
    if temporal_multiple < 1:
        raise JobError(f"windows: temporal multiple must be 1 or more, got {temporal_multiple}")
    if window < 1:
        raise JobError(f"windows: window must be 1 or more frames, got {window}")
    length = valid_length(window, temporal_multiple)
    if n_frames <= length:
        fitted = -(-(n_frames - 1) // temporal_multiple) * temporal_multiple + 1
        if fitted > n_frames:
            log.info("windows: %d frames padded to %d by repeating the last frame", n_frames, fitted)
        return [Window(0, 0, fitted, fitted - n_frames)]
    if not 0 <= overlap < length:
        raise JobError(f"windows: overlap must be in [0, {length - 1}] for {length}-frame windows, got {overlap}")
    stride = length - overlap
    count = -(-(n_frames - length) // stride) + 1
    starts = [min(i * stride, n_frames - length) for i in range(count)]
    return [Window(i, start, length) for i, start in enumerate(starts)]


def seed_for_window(seed: int, index: int) -> int:
    """The seed window `index` of a shot generates with: the shot's own seed for window 0, a fixed mix after.

    Window 0 uses `seed` unchanged, so a shot that fits one window (and its draft) matches a plain run with that
    seed. Later windows use splitmix64(seed + index * golden ratio), kept to 63 bits: independent noise per window
    (identical noise would repeat texture at a fixed lag), the same on every machine, and a re-render of one window
    reproduces it exactly.
    """
    if index == 0:
        return seed
    z = (seed + index * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) >> 1


def blend_weights(windows: Sequence[Window], n_frames: int) -> np.ndarray:
    """Per-window, per-frame weights (n_windows, n_frames) float64 that sum to 1 on every covered frame.

    Where two windows overlap over frames j = 0..L-1, the later one fades in as 0.5 - 0.5 cos(pi (j + 1) / (L + 1))
    and the earlier one out as its complement: a raised cosine, flat at both ends, so neither the values nor their
    rate of change jump at a seam. A frame covered by one window has weight exactly 1 there. Lets a runner blend
    frame by frame without holding the whole shot.
    """
    ordered = sorted(windows, key=lambda w: w.start)
    weights = np.zeros((len(windows), n_frames))
    position = {id(w): i for i, w in enumerate(windows)}
    for k, win in enumerate(ordered):
        w = np.zeros(n_frames)
        w[win.start : win.stop] = 1.0
        # Fade over the overlap with the furthest neighbour on each side: with the usual two-window overlaps that
        # is the neighbour, and where a shifted-back last window overlaps two others it still fades out fully.
        earlier = [o.stop for o in ordered[:k] if o.stop > win.start]
        later = [o.start for o in ordered[k + 1 :] if o.start < win.stop]
        if earlier:
            _ramp(w, max(earlier), win.start, rising=True)
        if later:
            _ramp(w, win.stop, min(later), rising=False)
        weights[position[id(win)]] = w
    total = weights.sum(axis=0)
    covered = total > 0
    weights[:, covered] /= total[covered]
    return weights


def blend_windows(results: Sequence[tuple[Window, np.ndarray]], n_frames: int) -> np.ndarray:
    """The whole shot (n_frames, H, W, C) float32 from each window's generated frames (window.length, H, W, C).

    Overlaps are cross-faded with `blend_weights`; a frame only one window covers is that window's frame exactly.
    Padded frames are dropped. Raises JobError when a frame is covered by no window or a result has the wrong length.
    """
    if not results:
        raise JobError("windows: no window results to blend")
    windows = [w for w, _ in results]
    for win, frames in results:
        if len(frames) != win.length:
            raise JobError(f"windows: window {win.index} has {len(frames)} frames, expected {win.length}")
    weights = blend_weights(windows, n_frames)
    uncovered = np.flatnonzero(weights.sum(axis=0) == 0)
    if uncovered.size:
        raise JobError(f"windows: frames {uncovered[:5].tolist()} are covered by no window")
    shape = results[0][1].shape[1:]
    out = np.zeros((n_frames, *shape), np.float32)
    for f in range(n_frames):
        covering = [(k, frames) for k, (win, frames) in enumerate(results) if weights[k, f] > 0]
        if len(covering) == 1:
            k, frames = covering[0]
            out[f] = frames[f - results[k][0].start]
            continue
        acc = np.zeros(shape, np.float64)
        for k, frames in covering:
            acc += weights[k, f] * frames[f - results[k][0].start]
        out[f] = acc
    return out


@dataclass(frozen=True)
class ColourShift:
    """What a model did to a window's colour, per channel, in the model space: mean gain and contrast gain."""

    mean_ratio: np.ndarray  # (C,) mean(output) / mean(plate)
    std_ratio: np.ndarray  # (C,) std(output) / std(plate)


# A light or look change is a gain in scene-linear, and the video model space is close to a power law, so it stays a
# gain there: ratios, not offsets, carry window 0's change over to a plate that brightens later in the shot.
_FLOOR = 1e-3  # a black or flat plate has no level or contrast to compare: ratios are taken against at least this
_GAIN_LIMITS = (0.5, 2.0)  # a correction that would more than double or halve contrast is not drift


def measure_shift(window_out: np.ndarray, window_plate: np.ndarray) -> ColourShift:
    """The per-channel colour change from `window_plate` to `window_out`, both (t, h, w, C) in the model space."""
    out_mean, out_std = _stats(window_out)
    plate_mean, plate_std = _stats(window_plate)
    return ColourShift(
        np.maximum(out_mean, _FLOOR) / np.maximum(plate_mean, _FLOOR),
        np.maximum(out_std, _FLOOR) / np.maximum(plate_std, _FLOOR),
    )


def anchor_colour(window_out: np.ndarray, window_plate: np.ndarray, reference_shift: ColourShift) -> np.ndarray:
    """A window's output (t, h, w, C) in the model space, corrected so its change from its plate is the reference's.

    The rule: measure window 0's change once (`reference = measure_shift(out_0, plate_0)`), then give every window k,
    per channel, the mean mean(plate_k) * reference.mean_ratio and the contrast std(plate_k) * reference.std_ratio,
    by an affine map of its own output (contrast gain limited to [0.5, 2]). The anchor is each window's own plate
    plus window 0's change, never the previous window, so errors do not accumulate: drift goes, and a look the model
    applies throughout (everything 20% warmer) stays, because window 0 has it too. Window 0 itself comes back
    unchanged (to float rounding). Output clipped to [0, 1], the model space's domain.
    """
    out_mean, out_std = _stats(window_out)
    plate_mean, plate_std = _stats(window_plate)
    current_ratio = np.maximum(out_std, _FLOOR) / np.maximum(plate_std, _FLOOR)
    gain = np.clip(reference_shift.std_ratio / current_ratio, *_GAIN_LIMITS)
    target_mean = np.maximum(plate_mean, _FLOOR) * reference_shift.mean_ratio
    corrected = (window_out - out_mean.astype(np.float32)) * gain.astype(np.float32) + target_mean.astype(np.float32)
    return np.clip(corrected, 0.0, 1.0).astype(np.float32, copy=False)


def measure_drift(frames_first: np.ndarray, frames_last: np.ndarray) -> np.ndarray:
    """Per-channel mean of `frames_last` minus that of `frames_first` (C,): the drift to report on a static plate."""
    axes_first = tuple(range(frames_first.ndim - 1))
    axes_last = tuple(range(frames_last.ndim - 1))
    return frames_last.mean(axis=axes_last, dtype=np.float64) - frames_first.mean(axis=axes_first, dtype=np.float64)


def _stats(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over every frame and pixel, in float64."""
    axes = tuple(range(frames.ndim - 1))
    return frames.mean(axis=axes, dtype=np.float64), frames.std(axis=axes, dtype=np.float64)


def _ramp(weights: np.ndarray, overlap_stop: int, overlap_start: int, rising: bool) -> None:
    """Multiply the overlap [overlap_start, overlap_stop) by a raised-cosine ramp (rising or falling)."""
    length = overlap_stop - overlap_start
    if length <= 0:
        return
    j = np.arange(length)
    rise = 0.5 - 0.5 * np.cos(math.pi * (j + 1) / (length + 1))
    weights[overlap_start:overlap_stop] *= rise if rising else 1.0 - rise


def plan_chain(
    n_frames: int, window: int, context: int, temporal_multiple: int, stops: Sequence[int] = ()
) -> list[Window]:
    """Windows generated one after another, each conditioned on frames of the window before it (or a key).

    Shot indices are in generation order (frame 0 is where the known frames start). Window 0 starts at 0. A window
    that reaches a `stops` index (a key) ends on the furthest one it reaches and the next starts on it: the two share
    that key. One that reaches none is a full window, and the next starts `context` frames before its end, so it
    continues from them. A window ending short of a valid length (a key, or the shot's end) is generated at the next
    valid length and the frames past its end are dropped (`padded`). A shot that fits one window is one window,
    exactly as `plan_windows` makes it. Deterministic; JobError for settings that cannot advance.
    """
    if n_frames < 1:
        raise JobError(f"windows: need at least one frame, got {n_frames}")
    if temporal_multiple < 1 or window < 1:
        raise JobError(f"windows: window {window} and temporal multiple {temporal_multiple} must be 1 or more")
    length = valid_length(window, temporal_multiple)
    if not 1 <= context < length:
        raise JobError(f"windows: context must be in [1, {length - 1}] for {length}-frame windows, got {context}")

    def fitted(real: int) -> int:
        return -(-(real - 1) // temporal_multiple) * temporal_multiple + 1

    windows: list[Window] = []
    start = 0
    while True:
        index = len(windows)
        if n_frames - start <= length:
            real = n_frames - start
            windows.append(Window(index, start, fitted(real), fitted(real) - real))
            return windows
        reached = [s for s in stops if start < s < start + length]
        if reached:
            end = max(reached)
            real = end - start + 1
            windows.append(Window(index, start, fitted(real), fitted(real) - real))
            start = end
        else:
            windows.append(Window(index, start, length))
            start += length - context
