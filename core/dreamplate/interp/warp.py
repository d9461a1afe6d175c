"""Resampling primitives for flow in-betweens: backward warp, forward splat, reach and hole filling.

Arrays are float32 H x W x C; flows and displacements are H x W x 2 (dx, dy) in pixels.
"""

from collections.abc import Callable
from functools import lru_cache

import cv2
import numpy as np

# cv2.remap handles at most four channels per call.
_REMAP_CHANNELS = 4
RESAMPLES = ("bilinear", "cubic", "lanczos", "adaptive")
"""How `blend_warped` samples the two frames (Kronos's Resampling): bilinear, as RIFE and most retimers do, softens
every sample that falls between pixels; cubic and lanczos (`remap_sharp`) keep detail; adaptive takes, per pixel, cubic
where it makes the two frames' samples agree better than bilinear does (`SHARP_WINDOW`), else bilinear."""
_SHARP_KERNELS = {"cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}
SHARP_WINDOW = 15
"""Side (pixels) of the box the two resamplers' disagreement is averaged over for `adaptive`. Fused default against
bilinear, benchmarks/bench_retime_quality.py (2026-12-07, sRGB / retimer path): with cubic, middlebury_others +0.08 /
+0.17 dB, ucf101 -0.02 / -0.01, two slowly spinning CG balls +0.4 / +0.7; with lanczos as the sharp side, +0.16 /
+0.17, -0.01 / 0.00, +0.03 / +0.07, at 1.5x the time. 7 px: +0.01 dB more on middlebury_others, 0.02 less on ucf101.
Lanczos everywhere gained more on clean pictures (middlebury_others +0.34 / +0.49, up to 1.8 dB on its rendered
scenes, the balls up to 0.8) but lost on camera footage, whose grain and compression it keeps (ucf101 -0.16 / -0.10,
0.2 to 0.4 dB on middlebury_others' filmed scenes); preferring the sharp side by a 1.1 margin took ucf101 0.1 dB
down."""
_NEIGHBOURHOOD = np.ones((3, 3), np.uint8)
# Splat mass below which a position counts as (partly) a hole: a quarter of one full pixel's footprint.
HOLE_MASS = 0.25


@lru_cache(maxsize=4)
def _grid(h: int, w: int) -> np.ndarray:
    """Pixel-centre coordinates (x, y) of an H x W grid, float32 H x W x 2, read-only.

    Built once per size (a frame needs it some twenty times); interleaved so that adding a displacement is one
    pass and the sum is a map cv2.remap takes as is.
    """
    grid = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    grid.setflags(write=False)
    return grid


def remap(img: np.ndarray, displacement: np.ndarray, *, nearest: bool) -> np.ndarray:
    """Sample `img` (H x W x C) at x + displacement(x), bilinear or nearest, replicating the border.

    An integer displacement gives bilinear weights of exactly 1 and 0, so values come back bit-exact.
    """
    maps = _maps(img, displacement)
    return _by_chunks(img, lambda part: _sampled(part, maps, cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR))


def _maps(img: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """The sample positions x + displacement(x) for `img`, as the map cv2.remap takes."""
    return cv2.add(_grid(img.shape[0], img.shape[1]), displacement, dtype=cv2.CV_32F)


def _sampled(part: np.ndarray, maps: np.ndarray, interp: int) -> np.ndarray:
    """cv2.remap of an H x W x (1-4) array at `maps`, replicating the border, keeping its shape."""
    return cv2.remap(part, maps, None, interp, borderMode=cv2.BORDER_REPLICATE).reshape(part.shape)


def _by_chunks(img: np.ndarray, sample: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """`sample` applied to each run of at most four channels of `img` (what cv2.remap takes), joined again."""
    chunks = [
        sample(np.ascontiguousarray(img[..., start : start + _REMAP_CHANNELS]))
        for start in range(0, img.shape[2], _REMAP_CHANNELS)
    ]
    return chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=2)


def squared_length(vectors: np.ndarray) -> np.ndarray:
    """Squared length of H x W x 2 vectors (H x W); numpy's reduction over a 2-long axis is several times slower."""
    return vectors[..., 0] * vectors[..., 0] + vectors[..., 1] * vectors[..., 1]


def photo_cost(
    signal_a: np.ndarray, to_a: np.ndarray | None, signal_b: np.ndarray, to_b: np.ndarray | None, window: int
) -> np.ndarray:
    """How badly a motion explains a pair: |A(x + to_a) - B(x + to_b)| summed over channels, box-averaged (H x W).

    Signals are H x W x C (the [0, 1] motion signals); a displacement of None samples that frame at x itself.
    """
    return cv2.blur(photo_difference(signal_a, to_a, signal_b, to_b), (window, window))


def photo_difference(
    signal_a: np.ndarray, to_a: np.ndarray | None, signal_b: np.ndarray, to_b: np.ndarray | None
) -> np.ndarray:
    """`photo_cost` per pixel, before the box average (H x W): for callers that weight the pixels first."""
    warped_a = signal_a if to_a is None else remap(signal_a, to_a, nearest=False)
    warped_b = signal_b if to_b is None else remap(signal_b, to_b, nearest=False)
    return absolute_difference(warped_a, warped_b)


def absolute_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| summed over channels (H x W) for H x W x C signals."""
    return channel_sum(cv2.absdiff(a, b).reshape(a.shape))


def channel_sum(img: np.ndarray) -> np.ndarray:
    """H x W x C float32 summed over channels (H x W), by OpenCV's per-pixel matrix transform: several times faster
    than numpy's reduction over a short last axis, or adding the channel slices (strided)."""
    if img.shape[2] > 4:  # cv2.transform takes at most four channels
        return sum(img[..., c] for c in range(img.shape[2]))
    return cv2.transform(img, np.ones((1, img.shape[2]), np.float32)).reshape(img.shape[:2])


DETAIL_WINDOW = 5
"""Side (pixels) of the local mean a signal's detail is measured against."""


def sampled_detail(signal: np.ndarray, to: np.ndarray | None, window: int) -> np.ndarray:
    """How much picture detail a motion samples: |S - local mean of S| of the warped signal, box-averaged (H x W).

    A flat patch (black behind a small fast subject) matches any other flat patch perfectly, so a low photo cost
    there says nothing; this says how much structure the match was made on. A displacement of None: the signal's own.
    """
    warped = channel_sum(signal if to is None else remap(signal, to, nearest=False))
    return cv2.blur(np.abs(warped - cv2.blur(warped, (DETAIL_WINDOW, DETAIL_WINDOW))), (window, window))


def static_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels bit-identical in both frames (every channel), with their 3x3 neighbours: bool H x W.

    Such a pixel does not move; giving it zero displacement makes the bilinear weights exactly 1 and 0, so it comes
    back unchanged instead of softened by flow noise.
    """
    same = np.logical_and.reduce([a[..., c] == b[..., c] for c in range(a.shape[2])])
    return cv2.erode(same.astype(np.uint8), _NEIGHBOURHOOD).astype(bool)


def remap_sharp(img: np.ndarray, displacement: np.ndarray, kernel: str = "cubic") -> np.ndarray:
    """`remap` with cubic or Lanczos-4 samples (`kernel`), each held within the range of the 3 x 3 pixels around its
    nearest pixel.

    The hold stops ringing: next to a highlight, the kernels' negative lobes would take black below zero and the
    highlight's edge past its own value. An integer displacement still gives the pixels back exactly.
    """
    maps = _maps(img, displacement)

    def held(part: np.ndarray) -> np.ndarray:
        sharp = _sampled(part, maps, _SHARP_KERNELS[kernel])
        low = _sampled(cv2.erode(part, _NEIGHBOURHOOD).reshape(part.shape), maps, cv2.INTER_NEAREST)
        high = _sampled(cv2.dilate(part, _NEIGHBOURHOOD).reshape(part.shape), maps, cv2.INTER_NEAREST)
        return np.minimum(np.maximum(sharp, low, out=sharp), high, out=sharp)

    return _by_chunks(img, held)


def _sharp_agrees(sharp_a: np.ndarray, sharp_b: np.ndarray, soft_a: np.ndarray, soft_b: np.ndarray) -> np.ndarray:
    """Where the two frames' sharp samples agree better than their bilinear ones (bool H x W x 1), over SHARP_WINDOW.

    Differences are relative to the samples' size, so a scene-linear highlight does not outvote the rest of the box.
    Camera grain and compression differ between the frames, and bilinear's softening hides them: there bilinear
    agrees better; clean detail agrees better sharp.
    """
    window = (SHARP_WINDOW, SHARP_WINDOW)
    # Float32 data near its limits (1e38) overflows to inf here: NaN costs compare false, so those pixels stay bilinear.
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.maximum(np.abs(soft_a), np.abs(soft_b)) + np.float32(1e-3)
        sharp_cost = cv2.blur(channel_sum(np.abs(sharp_a - sharp_b) / scale), window)
        soft_cost = cv2.blur(channel_sum(np.abs(soft_a - soft_b) / scale), window)
    return (sharp_cost < soft_cost)[..., None]


def resample_pair(
    a: np.ndarray, b: np.ndarray, to_a: np.ndarray, to_b: np.ndarray, resample: str
) -> tuple[np.ndarray, np.ndarray]:
    """A sampled at x + to_a and B at x + to_b (H x W x C each) by the `resample` rule (RESAMPLES)."""
    if resample not in RESAMPLES:
        raise ValueError(f"resample must be one of {RESAMPLES}, got {resample!r}")
    if resample in _SHARP_KERNELS:
        return remap_sharp(a, to_a, resample), remap_sharp(b, to_b, resample)
    soft_a, soft_b = remap(a, to_a, nearest=False), remap(b, to_b, nearest=False)
    if resample == "bilinear":
        return soft_a, soft_b
    sharp_a, sharp_b = remap_sharp(a, to_a), remap_sharp(b, to_b)
    take = _sharp_agrees(sharp_a, sharp_b, soft_a, soft_b)
    return np.where(take, sharp_a, soft_a), np.where(take, sharp_b, soft_b)


def blend_warped(
    a: np.ndarray,
    b: np.ndarray,
    to_a: np.ndarray,
    to_b: np.ndarray,
    weight_b: np.ndarray,
    nearest: np.ndarray,
    static: np.ndarray,
    resample: str = "bilinear",
) -> np.ndarray:
    """The in-between: A sampled at x + to_a, B at x + to_b, blended with B's weight (H x W), never clipped.

    `resample` says how the smooth channels are sampled (RESAMPLES). Channels flagged in `nearest` (depth, IDs) are
    sampled nearest and taken whole from the side with the larger weight, so no value is invented. `static` pixels
    (see `static_pixels`) are A's own samples, bit for bit. `to_a` and `to_b` are modified: static pixels get zero
    displacement.
    """
    to_a[static] = 0.0
    to_b[static] = 0.0
    out = np.empty(a.shape, np.float32)
    smooth = ~nearest
    if smooth.any():
        warped_a, warped_b = resample_pair(a[..., smooth], b[..., smooth], to_a, to_b, resample)
        # a + w (b - a) rather than (1-w) a + w b: exact wherever both sides agree.
        out[..., smooth] = warped_a + weight_b[..., None] * (warped_b - warped_a)
    if nearest.any():
        from_b = (weight_b > 0.5)[..., None]
        nearest_a = remap(a[..., nearest], to_a, nearest=True)
        nearest_b = remap(b[..., nearest], to_b, nearest=True)
        out[..., nearest] = np.where(from_b, nearest_b, nearest_a)
    # Static pixels are A's own samples, bit for bit: the blend would turn a -0.0 into +0.0.
    out[static] = a[static]
    return out


def one_side_alone(weight_b: np.ndarray | float, b_alone: np.ndarray, a_alone: np.ndarray) -> np.ndarray:
    """B's blend weight taken to 1 where only B's sample can be used (`b_alone`, 0-1), to 0 where only A's can
    (`a_alone`), and kept where both or neither are (no evidence either way)."""
    return weight_b + b_alone * (1.0 - a_alone) * (1.0 - weight_b) - a_alone * (1.0 - b_alone) * weight_b


def outside(displacement: np.ndarray) -> np.ndarray:
    """How far each sample x + displacement(x) falls outside the frame (float32 H x W, 0-1, 1 past one pixel)."""
    h, w = displacement.shape[:2]
    landing = cv2.add(_grid(h, w), displacement, dtype=cv2.CV_32F)
    x, y = landing[..., 0], landing[..., 1]
    beyond = np.maximum(np.maximum(-x, x - (w - 1)), np.maximum(-y, y - (h - 1)))
    return np.clip(beyond, 0.0, 1.0)


def _corners(
    displacement: np.ndarray, weight: np.ndarray, where: np.ndarray | None
) -> tuple[np.ndarray, list[tuple[int, np.ndarray]], int]:
    """Where each vector lands: the flat index of its top-left corner in a grid padded by one pixel, and weights.

    Returns (index (int64 N), per corner (index offset, bilinear weight (float64 N, what np.bincount works
    in)), padded width) for the N vectors (selected by `where` when given).
    """
    h, w = displacement.shape[:2]
    landing = cv2.add(_grid(h, w), displacement, dtype=cv2.CV_32F)
    weight = np.broadcast_to(weight, (h, w))
    if where is not None:
        landing, weight = landing[where], weight[where]
    x, y = landing[..., 0].ravel(), landing[..., 1].ravel()
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    # Every corner of a kept vector has an index in the padded grid; vectors with no corner inside the
    # frame get zero weight, the padding is cropped after.
    keep = (x0 >= -1) & (x0 < w) & (y0 >= -1) & (y0 < h)
    right = np.where(keep, weight.ravel(), np.float32(0.0)) * fx
    left = np.where(keep, weight.ravel(), np.float32(0.0)) - right
    pw = w + 2
    # Integer arithmetic: a float32 index would lose pixels past 2^24 (an 8K frame).
    index = (np.clip(y0, -1, h - 1).astype(np.int64) + 1) * pw + np.clip(x0, -1, w - 1).astype(np.int64) + 1
    corners = [
        (0, (left * (1.0 - fy)).astype(np.float64)),
        (1, (right * (1.0 - fy)).astype(np.float64)),
        (pw, (left * fy).astype(np.float64)),
        (pw + 1, (right * fy).astype(np.float64)),
    ]
    return index, corners, pw


def _accumulate(
    index: np.ndarray, corners: list[tuple[int, np.ndarray]], values: np.ndarray, h: int, pw: int
) -> np.ndarray:
    """Sum corner weights, then each column of `values` (N x C) times them, onto the frame (float32 (1 + C) x H x W).

    All four corners share one index array, each landing shifted by its offset: four N-long scatters instead of
    one over a 4N-long index keep the temporaries a quarter the size, and allocating those dominated the cost.
    """
    size = (h + 2) * pw
    planes = np.zeros((1 + values.shape[1], size))
    for offset, corner in corners:
        planes[0, offset:] += np.bincount(index, corner, minlength=size)[: size - offset]
        for c in range(values.shape[1]):
            planes[1 + c, offset:] += np.bincount(index, corner * values[:, c], minlength=size)[: size - offset]
    return planes.reshape(-1, h + 2, pw)[:, 1:-1, 1:-1].astype(np.float32)


def splat(
    values: np.ndarray, displacement: np.ndarray, weight: np.ndarray, *, where: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Forward-splat `values` (H x W x C) from x to x + displacement(x), bilinear, scaled by `weight` (H x W).

    Returns the weighted sum (float32 H x W x C) and the mass (float32 H x W) landed on each pixel; vectors
    landing outside the frame are dropped. `where` (bool H x W) splats only those pixels, at a cost
    proportional to their number.
    """
    h, w = values.shape[:2]
    index, corners, pw = _corners(displacement, weight, where)
    flat = values.reshape(h * w, -1) if where is None else values[where].reshape(-1, values.shape[2])
    planes = _accumulate(index, corners, flat, h, pw)
    return np.dstack(planes[1:]), planes[0]


def reach(displacement: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The mass (float32 H x W) that pixels moved by `displacement` and scaled by `weight` land on each pixel.

    About 1 where a flow covers the frame evenly, near 0 where nothing lands: the other frame has no
    counterpart there.
    """
    h = displacement.shape[0]
    index, corners, pw = _corners(displacement, weight, None)
    return _accumulate(index, corners, np.empty((index.size, 0), np.float32), h, pw)[0]


def fill_holes(total: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Normalise a splat (sum H x W x C, mass H x W) to float32 values, filling holes from coarser levels.

    Push-pull: a pixel with little mass takes the mass-weighted average of a coarser level, so holes get
    the motion of their surroundings rather than zero.
    """
    h, w = mass.shape
    value = (total / np.maximum(mass, 1e-12)[..., None]).astype(np.float32, copy=False)
    if mass.min() >= HOLE_MASS:
        return value
    if h <= 2 or w <= 2:
        mean = total.reshape(-1, total.shape[2]).sum(0) / max(mass.sum(), 1e-12)
        return np.broadcast_to(mean, total.shape).astype(np.float32)
    # Coarser level: mass and mass-weighted sums averaged over 2x2 blocks, capped so a dense region does
    # not drown its sparse neighbours.
    capped = np.minimum(mass, 1.0)
    size = ((w + 1) // 2, (h + 1) // 2)
    small_mass = cv2.resize(capped, size, interpolation=cv2.INTER_AREA)
    small_total = cv2.resize(value * capped[..., None], size, interpolation=cv2.INTER_AREA)
    small = fill_holes(small_total.reshape(size[1], size[0], -1), small_mass)
    up = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
    alpha = np.clip(mass / HOLE_MASS, 0.0, 1.0)[..., None]
    return (alpha * value + (1.0 - alpha) * up).astype(np.float32, copy=False)
