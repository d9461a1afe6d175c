"""Plate <-> model boundary: geometry round trips, the encode/decode path, highlight restore, mattes."""

from pathlib import Path

import numpy as np
import pytest

from dreamplate.color.model_space import video_model_space
from dreamplate.errors import InputError, JobError
from dreamplate.gen.plate import (
    ModelGeometry,
    composite_with_matte,
    feather_alpha,
    fit_geometry,
    from_model,
    onto_plate,
    read_matte,
    to_model,
)
from dreamplate.io.exr import ExrImage, write_exr

SPACE = video_model_space()
SIZES = [(1000, 563), (97, 61), (2048, 858), (563, 1000), (1920, 1080)]


def _plate(width: int, height: int, frames: int = 2, seed: int = 0) -> np.ndarray:
    """Smooth scene-linear frames in [0, white] with fine noise on top: something to lose in a resize."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 0.5 + 0.4 * np.sin(x / 9.0)[..., None] * np.cos(y / 7.0)[..., None] * np.float32([1.0, 0.8, 0.6])
    noise = rng.normal(0, 0.02, (frames, height, width, 3)).astype(np.float32)
    return np.clip(base[None] + noise, 0.0, None).astype(np.float32)


@pytest.mark.parametrize("multiple", [16, 32])
@pytest.mark.parametrize("size", SIZES)
def test_geometry_sizes_are_multiples_and_keep_the_aspect(size, multiple):
    for geometry in (
        fit_geometry(size, multiple, target_size=(832, 480)),
        fit_geometry(size, multiple, max_area=832 * 480),
        fit_geometry(size, multiple),
    ):
        (cw, ch), (mw, mh) = geometry.content_size, geometry.model_size
        assert mw % multiple == 0 and mh % multiple == 0
        assert cw <= mw < cw + multiple and ch <= mh < ch + multiple
        assert abs(cw / ch - size[0] / size[1]) < 2.0 / min(cw, ch) * (size[0] / size[1]) + 1e-9
        assert all(p >= 0 for p in geometry.padding)
    assert np.prod(fit_geometry(size, multiple, max_area=832 * 480).model_size) <= 832 * 480
    target = fit_geometry(size, multiple, target_size=(832, 480)).model_size
    assert target[0] <= 832 and target[1] <= 480


def test_1080p_plate_into_wan_480p():
    geometry = fit_geometry((1920, 1080), 16, target_size=(832, 480))
    assert geometry.content_size == (832, 468) and geometry.model_size == (832, 480)
    assert geometry.padding == (0, 6, 0, 6)


@pytest.mark.parametrize("multiple", [16, 32])
@pytest.mark.parametrize("size", SIZES)
def test_unscaled_geometry_round_trip_is_exact(size, multiple):
    geometry = fit_geometry(size, multiple)
    frames = np.random.default_rng(1).random((1, size[1], size[0], 3), np.float32)
    model = geometry.to_model_frames(frames)
    assert model.shape == (1, geometry.model_size[1], geometry.model_size[0], 3)
    assert np.array_equal(geometry.from_model_frames(model), frames)


@pytest.mark.parametrize("size", [(1000, 563), (97, 61), (563, 1000)])
def test_scaled_geometry_round_trip_of_a_smooth_picture(size):
    geometry = fit_geometry(size, 16, target_size=(320, 320))
    y, x = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    smooth = (0.5 + 0.3 * np.sin(x / size[0] * 6) * np.cos(y / size[1] * 5))[None, ..., None]
    back = geometry.from_model_frames(geometry.to_model_frames(smooth))
    assert back.shape == smooth.shape
    assert np.abs(back - smooth).max() < 0.02


def test_padding_repeats_the_edge():
    geometry = ModelGeometry((3, 2), (3, 2), (16, 16), (6, 7))
    frame = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    model = geometry.to_model_frames(frame)
    assert model[0, 0, 0, 0] == 0.0 and model[0, -1, -1, 0] == 5.0


def test_to_model_values_are_in_unit_range_and_sized():
    plate = _plate(97, 61) * 40.0 - 1.0  # negatives and values far over white
    plate[0, 3, 3] = [np.nan, np.inf, -np.inf]
    geometry = fit_geometry((97, 61), 32, target_size=(64, 64))
    model = to_model(plate, geometry, SPACE)
    assert model.dtype == np.float32 and model.shape == (2, 64, 64, 3)
    assert model.min() >= 0.0 and model.max() <= 1.0 and np.isfinite(model).all()


@pytest.mark.parametrize("size", [(97, 61), (64, 48)])
def test_from_model_of_to_model_at_model_size_is_the_plate(size):
    plate = _plate(*size) * 6.0
    plate[0, 5, 5] = [16.0, 0.0, 1e-4]
    plate[1, 7, 9] = [-1e-3, 0.18, 1.0]  # small negatives come back too (the detail step)
    geometry = fit_geometry(size, 16)
    back = from_model(to_model(plate, geometry, SPACE), geometry, SPACE, plate)
    relative = np.abs(back - plate) / np.maximum(np.abs(plate), 1e-3)
    assert relative.max() < 1e-3


def test_from_model_at_a_lower_resolution_keeps_the_plate_detail():
    plate = _plate(200, 120) * 3.0
    geometry = fit_geometry((200, 120), 16, target_size=(96, 64))
    model = to_model(plate, geometry, SPACE)
    back = from_model(model, geometry, SPACE, plate)
    assert np.abs(back - plate).max() / plate.max() < 1e-4
    soft = from_model(model, geometry, SPACE, plate, detail_tolerance=None)
    assert np.abs(soft - plate).max() > 0.05  # without the detail step the noise is gone


def test_highlight_restore_keeps_a_500_highlight():
    plate = _plate(64, 48) * 0.5
    plate[:, 20:24, 30:34] = np.float32([500.0, 300.0, 0.5])  # R and G over white, B under it
    geometry = fit_geometry((64, 48), 16)
    back = from_model(to_model(plate, geometry, SPACE), geometry, SPACE, plate)
    np.testing.assert_allclose(back[:, 20:24, 30:34], plate[:, 20:24, 30:34], rtol=1e-3)
    assert back.max() == pytest.approx(500.0, rel=1e-4)


def test_highlight_restore_invents_nothing():
    plate = _plate(64, 48) * 0.5
    plate[:, 20:24, 30:34] = 500.0
    geometry = fit_geometry((64, 48), 16)
    model = to_model(plate, geometry, SPACE)
    model[:, 0:8, 0:8] = 1.0  # the model makes a new highlight where the plate had none
    model[:, 20:24, 30:34] = 0.6  # and darkens the plate's
    out = from_model(model, geometry, SPACE, plate)
    assert out[:, 0:8, 0:8].max() <= SPACE.white  # a new highlight stops at white
    assert out[:, 20:24, 30:34].max() == pytest.approx(float(SPACE.decode(np.float32([0.6]))[0]), rel=1e-5)


def test_highlight_restore_rises_smoothly_with_the_model_output():
    plate = np.full((1, 16, 16, 3), 500.0, np.float32)
    geometry = fit_geometry((16, 16), 16)
    levels = np.linspace(0.85, 1.0, 61, dtype=np.float32)
    outs = [from_model(np.full((1, 16, 16, 3), v, np.float32), geometry, SPACE, plate)[0, 0, 0, 0] for v in levels]
    assert np.all(np.diff(outs) > 0)
    assert outs[-1] == pytest.approx(500.0, rel=1e-4)


def test_non_finite_plate_pixels_give_a_finite_output():
    plate = _plate(32, 32)
    plate[0, 4, 4] = [np.nan, np.inf, -np.inf]
    geometry = fit_geometry((32, 32), 16)
    out = from_model(to_model(plate, geometry, SPACE), geometry, SPACE, plate)
    assert np.isfinite(out).all()


def _disc_matte(frames: int = 3, size: int = 64, radius: float = 20.0) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    disc = ((x - size / 2) ** 2 + (y - size / 2) ** 2 <= radius**2).astype(np.float32)
    return np.repeat(disc[None], frames, axis=0)


def test_matte_outside_is_the_plate_bit_for_bit_and_inside_is_generated():
    rng = np.random.default_rng(4)
    plate = rng.random((3, 64, 64, 4), np.float32) * 50
    plate[0, 0, 0] = [np.nan, np.inf, -0.0, 1e-8]
    generated = rng.random((3, 64, 64, 4), np.float32)
    matte = _disc_matte()
    out = composite_with_matte(generated, plate, matte, feather_px=4.0)
    outside = matte == 0
    assert np.array_equal(out[outside].view(np.uint32), plate[outside].view(np.uint32))
    alpha = feather_alpha(matte, 4.0)
    full = alpha == 1.0
    assert full.sum() > 500 and np.array_equal(out[full], generated[full])


def test_matte_edge_is_soft_and_monotone():
    matte = _disc_matte(frames=1)
    alpha = feather_alpha(matte, 6.0)[0]
    row = alpha[32, 32:]  # from the centre outwards
    assert np.all(np.diff(row) <= 0)
    soft = (alpha > 0) & (alpha < 1)
    assert soft.sum() > 100  # a ramp, not a step
    plate = np.zeros((1, 64, 64, 1), np.float32)
    out = composite_with_matte(np.ones_like(plate), plate, matte, 6.0)[0, 32, 32:, 0]
    assert np.all(np.diff(out) <= 0) and np.abs(np.diff(out)).max() < 0.35


def test_identical_mattes_give_identical_edges_and_temporal_smoothing_keeps_outside_exact():
    matte = _disc_matte(frames=4)
    matte[2] = _disc_matte(frames=1, radius=18.0)[0]  # one chattering frame
    alpha = feather_alpha(matte, 3.0)
    assert np.array_equal(alpha[0], alpha[1]) and np.array_equal(alpha[0], alpha[3])
    smoothed = feather_alpha(matte, 3.0, temporal_radius=1)
    assert np.all(smoothed[matte == 0] == 0)
    assert np.abs(smoothed[2] - smoothed[1]).max() < np.abs(alpha[2] - alpha[1]).max()


def test_full_frame_matte_has_no_edge_at_the_frame_border():
    alpha = feather_alpha(np.ones((1, 8, 8), np.float32), 4.0)
    assert np.all(alpha == 1.0)


def test_read_matte_from_exr_places_the_data_window_and_resizes(tmp_path: Path):
    mask = np.full((4, 6), 0.75, np.float32)
    image = ExrImage({"A": mask, "R": mask * 0}, {"A": "half", "R": "half"}, (2, 1, 7, 4), (0, 0, 9, 9))
    path = tmp_path / "matte.0001.exr"
    write_exr(path, image)
    matte = read_matte(path, (0, 0, 9, 9))
    assert matte.shape == (10, 10) and matte[1, 2] == 0.75 and matte[0, 0] == 0.0 and matte[4, 7] == 0.75
    assert read_matte(path, (0, 0, 9, 9), channel="R").max() == 0.0
    assert read_matte(path, (0, 0, 19, 19)).shape == (20, 20)
    with pytest.raises(InputError, match="matte.0001.exr: no channel 'mask'"):
        read_matte(path, (0, 0, 9, 9), channel="mask")


def test_onto_plate_keeps_overscan_and_alpha_and_drops_other_channels():
    ones = np.ones((4, 6), np.float32)
    plate = ExrImage({"Y": ones * 3, "A": ones * 0.5, "Z": ones}, {}, (-1, -1, 4, 2), (0, 0, 3, 1), {"owner": "x"})
    image = onto_plate(plate, np.full((2, 4, 3), 0.25, np.float32))
    assert sorted(image.channels) == ["A", "B", "G", "R"] and set(image.pixel_types.values()) == {"half"}
    assert (image.data_window, image.display_window, image.attributes) == (
        plate.data_window,
        plate.display_window,
        {"owner": "x"},
    )
    red = image.channels["R"]
    assert red[1:3, 1:5].tolist() == [[0.25] * 4] * 2  # the display window: generated
    assert red[0].tolist() == [3.0] * 6 and red[:, 0].tolist() == [3.0] * 4  # overscan: the plate's own (Y) pixels
    np.testing.assert_array_equal(image.channels["A"], plate.channels["A"])


def test_bad_geometry_settings_are_refused():
    with pytest.raises(JobError, match="target_size"):
        fit_geometry((100, 100), 32, target_size=(16, 480))
    with pytest.raises(JobError, match="pad_mode"):
        fit_geometry((100, 100), 16, pad_mode="wrap")
