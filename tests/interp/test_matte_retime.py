"""Matte-separated retime (`--matte`, Kronos's Matte input): a subject crossing a panning background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from moving_plates import layers_at, write_moving_plate

from dreamplate.errors import InputError
from dreamplate.interp.matte_retime import LayerMotion, background_fill, composite
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
