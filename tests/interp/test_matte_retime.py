"""Matte-separated retime (`--matte`, Kronos's Matte input): a subject crossing a panning background."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from moving_plates import layers_at, write_moving_plate

from dreamplate.errors import InputError
from dreamplate.interp.matte_retime import LayerMotion, background_fill, composite, split_layers
from dreamplate.interp.retime import run_interpolate
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.io.exr import ExrImage, read_exr, write_exr

SIZE = (128, 80)
SUBJECT, PAN = (12.0, 0.0), (-6.0, 0.0)


def _errors(out: Path, spec_settings: dict, plate: str) -> list[float]:
    """Mean absolute error (capped at 1 per pixel) of the two in-betweens against the exact frames."""
    spec = InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), factor=2, method="flow", **spec_settings)
    run_interpolate(spec)
    errors = []
    for frame, time in ((2, 0.5), (4, 1.5)):
        truth = layers_at(time, SIZE, SUBJECT, PAN)[0][..., 0]
        image = read_exr(out / f"o.{frame:04d}.exr").channels["R"]
        errors.append(float(np.minimum(np.abs(image - truth), 1.0)[8:-8, 16:-16].mean()))
    return errors


def test_a_subject_over_a_pan_is_retimed_without_dragging_the_background(tmp_path: Path) -> None:
    plate, matte = write_moving_plate(tmp_path / "in", size=SIZE, subject=SUBJECT, pan=PAN)
    plain = _errors(tmp_path / "plain", {}, plate)
    separated = _errors(tmp_path / "matte", {"matte": matte}, plate)
    for one, other in zip(separated, plain, strict=True):
        assert one < other / 3.0  # measured about 10x lower


def _edge_band(matte: np.ndarray) -> np.ndarray:
    """The subject's soft edge and 4 px around it: where a layer's colour is mixed or revealed."""
    return (cv2.dilate((matte > 0.01).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & (matte <= 0.99)


def _band_error(out: Path, frame: int, time: float, feather: float) -> float:
    truth, matte = layers_at(time, SIZE, SUBJECT, PAN, feather=feather)
    image = read_exr(out / f"o.{frame:04d}.exr").channels["R"]
    return float(np.minimum(np.abs(image - truth[..., 0]), 1.0)[_edge_band(matte)].mean())


def _moving(shape: tuple[int, int], shift: tuple[float, float] = (0.0, 0.0)) -> LayerMotion:
    """A layer moving `shift` px per pair, seen from the middle of the pair."""
    half = np.broadcast_to(np.float32(shift) / 2, (*shape, 2))
    return LayerMotion(-half, half)


@pytest.mark.parametrize("feather", [1.5, 3.0])
def test_a_feathered_subjects_edge_moves_with_it_instead_of_staying_with_the_background(feather: float) -> None:
    """The mixed pixels of a soft matte were split as pixel x matte and a background filled from every pixel's share
    of it, so the subject's colour in them stayed with the pan (0.026 and 0.031 here, now 0.004 and 0.005)."""
    a, matte_a = layers_at(0.0, SIZE, SUBJECT, PAN, feather=feather)
    b, matte_b = layers_at(1.0, SIZE, SUBJECT, PAN, feather=feather)
    truth, matte = layers_at(0.5, SIZE, SUBJECT, PAN, feather=feather)
    shape = matte.shape
    out, cover = composite(a, b, matte_a, matte_b, 0.5, _moving(shape, SUBJECT), _moving(shape, PAN), np.zeros(3, bool))
    assert np.minimum(np.abs(out - truth), 1.0)[..., 0][_edge_band(matte)].mean() < 0.01
    np.testing.assert_allclose(cover, matte, atol=1e-5)


def test_a_soft_matte_splits_the_plate_into_layers_that_composite_back_to_it() -> None:
    plate, matte = layers_at(0.0, SIZE, SUBJECT, PAN, feather=3.0)
    front, back = split_layers(plate, matte)
    np.testing.assert_allclose(front + (1.0 - matte[..., None]) * back, plate, rtol=1e-6, atol=1e-7)
    alone = matte == 0.0
    np.testing.assert_array_equal(back[alone], plate[alone])  # the background's own pixels, untouched
    out, _ = composite(plate, plate, matte, matte, 0.5, _moving(matte.shape), _moving(matte.shape), np.zeros(3, bool))
    np.testing.assert_allclose(out, plate, rtol=1e-6, atol=1e-7)


def test_a_bright_subjects_faint_feather_is_not_left_in_the_background() -> None:
    """Pixels the matte counts as background alone (up to 0.05 of subject) kept their share of a 20.0 subject, 0.6
    over a 0.05 background at 3%, and the background layer carried it off with the pan (found on MtTamWest)."""
    yy, xx = np.mgrid[0:80, 0:128].astype(np.float32)
    matte = cv2.GaussianBlur((np.hypot(xx - 64, yy - 40) < 16).astype(np.float32), (0, 0), 3.0)
    background = 0.05 + 0.02 * np.sin(xx * 0.3)[..., None] * np.ones(3, np.float32)
    plate = (20.0 * matte[..., None] + background * (1.0 - matte[..., None])).astype(np.float32)
    _, back = split_layers(plate, matte)
    faint = (matte > 0.01) & (matte <= 0.05)
    assert np.abs(back[faint] - background[faint]).max() < 1e-3  # the pixel itself is up to 0.95 off


def test_a_feathered_subject_over_a_pan_is_retimed_better_with_its_matte(tmp_path: Path) -> None:
    """Before the soft edge moved with the subject, the matte made this plate's edges worse than none."""
    plate, matte = write_moving_plate(tmp_path / "in", size=SIZE, subject=SUBJECT, pan=PAN, feather=1.5)
    for name, settings in (("plain", {}), ("matte", {"matte": matte})):
        out = str(tmp_path / name / "o.####.exr")
        run_interpolate(InterpolateSpec(inputs=[plate], output=out, factor=2, method="flow", **settings))
    for frame, time in ((2, 0.5), (4, 1.5)):
        separated = _band_error(tmp_path / "matte", frame, time, 1.5)
        assert separated < _band_error(tmp_path / "plain", frame, time, 1.5) / 1.5  # measured 0.0045 against 0.011


def test_matte_vectors_carry_each_layers_motion(tmp_path: Path) -> None:
    plate, matte = write_moving_plate(tmp_path / "in", size=SIZE, subject=SUBJECT, pan=PAN)
    spec = InterpolateSpec(
        inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2, matte=matte, vectors=True
    )
    run_interpolate(spec)
    channels = read_exr(tmp_path / "o" / "o.0002.exr").channels
    left = 22 + 6  # the subject's square at output frame 2 (source time 0.5)
    assert np.median(channels["forward.u"][34:46, left + 4 : left + 16]) == pytest.approx(6.0, abs=0.2)
    assert np.median(channels["forward.u"][:, -24:]) == pytest.approx(-3.0, abs=0.1)


def test_background_fill_keeps_the_background_and_composite_is_exact_without_motion() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((32, 48, 2), dtype=np.float32) * 40.0
    matte = np.zeros((32, 48), np.float32)
    matte[8:20, 10:30] = 1.0
    filled = background_fill(a, matte)
    np.testing.assert_array_equal(filled[matte == 0], a[matte == 0])
    still = LayerMotion(np.zeros((32, 48, 2), np.float32), np.zeros((32, 48, 2), np.float32))
    out, cover = composite(a, a, matte, matte, 0.5, still, still, np.array([False, True]))
    np.testing.assert_array_equal(out, a)  # a hard matte: subject and background each exactly themselves
    np.testing.assert_array_equal(cover, matte)


def test_a_matte_of_another_size_fails_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    plate, _ = write_moving_plate(tmp_path / "in", size=SIZE)
    window = (0, 0, 63, 39)
    small = ExrImage({"A": np.ones((40, 64), np.float32)}, {"A": "half"}, window, window)
    (tmp_path / "small").mkdir()
    for frame in (1, 2, 3):
        write_exr(tmp_path / "small" / f"m.{frame:04d}.exr", small)
    spec = InterpolateSpec(
        inputs=[plate],
        output=str(tmp_path / "o" / "o.####.exr"),
        factor=2,
        matte=str(tmp_path / "small" / "m.####.exr"),
    )
    with pytest.raises(InputError, match=r"--matte .*m\.0001\.exr: display window \(0, 0, 63, 39\) differs") as info:
        run_interpolate(spec)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "o").exists()


def test_a_matte_missing_a_frame_fails_before_any_work(tmp_path: Path) -> None:
    plate, matte = write_moving_plate(tmp_path / "in", size=SIZE)
    (tmp_path / "in" / "matte.0002.exr").unlink()
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2, matte=matte)
    with pytest.raises(InputError, match="matte.####.exr: frame 2 missing"):
        run_interpolate(spec)
    assert not (tmp_path / "o").exists()


def test_a_matte_needs_a_sequence(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--matte needs a sequence pattern"):
        InterpolateSpec(inputs=["a.exr", "b.exr"], output=str(tmp_path / "m.exr"), matte="m.####.exr")
