"""Whole-subject motion candidates: the translations that phase correlation finds between two frames.

Both per-pixel estimators (DIS and the net) follow motion from coarse to fine, and lose a subject that moves further
than its own size over a textured ground: the ground is visible at the in-between's pixel in both frames, so "still
ground" explains the pair there, and the subject is smeared or lost. Phase correlation, as broadcast standards
converters use it to propose motion vectors, does not search outward from zero: each peak of the correlation surface
is the translation of a part of the picture, however far it moved. Over tiles (`TILE`) a subject a few percent of
the picture's area still makes a peak of its own. The fusion then gives a pixel a translation where both frames'
own pixels place the part moving by it there (`fusion.fuse`).
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from dreamplate.interp.warp import absolute_difference, channel_sum

TILE = 128
"""Side (pixels) of the tiles correlated besides the whole frame, side by side. Measured with the fusion on the
shared sets, the CG balls and the squares (benchmarks/bench_retime_quality.py): the whole frame with 128 px tiles
found the squares' motions as well as with 256 and 128 px tiles together; 64 px tiles added chance matches (a ucf101
shot 0.19 dB lower); tiles overlapping by half gave the same figures in twice the time."""
PEAKS_PER_SURFACE = 3
"""Correlation peaks read from each surface (the whole frame's and each tile's)."""
MIN_PEAK = 0.03
"""Height below which a correlation peak is noise: a normalised surface of uncorrelated tiles stays under it."""
COUNT = 4
"""Translations kept, the highest peaks first, no two within a pixel of each other: 4, 6 and 10 gave the same
figures on the shared sets and squares; 10 took more pixels of the spinning balls (0.1 dB lower)."""
PEAK_RADIUS = 2
"""A peak is a maximum over the square of this radius around it."""


def translations(signal_a: np.ndarray, signal_b: np.ndarray) -> list[np.ndarray]:
    """Up to COUNT translations (float32 (dx, dy), pixels, A -> B) of parts of the picture, the clearest first.

    `signal_a` and `signal_b` are the motion signals (H x W x C or H x W). A part of A at x is found in B at x + d.
    """
    gray_a, gray_b = _gray(signal_a), _gray(signal_b)
    height, width = gray_a.shape
    peaks = _peaks(gray_a, gray_b)
    if min(height, width) > TILE:
        for y in range(0, height - TILE + 1, TILE):
            for x in range(0, width - TILE + 1, TILE):
                peaks += _peaks(gray_a[y : y + TILE, x : x + TILE], gray_b[y : y + TILE, x : x + TILE])
    peaks.sort(key=lambda peak: -peak[0])
    kept: list[np.ndarray] = []
    for _, shift in peaks:
        if all(float(np.sum((shift - other) ** 2)) > 1.0 for other in kept):
            kept.append(shift)
        if len(kept) == COUNT:
            break
    return kept


def shifted(img: np.ndarray, d: np.ndarray) -> np.ndarray:
    """`img` sampled at x + d for every x, bilinear, replicating the border: `warp.remap` for a constant d."""
    matrix = np.float32([[1.0, 0.0, d[0]], [0.0, 1.0, d[1]]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = cv2.warpAffine(img, matrix, (img.shape[1], img.shape[0]), flags=flags, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(img.shape)


def translated_difference(signal_a: np.ndarray, signal_b: np.ndarray, d: np.ndarray, t: float) -> np.ndarray:
    """`warp.photo_difference` of the in-between at t of a part moving by d (H x W): A at x - t d, B at x + (1 - t)d."""
    return absolute_difference(shifted(signal_a, -t * d), shifted(signal_b, (1.0 - t) * d))


def _gray(signal: np.ndarray) -> np.ndarray:
    """The signal's channel mean, float32 H x W."""
    if signal.ndim == 2:
        return signal.astype(np.float32)
    return channel_sum(signal.astype(np.float32, copy=False)) * np.float32(1.0 / signal.shape[2])


def _peaks(a: np.ndarray, b: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """The PEAKS_PER_SURFACE highest peaks of the normalised cross-power correlation of a and b: (height, A -> B)."""
    height, width = a.shape
    window = _window(width, height)
    spectrum_a = cv2.dft(np.ascontiguousarray(a) * window, flags=cv2.DFT_COMPLEX_OUTPUT)
    spectrum_b = cv2.dft(np.ascontiguousarray(b) * window, flags=cv2.DFT_COMPLEX_OUTPUT)
    real, imaginary = cv2.split(cv2.mulSpectrums(spectrum_a, spectrum_b, 0, conjB=True))
    magnitude = cv2.magnitude(real, imaginary) + np.float32(1e-9)
    cross = cv2.merge([real / magnitude, imaginary / magnitude])
    surface = np.fft.fftshift(cv2.idft(cross, flags=cv2.DFT_REAL_OUTPUT | cv2.DFT_SCALE))
    side = 2 * PEAK_RADIUS + 1
    is_peak = (surface >= cv2.dilate(surface, np.ones((side, side), np.uint8))) & (surface > MIN_PEAK)
    ys, xs = np.nonzero(is_peak)
    order = np.argsort(-surface[ys, xs])[:PEAKS_PER_SURFACE]
    found = []
    for y, x in zip(ys[order], xs[order], strict=True):
        # Sub-pixel position: the centroid of the positive surface around the peak.
        y0, y1, x0, x1 = max(y - 1, 0), min(y + 2, height), max(x - 1, 0), min(x + 2, width)
        patch = np.maximum(surface[y0:y1, x0:x1], 0.0)
        centre_x = float(patch.sum(axis=0) @ np.arange(x0, x1)) / float(patch.sum()) - width // 2
        centre_y = float(patch.sum(axis=1) @ np.arange(y0, y1)) / float(patch.sum()) - height // 2
        # The surface peaks at B's offset back to A; the part moved the other way.
        found.append((float(surface[y, x]), np.float32([-centre_x, -centre_y])))
    return found


@lru_cache(maxsize=4)
def _window(width: int, height: int) -> np.ndarray:
    """The Hann window phase correlation weights a surface by (float32 H x W, read-only), built once per size."""
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    window.setflags(write=False)
    return window
