from __future__ import annotations

import numpy as np
import pytest
from squares import square_over_texture

from dreamplate.interp.retime import linear_motion_signal
from dreamplate.interp.translations import shifted, translated_difference, translations
from dreamplate.interp.warp import photo_difference, remap


def test_a_still_frame_gives_no_motion_first() -> None:
    a, _, _ = square_over_texture(16, 0, 1.0)
    found = translations(linear_motion_signal(a), linear_motion_signal(a))
    np.testing.assert_allclose(found[0], [0.0, 0.0], atol=1e-3)


@pytest.mark.parametrize(("size", "shift"), [(32, 48), (24, 32), (16, 16)])
def test_a_small_subject_moving_further_than_its_size_is_found(size: int, shift: int) -> None:
    # The square moves `shift` px right and a quarter of that down: both its translation and the still ground's
    # are among the candidates, to a quarter of a pixel, though the square covers under 1% of the frame.
    a, b, _ = square_over_texture(size, shift, 3.0)
    found = translations(linear_motion_signal(a), linear_motion_signal(b))
    assert len(found) <= 4
    for motion in ([0.0, 0.0], [shift, shift // 4]):
        assert min(float(np.hypot(*(d - np.float32(motion)))) for d in found) < 0.25, found


def test_a_frame_smaller_than_a_tile_is_correlated_whole() -> None:
    rng = np.random.default_rng(0)
    ground = rng.random((90, 100, 3)).astype(np.float32)
    moved = np.roll(ground, (3, -5), axis=(0, 1))
    found = translations(ground[10:80, 10:90], moved[10:80, 10:90])
    np.testing.assert_allclose(found[0], [-5.0, 3.0], atol=0.25)


def test_shifted_samples_as_remap_does_for_a_constant_displacement() -> None:
    rng = np.random.default_rng(1)
    img = rng.random((40, 50, 3)).astype(np.float32)
    d = np.float32([3.25, -1.5])
    field = np.broadcast_to(d, (40, 50, 2)).astype(np.float32)
    np.testing.assert_allclose(shifted(img, d), remap(img, field, nearest=False), atol=1e-5)


def test_translated_difference_is_the_photo_difference_of_that_motion() -> None:
    rng = np.random.default_rng(2)
    a, b = (rng.random((30, 40, 3)).astype(np.float32) for _ in range(2))
    d, t = np.float32([6.0, 2.0]), 0.25
    to_a = np.broadcast_to(-t * d, (30, 40, 2)).astype(np.float32)
    to_b = np.broadcast_to((1 - t) * d, (30, 40, 2)).astype(np.float32)
    np.testing.assert_allclose(translated_difference(a, b, d, t), photo_difference(a, to_a, b, to_b), atol=1e-5)
