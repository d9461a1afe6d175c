"""`dreamplate matte` end to end with the real U2-Netp weights, and the temporal filter that keeps it steady."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from subjects import SIZE, write_subject_plate
from typer.testing import CliRunner

from dreamplate.analyse.matte import MatteSettings, SubjectMattes, levels, run_matte
from dreamplate.analyse.plate import plate_picture
from dreamplate.analyse.spec import MatteSpec
from dreamplate.analyse.temporal import neighbours, steady_matte
from dreamplate.cli import app
from dreamplate.errors import InputError, ModelError
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.reading import read_source
from dreamplate.runtime.weights import PINNED


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _iou(matte: np.ndarray, truth: np.ndarray) -> float:
    a, b = matte > 0.5, truth > 0.5
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_cli_matte_writes_a_clean_half_matte_in_a_and_y(tmp_path: Path, analysis_models: list[Path]) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1001, 1005))
    result = _run("matte", plate, "-o", tmp_path / "out" / "m.####.exr")
    assert result.exit_code == 0, result.output
    assert "wrote 4 frames" in result.output and "u2netp on onnxruntime" in result.output
    source, image = read_exr(tmp_path / "in" / "plate.1002.exr"), read_exr(tmp_path / "out" / "m.1002.exr")
    assert set(image.channels) == {"A", "Y"} and set(image.pixel_types.values()) == {"half"}
    assert (image.data_window, image.display_window) == (source.data_window, source.display_window)
    assert "colorInteropID" not in image.attributes and "chromaticities" not in image.attributes  # data, not colour
    matte = image.channels["A"]
    np.testing.assert_array_equal(matte, image.channels["Y"])
    assert matte.min() == 0.0 and matte.max() == 1.0  # levelled: a clean outside and a solid core
    assert _iou(matte, source.channels["A"]) > 0.9  # the orange disc is the salient subject
    prov = Provenance.from_attributes(image.attributes)
    assert prov.operation == "matte" and prov.model == "u2netp" and prov.weights_sha256 == PINNED["u2netp"].sha256
    assert prov.parameters["temporal"] == 2 and prov.colorspace == "ACEScg"
    assert prov.sources == [str(tmp_path / "in" / f"plate.{f}.exr") for f in range(1001, 1005)]  # frames t-2..t+2
    again = _run("matte", plate, "-o", tmp_path / "out" / "m.####.exr")
    assert again.exit_code == 0 and "skipped 4 already written" in again.output, again.output


def test_invert_is_the_background_exactly(tmp_path: Path, analysis_models: list[Path]) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 4))
    run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "s.####.exr")))
    run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "b.####.exr"), invert=True))
    for frame in (1, 2, 3):
        subject = read_exr(tmp_path / f"s.{frame:04d}.exr").channels["A"]
        background = read_exr(tmp_path / f"b.{frame:04d}.exr").channels["A"]
        # Equal before the half rounding of the file: within half a step of half below 1.0 (2^-12).
        np.testing.assert_allclose(background, 1.0 - subject, rtol=0, atol=2**-12)
        assert ((subject == 0.0) == (background == 1.0)).all()


def test_the_matte_covers_the_plate_data_window(tmp_path: Path, analysis_models: list[Path]) -> None:
    """Overscan: the network sees the data window and the matte is written on it, display window kept."""
    plate = write_subject_plate(tmp_path / "in", range(1, 3))
    for frame in (1, 2):
        path = tmp_path / "in" / f"plate.{frame:04d}.exr"
        image = read_exr(path)
        data = (-8, -4, SIZE[0] + 7, SIZE[1] + 3)
        padded = {n: np.pad(c, ((4, 4), (8, 8)), mode="edge") for n, c in image.channels.items()}
        write_exr(path, ExrImage(padded, image.pixel_types, data, image.display_window, image.attributes))
    run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "m.####.exr")))
    out = read_exr(tmp_path / "m.0001.exr")
    assert out.data_window == (-8, -4, SIZE[0] + 7, SIZE[1] + 3)
    assert out.display_window == (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    assert out.channels["A"].shape == (SIZE[1] + 8, SIZE[0] + 16)


def test_temporal_filter_calms_a_still_subject_under_a_moving_background(analysis_models: list[Path]) -> None:
    """Flicker: mean frame-to-frame matte change. Measured 0.00080 per frame unfiltered, 0.00029 with r = 2."""
    from subjects import subject_frame

    frames = range(8)
    images = {}
    for index in frames:
        rgb, _ = subject_frame(index)
        box = (0, 0, SIZE[0] - 1, SIZE[1] - 1)
        images[index] = ExrImage({c: rgb[..., i] for i, c in enumerate("RGB")}, {}, box, box)
    picture = plate_picture(None, {}, "ACEScg")
    flicker = {}
    for radius in (0, 2):
        mattes = SubjectMattes(images.__getitem__, picture, list(frames), MatteSettings(temporal=radius))
        stack = np.stack([mattes.matte(f) for f in frames])
        flicker[radius] = float(np.abs(np.diff(stack, axis=0)).mean())
    assert flicker[2] < 0.6 * flicker[0], flicker


def test_temporal_filter_does_not_drag_a_moving_subject(tmp_path: Path, analysis_models: list[Path]) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 7), moving=True)
    ious = {}
    for radius in (0, 2):
        run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / f"r{radius}" / "m.####.exr"), temporal=radius))
        ious[radius] = min(
            _iou(
                read_exr(tmp_path / f"r{radius}" / f"m.{f:04d}.exr").channels["A"],
                read_exr(tmp_path / "in" / f"plate.{f:04d}.exr").channels["A"],
            )
            for f in range(1, 7)
        )
    assert ious[2] >= ious[0] - 0.01 and ious[2] > 0.9, ious


def test_a_chunk_writes_the_same_frames_as_the_whole_run(tmp_path: Path, analysis_models: list[Path]) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 7))
    run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "all" / "m.####.exr")))
    run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "chunk" / "m.####.exr")), only_frames=[4, 5])
    assert sorted(p.name for p in (tmp_path / "chunk").iterdir()) == ["m.0004.exr", "m.0005.exr"]
    for frame in (4, 5):
        whole = read_exr(tmp_path / "all" / f"m.{frame:04d}.exr").channels["A"]
        np.testing.assert_array_equal(read_exr(tmp_path / "chunk" / f"m.{frame:04d}.exr").channels["A"], whole)


def test_steady_matte_averages_where_still_and_keeps_its_own_where_moving() -> None:
    still = np.full((8, 24, 3), 0.5, np.float32)
    moved = still.copy()
    moved[:, 12:] = 0.9  # the right half of the picture changed between the frames
    mattes = {0: np.zeros((8, 24), np.float32), 1: np.ones((8, 24), np.float32)}
    out = steady_matte(0, mattes, {0: still, 1: moved}, [0, 1], tolerance=0.05)
    np.testing.assert_allclose(out[:, :8], 0.5, atol=1e-6)  # still: the mean of the two mattes
    assert out[:, 16:].max() < 1e-6  # moving: frame 0's own matte
    np.testing.assert_array_equal(steady_matte(0, mattes, {0: still}, [0], 0.05), mattes[0])
    assert neighbours(3, [1, 2, 3, 4], 2) == [1, 2, 3, 4] and neighbours(1, [1, 2, 3, 4], 1) == [1, 2]


def test_levels_give_exact_zero_and_one() -> None:
    out = levels(np.array([0.0, 0.05, 0.5, 0.95, 1.0], np.float32), 0.05, 0.95)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-6)
    assert out[0] == 0.0 and out[-1] == 1.0


def test_spec_names_the_bad_option() -> None:
    with pytest.raises(ValueError, match="clip-black"):
        MatteSpec(inputs=["p.####.exr"], output="m.####.exr", clip_black=0.9, clip_white=0.5)
    with pytest.raises(ValueError, match="temporal"):
        MatteSpec(inputs=["p.####.exr"], output="m.####.exr", temporal=-1)


def test_missing_weights_are_one_error_before_any_file(tmp_path: Path) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 3))
    with pytest.raises(ModelError, match="dreamplate models pull u2netp"):
        run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "out" / "m.####.exr")))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_output_over_an_input_is_refused(tmp_path: Path) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 3))
    with pytest.raises(InputError, match="would overwrite an input"):
        run_matte(MatteSpec(inputs=[plate], output=plate))


def test_mattes_read_each_plate_frame_once(analysis_models: list[Path], tmp_path: Path) -> None:
    write_subject_plate(tmp_path / "in", range(1, 7))
    reads: list[int] = []

    def read(frame: int) -> ExrImage:
        reads.append(frame)
        return read_source(tmp_path / "in" / f"plate.{frame:04d}.exr", None, None)

    mattes = SubjectMattes(read, plate_picture(None, {}, "ACEScg"), list(range(1, 7)), MatteSettings())
    for frame in range(1, 7):
        mattes.image(frame)
    assert reads == list(range(1, 7))
