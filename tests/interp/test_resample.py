"""Resampling along the motion: cubic and lanczos held to their neighbours' range, and the adaptive choice per pixel."""

from __future__ import annotations

import numpy as np
import pytest

from dreamplate.interp.warp import blend_warped, remap, remap_sharp

H, W = 48, 64


def _texture(shift: float) -> np.ndarray:
    """Clean, band-limited detail (periods of 3.3 to 9 px) seen `shift` px to the right; RGB float32."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    x = x - shift
    luma = 0.5 + 0.2 * np.sin(2 * np.pi * x / 3.3) + 0.15 * np.sin(2 * np.pi * (x + 2 * y) / 7.0)
    luma += 0.1 * np.cos(2 * np.pi * y / 9.0)
    return np.repeat(luma[..., None], 3, axis=2).astype(np.float32)


def _inbetween(a: np.ndarray, b: np.ndarray, resample: str) -> np.ndarray:
    """The half-way frame of a 1.5 px pan to the right: A's samples 0.75 px right of each pixel, B's 0.75 left."""
    to_a = np.zeros((H, W, 2), np.float32)
    to_a[..., 0] = -0.75
    weight = np.full((H, W), 0.5, np.float32)
    static = np.zeros((H, W), bool)
    return blend_warped(a, b, to_a, -to_a, weight, np.zeros(3, bool), static, resample)


def _error(out: np.ndarray, truth: np.ndarray) -> float:
    inner = (slice(8, -8), slice(8, -8))  # away from the replicated border
    return float(np.sqrt(np.mean((out[inner] - truth[inner]) ** 2)))


@pytest.mark.parametrize("kernel", ["cubic", "lanczos"])
def test_sharp_kernels_give_an_integer_shift_back_exactly(kernel: str) -> None:
    img = np.random.default_rng(0).uniform(-1.0, 40.0, (H, W, 5)).astype(np.float32)
    shift = np.zeros((H, W, 2), np.float32)
    shift[..., 0], shift[..., 1] = 3.0, -2.0
    out = remap_sharp(img, shift, kernel)
    np.testing.assert_array_equal(out[2:, : W - 3], img[: H - 2, 3:])


@pytest.mark.parametrize("kernel", ["cubic", "lanczos"])
def test_sharp_kernels_never_ring_past_their_neighbours(kernel: str) -> None:
    img = np.zeros((H, W, 3), np.float32)
    img[:, W // 2 :] = 50.0  # a highlight's edge against black, scene-linear
    shift = np.full((H, W, 2), 0.5, np.float32)
    out = remap_sharp(img, shift, kernel)
    assert out.min() == 0.0 and out.max() == 50.0
    plain = remap(img, shift, nearest=False)
    assert np.count_nonzero((out > 0) & (out < 50)) == np.count_nonzero((plain > 0) & (plain < 50))


def test_adaptive_keeps_clean_detail_that_bilinear_softens() -> None:
    a, b, truth = _texture(-0.75), _texture(0.75), _texture(0.0)
    bilinear = _error(_inbetween(a, b, "bilinear"), truth)
    for sharp in ("cubic", "lanczos", "adaptive"):
        assert _error(_inbetween(a, b, sharp), truth) < 0.5 * bilinear, sharp


def test_adaptive_stays_bilinear_where_grain_differs_between_the_frames() -> None:
    rng = np.random.default_rng(1)
    flat = np.full((H, W, 3), 0.4, np.float32)
    a = flat + rng.normal(0.0, 0.05, flat.shape).astype(np.float32)
    b = flat + rng.normal(0.0, 0.05, flat.shape).astype(np.float32)
    bilinear = _error(_inbetween(a, b, "bilinear"), flat)
    assert _error(_inbetween(a, b, "cubic"), flat) > 1.1 * bilinear  # cubic keeps the grain
    assert _error(_inbetween(a, b, "adaptive"), flat) == pytest.approx(bilinear, rel=0.02)


def test_an_unknown_resampler_is_refused() -> None:
    with pytest.raises(ValueError, match="resample must be one of"):
        _inbetween(_texture(0.0), _texture(0.0), "sinc")
