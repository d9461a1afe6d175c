"""Reframe on tiny random models: new frame and windows, the plate's pixels kept bit for bit, overscan, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plates import ACESCG_TAGS, half_bits, write_plate

from dreamplate.errors import InputError
from dreamplate.gen.create_spec import ReframeSpec
from dreamplate.gen.reframe import new_frame, run_reframe
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "more sky", "steps": 2, "device": "cpu"}


def _assert_kept(plate: Path, out: Path, offset: tuple[int, int], channels: str = "RGBA") -> None:
    src, dst = read_exr(plate), read_exr(out)
    (ox, oy), (w, h) = offset, SIZE
    for name in channels:
        np.testing.assert_array_equal(
            half_bits(dst.channels[name][oy : oy + h, ox : ox + w]), half_bits(src.channels[name])
        )


def test_aspect_frame_and_position() -> None:
    spec = ReframeSpec(inputs=["p.####.exr"], output="o.####.exr", model="m", aspect="9:16")
    assert new_frame((1920, 1080), spec).size == (1920, 3413) and new_frame((1920, 1080), spec).offset == (0, 1166)
    third = spec.model_copy(update={"aspect": None, "size": (1080, 1920), "position": (1 / 3, 0.0)})
    assert new_frame((1920, 1080), third).offset == (-280, 0)  # wider than the frame: its sides are cropped
    with pytest.raises(ValueError, match="each in 0..1, got 1.2,0.5"):
        ReframeSpec(inputs=["p.####.exr"], output="o.####.exr", model="m", aspect="9:16", position="1.2,0.5")
    with pytest.raises(ValueError, match="one of them"):
        ReframeSpec(inputs=["p.####.exr"], output="o.####.exr", model="m")


def test_vace_outpaints_and_keeps_the_plate_bit_for_bit(tmp_path: Path, tiny_wan_vace: Path) -> None:
    pattern = write_plate(tmp_path / "plate", range(1, 4), SIZE)
    spec = ReframeSpec(inputs=[pattern], aspect="9:16", output=str(tmp_path / "o" / "o.####.exr"),
                       model=str(tiny_wan_vace), **FAST)  # fmt: skip
    result = run_reframe(spec)
    assert [p.name for p in result.written] == ["o.0001.exr", "o.0002.exr", "o.0003.exr"]
    out = read_exr(tmp_path / "o" / "o.0002.exr")
    assert out.display_window == out.data_window == (0, 0, 47, 84)
    assert set(out.channels) == {"R", "G", "B", "A"} and set(out.pixel_types.values()) == {"half"}
    assert out.attributes["colorInteropID"] == "lin_ap1_scene"
    for frame in (1, 2, 3):
        _assert_kept(tmp_path / "plate" / f"plate.{frame:04d}.exr", tmp_path / "o" / f"o.{frame:04d}.exr", (0, 26))
    assert np.isfinite(out.channels["R"]).all() and not out.channels["A"][:26].any()
    prov = Provenance.from_attributes(out.attributes)
    assert prov.operation == "reframe" and prov.method == "control WanVACEPipeline"
    assert prov.parameters["frame_size"] == [48, 85] and prov.parameters["offset"] == [0, 26]
    assert not list((tmp_path / "o").glob(".dreamplate-reframe-*"))  # the extended frames are cleaned up
    again = run_reframe(spec)
    assert again.written == [] and len(again.skipped) == 3


def test_ltx_size_and_position_keep_the_pixels_where_they_land(tmp_path: Path, tiny_ltx: Path) -> None:
    pattern = write_plate(tmp_path / "plate", [5], SIZE)
    spec = ReframeSpec(inputs=[pattern], size="64x48", position="0,1", output=str(tmp_path / "o.####.exr"),
                       model=str(tiny_ltx), **FAST)  # fmt: skip
    run_reframe(spec)
    _assert_kept(tmp_path / "plate" / "plate.0005.exr", tmp_path / "o.0005.exr", (0, 16))
    assert read_exr(tmp_path / "o.0005.exr").display_window == (0, 0, 63, 47)


def test_overscan_lands_beside_the_plate_and_a_crop_needs_no_model(tmp_path: Path) -> None:
    display, data = (0, 0, 7, 3), (-2, 0, 9, 3)  # two columns of overscan each side
    red = np.arange(48, dtype=np.float32).reshape(4, 12)
    image = ExrImage({c: red + i for i, c in enumerate("RGB")}, dict.fromkeys("RGB", "half"), data, display,
                     dict(ACESCG_TAGS))  # fmt: skip
    write_exr(tmp_path / "p.0001.exr", image)
    spec = ReframeSpec(inputs=[str(tmp_path / "p.####.exr")], size="10x4", output=str(tmp_path / "o.####.exr"),
                       model="not-needed")  # fmt: skip
    result = run_reframe(spec)
    assert result.method == "crop (no new area)"
    out = read_exr(tmp_path / "o.0001.exr")
    assert out.display_window == out.data_window == (0, 0, 9, 3)
    np.testing.assert_array_equal(out.channels["R"], red[:, 1:11].astype(np.float16))  # one overscan column each side


def test_an_aspect_the_model_cannot_reach_is_one_error(tmp_path: Path, tiny_wan_vace: Path) -> None:
    pattern = write_plate(tmp_path / "plate", [1], SIZE)
    spec = ReframeSpec(inputs=[pattern], aspect="5:1", output=str(tmp_path / "o" / "o.####.exr"),
                       model=str(tiny_wan_vace), **FAST)  # fmt: skip
    with pytest.raises(
        InputError, match=r"--aspect 5:1: a 160x32 frame is 32x6 pixels .* half a 16-pixel block; .* up to 4:1"
    ):
        run_reframe(spec)
    assert not list((tmp_path / "o").glob("*"))


def test_cli_reframe_and_an_unreachable_aspect_is_one_error_line(tmp_path: Path, tiny_wan_vace: Path) -> None:
    from typer.testing import CliRunner

    from dreamplate.cli import app

    pattern = write_plate(tmp_path / "plate", [1], SIZE)
    args = ["reframe", pattern, "--model", str(tiny_wan_vace), "--steps", "2", "--device", "cpu"]
    ok = CliRunner().invoke(app, [*args, "--size", "64x32", "--position", "1,0", "-o", str(tmp_path / "r.####.exr")])
    assert ok.exit_code == 0, ok.output
    _assert_kept(tmp_path / "plate" / "plate.0001.exr", tmp_path / "r.0001.exr", (16, 0))
    bad = CliRunner().invoke(app, [*args, "--aspect", "5:1", "-o", str(tmp_path / "b.####.exr")])
    lines = [line for line in bad.output.splitlines() if line.startswith("ERROR:")]
    assert bad.exit_code == 1 and len(lines) == 1 and lines[0].startswith("ERROR: --aspect 5:1:")
    assert not list(tmp_path.glob("b.*"))


def test_repaint_lets_the_model_change_the_plate_too(tmp_path: Path, tiny_wan_vace: Path) -> None:
    pattern = write_plate(tmp_path / "plate", [1], SIZE)
    spec = ReframeSpec(inputs=[pattern], size="48x48", repaint=True, output=str(tmp_path / "o.####.exr"),
                       model=str(tiny_wan_vace), **FAST)  # fmt: skip
    run_reframe(spec)
    src, out = read_exr(tmp_path / "plate" / "plate.0001.exr"), read_exr(tmp_path / "o.0001.exr")
    assert out.display_window == (0, 0, 47, 47)
    assert not np.array_equal(half_bits(out.channels["R"][8:40]), half_bits(src.channels["R"]))
    assert Provenance.from_attributes(out.attributes).parameters["repaint"] is True
