"""Model space: exact half round trips over the whole half range, anchors, and parity with OCIO."""

import numpy as np
import PyOpenColorIO as ocio
import pytest

from dreamplate.color.model_space import (
    HALF_MAX,
    ModelSpace,
    log_model_space,
)

ALL_HALVES = np.arange(65536, dtype=np.uint16).view(np.float16)
FINITE_HALVES = ALL_HALVES[np.isfinite(ALL_HALVES)]


def _round_trip_bits(model: ModelSpace, halves: np.ndarray) -> np.ndarray:
    """decode(encode(x)) rounded to half, as bit patterns (so -0 and +0 count as different)."""
    back = model.decode(model.encode(halves.astype(np.float32)))
    assert back.dtype == np.float32
    return back.astype(np.float16).view(np.uint16)


@pytest.mark.parametrize("peak", [HALF_MAX, 256.0, 1.0])
def test_every_finite_half_round_trips_exactly(peak):
    model = log_model_space(peak=peak)
    assert FINITE_HALVES.size == 63488
    mismatches = np.count_nonzero(_round_trip_bits(model, FINITE_HALVES) != FINITE_HALVES.view(np.uint16))
    assert mismatches == 0


def test_mixed_colour_triplets_round_trip_exactly():
    rng = np.random.default_rng(7)
    random = rng.choice(FINITE_HALVES, size=(200_000, 3))
    extremes = np.array([65504.0, -65504.0, 0.0, -0.0, 2.0**-24, -(2.0**-24), 2.0**-14, 0.18, 1.0], np.float16)
    # Every ordered triplet of extremes: a gamut matrix would leak 65504 into a denormal neighbour here.
    grid = np.stack(np.meshgrid(extremes, extremes, extremes, indexing="ij"), axis=-1).reshape(-1, 3)
    triplets = np.concatenate([random, grid]).reshape(-1, 1, 3)
    back = _round_trip_bits(log_model_space(), triplets)
    assert np.count_nonzero(back != triplets.view(np.uint16)) == 0


def test_log_ramp_of_float32_values_round_trips_within_2e_6():
    ramp = np.logspace(-15, 15, 10_001, base=2.0, dtype=np.float32)
    signed = np.concatenate([ramp, -ramp])
    model = log_model_space()
    relative = np.abs(model.decode(model.encode(signed)) - signed) / np.abs(signed)
    assert relative.max() < 2e-6


def test_anchor_values_of_the_default_curve():
    model = log_model_space()
    x = np.array([0.0, 2.0**-7, 0.18, 1.0, 65504.0], np.float32)
    np.testing.assert_allclose(model.encode(x), [0.0, 0.0590, 0.2442, 0.3454, 1.0], atol=1e-4)
    assert abs(float(model.encode(np.float32([65504.0]))[0]) - 1.0) < 1e-6


def test_every_finite_non_negative_half_encodes_into_unit_range():
    model = log_model_space()
    encoded = model.encode(FINITE_HALVES[FINITE_HALVES >= 0].astype(np.float32))
    assert encoded.min() == 0.0
    assert encoded.max() <= 1.0 + 1e-6


def test_large_negatives_stay_finite_on_the_linear_toe():
    model = log_model_space()
    encoded = model.encode(np.float32([-65504.0, -1.0, -(2.0**-24)]))
    assert np.all(np.isfinite(encoded))
    np.testing.assert_allclose(encoded, np.float32([-65504.0, -1.0, -(2.0**-24)]) * model.toe_slope, rtol=1e-6)
    assert -5e5 < encoded[0] < -4.9e5


def test_encode_is_strictly_increasing_over_finite_halves():
    ordered = np.unique(FINITE_HALVES.astype(np.float32))  # sorted, one zero
    encoded = log_model_space().encode(ordered)
    assert np.all(np.diff(encoded) > 0)


def test_toe_and_log_meet_without_a_jump():
    model = log_model_space()
    below, at, above = model.encode(np.float32([model.toe_break * (1 - 1e-6), model.toe_break, 0.0078126]))
    assert abs(at - model.encoded_break) < 1e-7
    assert 0 < at - below < 1e-7
    assert 0 < above - at < 1e-5


def test_inf_stays_inf_and_nan_stays_nan():
    model = log_model_space()
    special = np.float32([np.inf, -np.inf, np.nan])
    encoded = model.encode(special)
    assert encoded[0] == np.inf and encoded[1] == -np.inf and np.isnan(encoded[2])
    decoded = model.decode(encoded)
    assert decoded[0] == np.inf and decoded[1] == -np.inf and np.isnan(decoded[2])


def test_encode_takes_half_input_and_leaves_it_untouched():
    frame = np.full((4, 3, 3), 0.18, np.float16)
    encoded = log_model_space().encode(frame)
    assert encoded.dtype == np.float32 and encoded.shape == (4, 3, 3)
    assert np.all(frame == np.float16(0.18))


def test_ocio_log_camera_transform_matches_numpy_within_1e_6():
    model = log_model_space()
    ramp = np.concatenate([-np.logspace(-10, 16, 200, base=2.0), [0.0], np.logspace(-24, 16, 400, base=2.0)])
    pixels = np.repeat(ramp.astype(np.float32)[:, None], 3, axis=1).reshape(1, -1, 3)
    from_ocio = pixels.copy()
    ocio.Config.CreateRaw().getProcessor(model.ocio_transform()).getDefaultCPUProcessor().applyRGB(from_ocio)
    expected = model.encode(pixels)
    in_range = np.abs(expected) <= 1.0  # beyond, the toe's values grow and so does the float32 step
    assert np.abs(from_ocio - expected)[in_range].max() < 1e-6
    assert np.abs(from_ocio[~in_range] / expected[~in_range] - 1).max() < 1e-6


def test_non_default_curve_has_its_own_name_and_reaches_one_at_peak():
    model = log_model_space(peak=256.0)
    assert model.name == "dreamplate_log(peak=256,toe_break=0.0078125)"
    assert log_model_space().name == "dreamplate_log"
    assert abs(float(model.encode(np.float32([256.0]))[0]) - 1.0) < 1e-6


@pytest.mark.parametrize(("peak", "toe_break"), [(1.0, 2.0), (65504.0, 0.0), (65504.0, -1.0)])
def test_bad_curve_parameters_are_refused(peak, toe_break):
    with pytest.raises(ValueError, match="toe_break < peak"):
        log_model_space(peak=peak, toe_break=toe_break)


def test_log_model_space_satisfies_the_protocol():
    assert isinstance(log_model_space(), ModelSpace)
