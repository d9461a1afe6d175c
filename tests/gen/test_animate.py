"""Image to video on tiny random models: the still is the first frame bit for bit, per family; matte; bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plates import half_bits, write_plate

from dreamplate.errors import InputError, ModelError
from dreamplate.gen.animate import run_animate
from dreamplate.gen.create_spec import AnimateSpec
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "slow camera move", "steps": 2, "device": "cpu"}


def _still(tmp_path: Path) -> Path:
    write_plate(tmp_path / "still", [7], SIZE)
    return tmp_path / "still" / "plate.0007.exr"


@pytest.mark.parametrize("kind", ["tiny_wan_i2v_only", "tiny_wan_vace", "tiny_ltx"])
def test_still_is_the_first_frame_bit_for_bit(tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    still = _still(tmp_path)
    model = request.getfixturevalue(kind)
    spec = AnimateSpec(inputs=[str(still)], frames=6, output=str(tmp_path / "o.####.exr"), model=str(model), **FAST)
    result = run_animate(spec)
    assert [p.name for p in result.written] == [f"o.{f}.exr" for f in range(1001, 1007)]
    src, first = read_exr(still), read_exr(tmp_path / "o.1001.exr")
    assert set(first.channels) == set(src.channels) == {"R", "G", "B", "A", "Z"}
    for name in src.channels:
        np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(first.channels[name]))
    later = read_exr(tmp_path / "o.1004.exr")
    assert set(later.channels) == {"R", "G", "B"} and set(later.pixel_types.values()) == {"half"}
    assert later.display_window == src.display_window and later.data_window == src.data_window
    assert later.attributes["colorInteropID"] == "lin_ap1_scene"
    prov = Provenance.from_attributes(later.attributes)
    assert prov.operation == "animate" and prov.method.startswith("i2v ")
    assert prov.parameters["generated_frames"] == 9  # 6 is not 4k+1: 9 made, 3 dropped
    assert Provenance.from_attributes(first.attributes).method == "still"


def test_mask_keeps_the_area_outside_the_matte_exactly_still(tmp_path: Path, tiny_wan_vace: Path) -> None:
    still = _still(tmp_path)
    matte = np.zeros((SIZE[1], SIZE[0]), np.float32)
    matte[:, 24:] = 1.0  # the right half may move
    box = (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    write_exr(tmp_path / "matte.exr", ExrImage({"R": matte}, {"R": "half"}, box, box))
    spec = AnimateSpec(
        inputs=[str(still)], frames=5, mask=str(tmp_path / "matte.exr"), feather=2.0,
        output=str(tmp_path / "o.####.exr"), model=str(tiny_wan_vace), **FAST,
    )  # fmt: skip
    run_animate(spec)
    src = read_exr(still)
    for frame in range(1002, 1006):
        out = read_exr(tmp_path / f"o.{frame:04d}.exr")
        for name in ("R", "G", "B"):
            np.testing.assert_array_equal(half_bits(out.channels[name][:, :24]), half_bits(src.channels[name][:, :24]))
        assert not np.array_equal(half_bits(out.channels["R"][:, 26:]), half_bits(src.channels["R"][:, 26:]))
    (tmp_path / "o.1003.exr").unlink()
    again = run_animate(spec)
    assert [p.name for p in again.written] == ["o.1003.exr"] and len(again.skipped) == 4


def test_flf2v_checkpoint_is_refused_before_anything_is_written(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    spec = AnimateSpec(inputs=[str(_still(tmp_path))], frames=5, output=str(tmp_path / "o" / "o.####.exr"),
                       model=str(tiny_wan_i2v), **FAST)  # fmt: skip
    with pytest.raises(ModelError, match="first-last-frame"):
        run_animate(spec)
    assert not list((tmp_path / "o").glob("*.exr"))


def test_a_still_with_no_rgb_is_one_error_naming_it(tmp_path: Path, tiny_ltx: Path) -> None:
    box = (0, 0, 7, 7)
    write_exr(tmp_path / "z.exr", ExrImage({"Z": np.ones((8, 8), np.float32)}, {"Z": "float"}, box, box))
    spec = AnimateSpec(inputs=[str(tmp_path / "z.exr")], output=str(tmp_path / "o.####.exr"), model=str(tiny_ltx))
    with pytest.raises(InputError, match=r"z\.exr: the still has no R, G, B \(or Y\) channels"):
        run_animate(spec)
    assert not list(tmp_path.glob("o.*"))


@pytest.fixture(scope="session")
def tiny_wan_i2v_only(tiny_wan_i2v: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny FLF2V model made an I2V one, as Wan2.1 I2V differs: no `pos_embed` (one CLIP embedding, not two)."""
    import json
    import shutil

    from safetensors.numpy import load_file, save_file

    dest = tmp_path_factory.mktemp("wan-i2v-only") / "model"
    shutil.copytree(tiny_wan_i2v, dest)
    config_path = dest / "transformer" / "config.json"
    config = json.loads(config_path.read_text())
    config["pos_embed_seq_len"] = None
    config_path.write_text(json.dumps(config))
    for weights in (dest / "transformer").glob("*.safetensors"):
        tensors = load_file(weights)
        save_file({k: v for k, v in tensors.items() if "pos_embed" not in k}, weights, metadata={"format": "pt"})
    return dest


def test_cli_animate_and_its_bad_input_is_one_error_line(tmp_path: Path, tiny_ltx: Path) -> None:
    from typer.testing import CliRunner

    from dreamplate.cli import app

    still = _still(tmp_path)
    out = tmp_path / "a.####.exr"
    # a host renders its input as a sequence: the pattern's first frame is the still
    args = ["animate", str(still.parent / "plate.####.exr"), "--frames", "5", "-o", str(out), "--model", str(tiny_ltx),
            "--steps", "2", "--device", "cpu", "--first-frame", "7"]  # fmt: skip
    ok = CliRunner().invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert sorted(p.name for p in tmp_path.glob("a.*.exr")) == [f"a.{f:04d}.exr" for f in range(7, 12)]
    box = (0, 0, 7, 7)
    write_exr(tmp_path / "z.exr", ExrImage({"Z": np.ones((8, 8), np.float32)}, {"Z": "float"}, box, box))
    bad = CliRunner().invoke(app, ["animate", str(tmp_path / "z.exr"), "-o", str(tmp_path / "b.####.exr"),
                                   "--model", str(tiny_ltx)])  # fmt: skip
    lines = [line for line in bad.output.splitlines() if line.startswith("ERROR:")]
    assert bad.exit_code == 1 and len(lines) == 1 and "z.exr: the still has no R, G, B" in lines[0]
    assert not list(tmp_path.glob("b.*"))
