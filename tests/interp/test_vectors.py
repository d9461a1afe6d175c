"""Motion vectors out (`--vectors`, `dreamplate vectors`): Nuke's channel names, units and signs, and resume."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from moving_plates import write_moving_plate
from plates import half_bits, write_plate

from dreamplate.errors import InputError
from dreamplate.interp.retime import run_interpolate, run_vectors
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.interp.vectors import VECTOR_CHANNELS, VectorsSpec, nuke_channels, rows_down
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.io.raster import write_raster

SIZE = (128, 96)
STEP = (3.0, 2.0)  # px a frame: right and down the picture


def _translating_plate(folder: Path, frames=range(1, 4)) -> str:
    """Smooth noise moving STEP px a frame (whole pixels, so every frame is exact), tagged ACEScg."""
    folder.mkdir(parents=True, exist_ok=True)
    width, height = SIZE
    noise = np.random.default_rng(0).random((height + 40, width + 40), dtype=np.float32)
    texture = cv2.GaussianBlur(noise, (0, 0), 2.0) * 2.0
    window = (0, 0, width - 1, height - 1)
    for index, frame in enumerate(frames):
        dx, dy = int(STEP[0] * index), int(STEP[1] * index)
        image = texture[20 - dy : 20 - dy + height, 20 - dx : 20 - dx + width]
        channels = {"R": image, "G": image * 0.5, "B": image * 0.25}
        exr = ExrImage(channels, dict.fromkeys(channels, "half"), window, window, {"colorInteropID": "lin_ap1_scene"})
        write_exr(folder / f"p.{frame:04d}.exr", exr)
    return str(folder / "p.####.exr")


def _inner(channel: np.ndarray) -> np.ndarray:
    return channel[20:-20, 20:-20]


def test_nuke_channels_flip_v_for_y_up_and_round_trip() -> None:
    down_right = np.zeros((2, 3, 2), np.float32)
    down_right[..., 0], down_right[..., 1] = 4.0, 1.5  # 4 px right, 1.5 rows down the picture
    channels = nuke_channels(down_right, -down_right)
    assert tuple(channels) == VECTOR_CHANNELS == ("forward.u", "forward.v", "backward.u", "backward.v")
    assert np.all(channels["forward.u"] == 4.0) and np.all(channels["forward.v"] == -1.5)  # Nuke's y grows upward
    assert np.all(channels["backward.u"] == -4.0) and np.all(channels["backward.v"] == 1.5)
    np.testing.assert_array_equal(rows_down(channels["forward.u"], channels["forward.v"]), down_right)


def test_a_known_translation_gives_the_known_vectors_and_keeps_the_pixels(tmp_path: Path) -> None:
    plate = _translating_plate(tmp_path / "in")
    result = run_vectors(VectorsSpec(inputs=[plate], output=str(tmp_path / "v" / "v.####.exr"), method="flow"))
    assert [p.name for p in result.written] == ["v.0001.exr", "v.0002.exr", "v.0003.exr"]
    for frame in (1, 2, 3):
        out = read_exr(tmp_path / "v" / f"v.{frame:04d}.exr")
        source = read_exr(tmp_path / "in" / f"p.{frame:04d}.exr")
        assert set(out.channels) == {"R", "G", "B", *VECTOR_CHANNELS}
        for name in ("R", "G", "B"):  # the plate itself passes through bit for bit
            np.testing.assert_array_equal(half_bits(out.channels[name]), half_bits(source.channels[name]))
        expected = {"forward.u": STEP[0], "forward.v": -STEP[1], "backward.u": -STEP[0], "backward.v": STEP[1]}
        for name, value in expected.items():
            assert np.median(_inner(out.channels[name])) == pytest.approx(value, abs=0.05), (frame, name)
        provenance = Provenance.from_attributes(out.attributes)
        assert provenance is not None and provenance.operation == "vectors"


def test_written_vectors_warp_each_neighbour_onto_the_frame(tmp_path: Path) -> None:
    """Frame 2's backward vectors applied to frame 1 rebuild frame 2 (and forward ones, frame 3), as Nuke reads them."""
    plate = _translating_plate(tmp_path / "in")
    run_vectors(VectorsSpec(inputs=[plate], output=str(tmp_path / "v" / "v.####.exr"), method="flow"))
    middle = read_exr(tmp_path / "v" / "v.0002.exr").channels
    target = middle["R"].astype(np.float32)
    for neighbour, (u, v) in ((1, ("backward.u", "backward.v")), (3, ("forward.u", "forward.v"))):
        image = read_exr(tmp_path / "in" / f"p.{neighbour:04d}.exr").channels["R"].astype(np.float32)
        move = rows_down(middle[u].astype(np.float32), middle[v].astype(np.float32))
        grid = np.dstack(np.meshgrid(np.arange(SIZE[0]), np.arange(SIZE[1]))).astype(np.float32)
        warped = cv2.remap(image, grid + move, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        assert np.abs(_inner(warped) - _inner(target)).mean() < 0.01 * target.mean()


def test_retime_vectors_are_the_motion_between_output_frames(tmp_path: Path) -> None:
    plate, _ = write_moving_plate(tmp_path / "in", subject=(12.0, 0.0), pan=(-4.0, 0.0))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2, vectors=True)
    run_interpolate(spec)
    for frame in range(1, 6):
        channels = read_exr(tmp_path / "o" / f"o.{frame:04d}.exr").channels
        assert set(VECTOR_CHANNELS) <= set(channels)
        # Half speed: the background pans 2 px between output frames, in pixels of the output.
        background = channels["forward.u"][:, -24:]
        assert np.median(background) == pytest.approx(-2.0, abs=0.1), frame
        assert np.median(channels["backward.u"][:, -24:]) == pytest.approx(2.0, abs=0.1), frame
        # The subject moves 6 px between output frames, over its 20 x 20 px square (rows 30-49).
        left = 22 + 6 * (frame - 1)
        subject = channels["forward.u"][34:46, left + 4 : left + 16]
        assert np.median(subject) == pytest.approx(6.0, abs=0.3), frame
        assert np.median(np.abs(channels["forward.v"])) < 0.1


def test_a_rerun_resumes_and_other_settings_rerender(tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4))
    out = str(tmp_path / "v" / "v.####.exr")
    first = run_vectors(VectorsSpec(inputs=[plate], output=out, method="flow"))
    assert len(first.written) == 3
    (tmp_path / "v" / "v.0002.exr").unlink()
    again = run_vectors(VectorsSpec(inputs=[plate], output=out, method="flow"))
    assert [p.name for p in again.written] == ["v.0002.exr"] and len(again.skipped) == 2
    # A plain retime to the same names is another picture (no vectors): every frame is made again.
    plain = run_interpolate(InterpolateSpec(inputs=[plate], output=out, factor=1, method="flow"))
    assert len(plain.written) == 3


def test_vectors_op_end_to_end_through_the_cli(tmp_path: Path) -> None:
    plate = _translating_plate(tmp_path / "in")
    out = tmp_path / "v" / "v.####.exr"
    command = [sys.executable, "-m", "dreamplate.cli", "vectors", plate, "-o", str(out), "--method", "flow"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "wrote 3 frames" in run.stdout
    channels = read_exr(tmp_path / "v" / "v.0002.exr").channels
    assert np.median(_inner(channels["forward.u"])) == pytest.approx(STEP[0], abs=0.05)
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "skipped 3 already written" in again.stdout


def test_vectors_need_exr_outputs(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for frame in (1, 2):
        write_raster(tmp_path / "in" / f"p.{frame:04d}.png", np.full((16, 24, 3), 0.5, np.float32), 8)
    plate = str(tmp_path / "in" / "p.####.png")
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.png"), vectors=True)
    with pytest.raises(InputError, match="--vectors"):
        run_interpolate(spec)
    assert not (tmp_path / "o").exists()


def test_the_learned_method_blurs_and_writes_vectors_from_its_own_motion(rife_models, tmp_path: Path) -> None:
    plate, matte = write_moving_plate(tmp_path / "in", subject=(12.0, 0.0))
    spec = InterpolateSpec(
        inputs=[plate],
        output=str(tmp_path / "o" / "o.####.exr"),
        factor=2,
        method="learned",
        shutter=180.0,
        shutter_samples=4,
        vectors=True,
    )
    run_interpolate(spec)
    middle = read_exr(tmp_path / "o" / "o.0002.exr")
    provenance = Provenance.from_attributes(middle.attributes)
    assert provenance is not None and provenance.method == "learned" and provenance.parameters["shutter"] == 180.0
    left = 22 + 6  # the subject's square at source time 0.5
    assert np.median(middle.channels["forward.u"][34:46, left + 4 : left + 16]) == pytest.approx(6.0, abs=0.5)
    assert np.median(np.abs(middle.channels["forward.u"][:, -24:])) < 0.2  # the background stands still
    red = middle.channels["R"].astype(np.float32)
    assert 20.0 < red.max() <= 50.0 and np.isfinite(red).all()  # the highlight moved and streaked, never clipped
    separated = spec.model_copy(update={"matte": matte, "output": str(tmp_path / "m" / "o.####.exr")})
    assert len(run_interpolate(separated).written) == 5
