"""Video model space: exact half round trips up to white, saturation above it, display-like anchors."""

import numpy as np
import pytest

from dreamplate.color.model_space import VIDEO_WHITE, ModelSpace, video_model_space

ALL_HALVES = np.arange(65536, dtype=np.uint16).view(np.float16)
FINITE_HALVES = ALL_HALVES[np.isfinite(ALL_HALVES)]


def _round_trip_bits(model, halves: np.ndarray) -> np.ndarray:
    back = model.decode(model.encode(halves.astype(np.float32)))
    assert back.dtype == np.float32
    return back.astype(np.float16).view(np.uint16)


@pytest.mark.parametrize("white", [VIDEO_WHITE, 1.0, 4.0, 100.0, 1024.0])
def test_every_half_up_to_white_round_trips_exactly(white):
    model = video_model_space(white)
    halves = FINITE_HALVES[FINITE_HALVES.astype(np.float32) <= white]  # negatives down to -65504 included
    assert halves.size > 30000
    mismatches = np.count_nonzero(_round_trip_bits(model, halves) != halves.view(np.uint16))
    assert mismatches == 0


def test_random_colour_triplets_up_to_white_round_trip_exactly():
    rng = np.random.default_rng(3)
    usable = FINITE_HALVES[(FINITE_HALVES >= -4) & (FINITE_HALVES <= VIDEO_WHITE)]
    triplets = rng.choice(usable, size=(4000, 50, 3))
    back = _round_trip_bits(video_model_space(), triplets)
    assert np.count_nonzero(back != triplets.view(np.uint16)) == 0


def test_half_range_in_zero_to_white_encodes_into_unit_range_and_is_monotone():
    model = video_model_space()
    values = np.unique(FINITE_HALVES[FINITE_HALVES >= 0].astype(np.float32))
    encoded = model.encode(values)
    assert encoded.min() == 0.0 and encoded.max() == 1.0
    below = values <= VIDEO_WHITE
    assert np.all(np.diff(encoded[below]) > 0)


def test_anchor_values_of_the_default_curve():
    model = video_model_space()
    x = np.float32([0.0, 0.18, 1.0, 4.0, 16.0])
    np.testing.assert_allclose(model.encode(x), [0.0, 0.4271, 0.7366, 0.9126, 1.0], atol=1e-4)
    assert model.decode(np.float32([1.0]))[0] == np.float32(16.0)


def test_above_white_saturates_at_exactly_one():
    model = video_model_space()
    encoded = model.encode(np.float32([16.0, 16.01, 500.0, 65504.0, np.inf]))
    assert np.all(encoded == 1.0)
    assert np.all(model.decode(encoded) == 16.0)


def test_small_negatives_stay_on_a_linear_toe_through_zero():
    model = video_model_space()
    x = np.float32([-1e-3, -1e-5, -0.0, 1e-5])
    encoded = model.encode(x)
    np.testing.assert_allclose(encoded[[0, 1, 3]], x[[0, 1, 3]] * 12.923, rtol=1e-3)
    assert np.signbit(encoded[2]) and np.signbit(model.decode(encoded)[2])


def test_curve_and_toe_meet_without_a_jump():
    model = video_model_space()
    eps = np.float32(1e-7)
    for x0 in (0.0, 0.0030399):
        lo, hi = model.encode(np.float32([x0 - eps, x0 + eps]))
        assert 0 < hi - lo < 5e-6


def test_nan_stays_nan():
    model = video_model_space()
    assert np.isnan(model.encode(np.float32([np.nan]))[0])
    assert np.isnan(model.decode(np.float32([np.nan]))[0])


def test_names_and_protocol():
    assert video_model_space().name == "dreamplate_video"
    assert video_model_space(64.0).name == "dreamplate_video(white=64)"
    assert isinstance(video_model_space(), ModelSpace)


@pytest.mark.parametrize("white", [0.5, 2048.0])
def test_bad_white_is_refused(white):
    with pytest.raises(ValueError, match="white must be in"):
        video_model_space(white)
