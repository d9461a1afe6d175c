"""Writing output frames: a source passed through bit for bit, a new frame with its source's header."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from plates import half_bits

from dreamplate.color.ocio import load_config, resolve_input_space
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.writing import FrameWriter

DATA, DISPLAY = (-1, -1, 4, 2), (0, 0, 3, 1)
VALUES = np.array([[-2.0, 0.0, 0.18, 1.0, 64.0, 65504.0], [np.nan, np.inf, -np.inf, -0.0, 6.1e-5, 1e-7]] * 2)
PROVENANCE = Provenance(operation="relight", method="passthrough", parameters={"seed": 0})


@pytest.fixture(scope="module")
def writer() -> FrameWriter:
    cfg = load_config()
    return FrameWriter(cfg, resolve_input_space(cfg, {"colorInteropID": "lin_ap1_scene"}))


@pytest.fixture
def source(tmp_path: Path) -> ExrImage:
    channels = {"R": VALUES.astype(np.float32), "Z": np.ones((4, 6), np.float32), "id": np.full((4, 6), 7, np.uint32)}
    image = ExrImage(channels, {"R": "half", "Z": "float", "id": "uint"}, DATA, DISPLAY, {"owner": "x"})
    write_exr(tmp_path / "src.exr", image)
    return read_exr(tmp_path / "src.exr")


def test_passthrough_keeps_every_channel_bit_for_bit(tmp_path: Path, writer: FrameWriter, source: ExrImage) -> None:
    writer.passthrough(tmp_path / "out.exr", source, PROVENANCE)
    out = read_exr(tmp_path / "out.exr")
    np.testing.assert_array_equal(half_bits(out.channels["R"]), half_bits(source.channels["R"]))  # NaN and Inf included
    np.testing.assert_array_equal(out.channels["id"], source.channels["id"])
    assert out.pixel_types == {"R": "half", "Z": "half", "id": "uint"}
    assert (out.data_window, out.display_window) == (DATA, DISPLAY)
    assert out.attributes["owner"] == "x" and out.attributes["colorInteropID"] == "lin_ap1_scene"
    assert Provenance.from_attributes(out.attributes).method == "passthrough"


def test_float_output_and_a_new_rate(tmp_path: Path, writer: FrameWriter, source: ExrImage) -> None:
    retimed = FrameWriter(writer.cfg, writer.space, pixel_type="float", fps=60.0)
    retimed.write(tmp_path / "out.exr", source, PROVENANCE, keep_timecode=False)
    out = read_exr(tmp_path / "out.exr")
    assert out.pixel_types["Z"] == "float" and out.attributes["framesPerSecond"] == Fraction(60)
