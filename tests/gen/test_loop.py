"""loop on tiny random models: a plate's bridge back to its first frame, a still looped in windows, the refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plates import half_bits, write_plate
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.errors import InputError, ModelError
from dreamplate.gen.extend_spec import LoopSpec
from dreamplate.gen.loop import default_bridge, loop_frames, run_loop, still_numbers
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "endless surf", "steps": 2, "device": "cpu"}


def _same_file_pixels(a: Path, b: Path) -> None:
    src, dst = read_exr(a), read_exr(b)
    assert set(src.channels) == set(dst.channels)
    for name in src.channels:
        np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(dst.channels[name]))


def test_plate_loop_bridges_its_last_frames_to_its_first(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1001, 1006), SIZE)
    spec = LoopSpec(inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_vace), **FAST)
    result = run_loop(spec)
    # Default bridge: 2 plate frames each side + 5 new = 9, one tiny VACE window.
    assert loop_frames(spec) == list(range(1001, 1011))
    assert sorted(p.name for p in result.written) == [f"o.{f}.exr" for f in range(1001, 1011)]
    for frame in range(1001, 1006):
        _same_file_pixels(tmp_path / "in" / f"plate.{frame}.exr", tmp_path / "out" / f"o.{frame}.exr")
    prov = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.1008.exr").attributes)
    assert prov.operation == "loop" and prov.parameters["bridge"] == 5
    assert prov.source_frames == [1004.0, 1005.0, 1001.0, 1002.0]  # the plate's end, then its start
    again = run_loop(spec)
    assert again.written == [] and len(again.skipped) == 10


def test_first_last_frame_model_bridges_with_its_two_ends(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 5), SIZE)
    spec = LoopSpec(inputs=[plate], output=str(tmp_path / "o.####.exr"), bridge=3, model=str(tiny_wan_i2v), **FAST)
    result = run_loop(spec)
    assert len(result.written) == 7 and "first and last frame" in result.method
    prov = Provenance.from_attributes(read_exr(tmp_path / "o.0006.exr").attributes)
    assert prov.source_frames == [4.0, 1.0]
    with pytest.raises(InputError, match=r"--bridge 4: WanImageToVideoPipeline makes k\*4\+1 frames"):
        run_loop(spec.model_copy(update={"bridge": 4, "output": str(tmp_path / "x" / "o.####.exr")}))


def test_still_loop_in_windows_starts_and_ends_on_the_still(tmp_path: Path, tiny_ltx: Path) -> None:
    write_plate(tmp_path / "in", [7], SIZE)
    still = tmp_path / "in" / "plate.0007.exr"
    spec = LoopSpec(
        inputs=[str(still)], frames="20", output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_ltx), **FAST
    )
    result = run_loop(spec)
    assert loop_frames(spec) == list(range(1001, 1021))
    assert sorted(p.name for p in result.written) == [f"o.{f}.exr" for f in range(1001, 1021)]
    _same_file_pixels(still, tmp_path / "out" / "o.1001.exr")
    # 21 frames (the still again at 1021) in tiny 9-frame windows: the last window is conditioned on the still.
    last = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.1020.exr").attributes)
    assert last.parameters["window_index"] >= 2 and last.source_frames[-1] == 1021.0
    assert last.sources[-1] == str(still)


def test_loop_refusals_name_the_option(tmp_path: Path, tiny_wan_vace: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 5), SIZE)
    out = str(tmp_path / "out" / "o.####.exr")
    with pytest.raises(InputError, match="--bridge 8: with 2 plate frames each side that is 13 frames, longer than"):
        run_loop(LoopSpec(inputs=[plate], output=out, bridge=8, model=str(tiny_wan_vace), **FAST))
    with pytest.raises(InputError, match="--bridge 3: a still loops over --frames"):
        run_loop(
            LoopSpec(
                inputs=[str(tmp_path / "in" / "plate.0001.exr")],
                output=out,
                frames="8",
                bridge=3,
                model=str(tiny_wan_vace),
                **FAST,
            )
        )
    with pytest.raises(InputError, match="--frames: give the loop's length for a still"):
        run_loop(
            LoopSpec(inputs=[str(tmp_path / "in" / "plate.0001.exr")], output=out, model=str(tiny_wan_vace), **FAST)
        )
    with pytest.raises(ModelError, match="WanPipeline cannot condition on frames, so it cannot loop"):
        run_loop(LoopSpec(inputs=[plate], output=out, bridge=3, model=str(tiny_wan_t2v), **FAST))
    assert not list((tmp_path / "out").glob("*.exr"))


def test_still_numbers_and_default_bridges() -> None:
    assert still_numbers("3") == [1001, 1002, 1003] and still_numbers("10-12") == [10, 11, 12]
    with pytest.raises(InputError, match="--frames 1: a loop of a still needs 2 or more frames"):
        still_numbers("1")
    with pytest.raises(InputError, match="without gaps or steps"):
        still_numbers("1-9x2")
    assert default_bridge(20, 4, first_last=False) == 21  # 20 + 21 + 20 = 61 = 4*15+1
    assert default_bridge(20, 4, first_last=True) == 23  # 1 + 23 + 1 = 25


def test_cli_loop_and_extend_errors_are_one_line(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    out = tmp_path / "out" / "o.####.exr"
    ok = CliRunner().invoke(
        app,
        [
            "extend",
            plate,
            "-o",
            str(out),
            "--after",
            "3",
            "--model",
            str(tiny_wan_vace),
            "--steps",
            "2",
            "--device",
            "cpu",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "wrote 6 frames" in ok.output
    for args, expected in (
        (["extend", plate, "--after", "0"], "--after:"),
        (["extend", plate, "--after", "3", "--context", "7"], "--context 7: the plate has only 3 frames"),
        (["loop", plate, "--bridge", "20"], "--bridge 20:"),
    ):
        bad = CliRunner().invoke(
            app, [*args, "-o", str(tmp_path / "bad" / "b.####.exr"), "--model", str(tiny_wan_vace)]
        )
        lines = [line for line in bad.output.splitlines() if line.startswith("ERROR:")]
        assert bad.exit_code == 1 and len(lines) == 1 and expected in lines[0], bad.output
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").glob("*.exr"))
