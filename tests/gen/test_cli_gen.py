"""The generative commands end to end through the CLI: relight, sketch, keyframes, generative interpolate, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from plates import half_bits, write_plate
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = ["--steps", "2", "--device", "cpu"]


def _run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_relight_frames_size_and_provenance(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1001, 1008), SIZE)
    out = tmp_path / "out" / "o.####.exr"
    result = _run(
        "relight", plate, "-o", out, "--prompt", "neon night", "--strength", "0.6", "--model", tiny_wan_t2v,
        "--seed", "5", "--negative-prompt", "blurry", "--frames", "1002-1006", "--size", "32x32", *FAST,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote 5 frames" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"o.{f}.exr" for f in range(1002, 1007)]
    image = read_exr(tmp_path / "out" / "o.1004.exr")
    assert image.display_window == (0, 0, SIZE[0] - 1, SIZE[1] - 1) and set(image.pixel_types.values()) == {"half"}
    prov = Provenance.from_attributes(image.attributes)
    assert (prov.seed, prov.prompt, prov.strength) == (5, "neon night", 0.6)
    assert prov.parameters["negative_prompt"] == "blurry" and prov.parameters["frames"] == "1002-1006"


def test_cli_relight_strength_zero_is_identity(tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    result = _run("relight", plate, "-o", tmp_path / "o.####.exr", "--strength", "0")
    assert result.exit_code == 0, result.output
    for f in (1, 2, 3):
        a, b = read_exr(tmp_path / "in" / f"plate.{f:04d}.exr"), read_exr(tmp_path / f"o.{f:04d}.exr")
        for name in a.channels:
            np.testing.assert_array_equal(half_bits(a.channels[name]), half_bits(b.channels[name]))


def test_cli_draft_then_from_draft(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    draft, full = tmp_path / "d" / "d.####.exr", tmp_path / "f" / "f.####.exr"
    first = _run("relight", plate, "-o", draft, "--prompt", "dusk", "--model", tiny_wan_t2v, "--seed", "9", "--draft")
    assert first.exit_code == 0, first.output
    second = _run("relight", plate, "-o", full, "--from-draft", draft, "--steps", "2", "--device", "cpu")
    assert second.exit_code == 0, second.output
    d = Provenance.from_attributes(read_exr(tmp_path / "d" / "d.0001.exr").attributes)
    f = Provenance.from_attributes(read_exr(tmp_path / "f" / "f.0001.exr").attributes)
    assert d.parameters["model_size"] == [16, 16] and f.parameters["model_size"] == [32, 32]
    assert (f.seed, f.prompt) == (9, "dusk") and f.parameters["from_draft"] == str(draft)


def test_cli_sketch_and_keyframes(tmp_path: Path, tiny_wan_vace: Path) -> None:
    blocking = write_plate(tmp_path / "blk", range(1, 6), SIZE)
    result = _run(
        "sketch", blocking, "-o", tmp_path / "s" / "s.####.exr", "--prompt", "city", "--model", tiny_wan_vace, *FAST
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "s").glob("*.exr"))) == 5
    keys = [
        "--key",
        f"1001={tmp_path / 'blk' / 'plate.0001.exr'}",
        "--key",
        f"1005={tmp_path / 'blk' / 'plate.0005.exr'}",
    ]
    result = _run(
        "keyframes", *keys, "-o", tmp_path / "k" / "k.####.exr", "--prompt", "city", "--model", tiny_wan_vace, *FAST
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == [f"k.{f}.exr" for f in range(1001, 1006)]


def test_cli_generative_interpolate_numbers_from_the_first_key(tmp_path: Path, tiny_ltx: Path) -> None:
    write_plate(tmp_path / "in", [1001, 1002], SIZE)
    first, last = tmp_path / "in" / "plate.1001.exr", tmp_path / "in" / "plate.1002.exr"
    result = _run(
        "interpolate", first, last, "--method", "generative", "--model", tiny_ltx, "--frames", "5",
        "--prompt", "smooth", "--steps", "2", "-o", tmp_path / "o" / "o.####.exr",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [f"o.{f}.exr" for f in range(1001, 1006)]
    end = read_exr(tmp_path / "o" / "o.1005.exr")
    np.testing.assert_array_equal(half_bits(read_exr(last).channels["R"]), half_bits(end.channels["R"]))


def test_cli_wrong_capability_is_one_error_line(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    result = _run("relight", plate, "-o", tmp_path / "o.####.exr", "--prompt", "x", "--model", tiny_wan_i2v, *FAST)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1 and "cannot do 'v2v'; it can do: flf2v" in lines[0]
    assert not list(tmp_path.glob("o.*.exr"))
    bad = _run("relight", plate, "-o", tmp_path / "o.####.exr", "--prompt", "x", "--model", "m", "--strength", "1.4")
    assert bad.exit_code == 1 and "ERROR: --strength:" in bad.output and "1.4" in bad.output
