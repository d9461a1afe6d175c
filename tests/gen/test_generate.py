"""Text to video on tiny random models: frame count, size, windows, colour tags, the brightest value, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dreamplate.color.model_space import VIDEO_WHITE, video_model_space
from dreamplate.color.ocio import load_config
from dreamplate.errors import ColorError, ModelError
from dreamplate.gen.create_spec import GenerateSpec
from dreamplate.gen.generate import decode_frames, run_generate
from dreamplate.gen.plate import fit_geometry
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

FAST = {"prompt": "sea at sunset", "steps": 2, "device": "cpu"}


@pytest.mark.parametrize("kind", ["tiny_wan_t2v", "tiny_wan_vace", "tiny_ltx"])
def test_frames_size_windows_and_tags(tmp_path: Path, kind: str, request: pytest.FixtureRequest) -> None:
    model = request.getfixturevalue(kind)
    spec = GenerateSpec(frames=5, size=(40, 24), colorspace="ACEScg", output=str(tmp_path / "g.####.exr"),
                        model=str(model), **FAST)  # fmt: skip
    result = run_generate(spec)
    assert [p.name for p in result.written] == [f"g.{f}.exr" for f in range(1001, 1006)]
    frame = read_exr(tmp_path / "g.1003.exr")
    assert frame.display_window == frame.data_window == (0, 0, 39, 23)
    assert set(frame.channels) == {"R", "G", "B"} and set(frame.pixel_types.values()) == {"half"}
    assert frame.attributes["colorInteropID"] == "lin_ap1_scene"
    rgb = np.stack([frame.channels[c] for c in "RGB"], -1).astype(np.float32)
    assert np.isfinite(rgb).all() and rgb.max() <= VIDEO_WHITE * (1 + 2**-10)
    prov = Provenance.from_attributes(frame.attributes)
    assert prov.operation == "generate" and prov.method.startswith("t2v ") and prov.colorspace == "ACEScg"
    again = run_generate(spec)
    assert again.written == [] and len(again.skipped) == 5


def test_default_space_is_the_scene_linear_role(tmp_path: Path, tiny_ltx: Path) -> None:
    spec = GenerateSpec(frames=2, size=(32, 32), output=str(tmp_path / "g.####.exr"), model=str(tiny_ltx), **FAST)
    run_generate(spec)
    prov = Provenance.from_attributes(read_exr(tmp_path / "g.1002.exr").attributes)
    assert prov.colorspace == load_config().config.getColorSpace("scene_linear").getName()


def test_brightest_value_is_the_video_white_in_acescg() -> None:
    geometry = fit_geometry((4, 4), 1)
    white = np.ones((1, 4, 4, 3), np.float32)
    out = decode_frames(white, geometry, video_model_space(), load_config(), "ACEScg")
    np.testing.assert_allclose(out, VIDEO_WHITE, rtol=1e-4)
    red = np.zeros((1, 4, 4, 3), np.float32)
    red[..., 0] = 1.0  # the most saturated Rec.709 red the model can make stays at or under white in ACEScg
    assert decode_frames(red, geometry, video_model_space(), load_config(), "ACEScg").max() <= VIDEO_WHITE


def test_a_colour_space_the_config_lacks_is_one_error(tmp_path: Path, tiny_ltx: Path) -> None:
    spec = GenerateSpec(colorspace="ACEScgg", output=str(tmp_path / "g.####.exr"), model=str(tiny_ltx), **FAST)
    with pytest.raises(ColorError, match="--colorspace 'ACEScgg': not a colour space"):
        run_generate(spec)
    display = spec.model_copy(update={"colorspace": "sRGB - Display"})
    with pytest.raises(ColorError, match="--colorspace sRGB - Display: a sdr-video space"):
        run_generate(display)
    assert not list(tmp_path.glob("g.*"))


def test_an_image_to_video_only_model_is_refused(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    spec = GenerateSpec(frames=5, output=str(tmp_path / "g.####.exr"), model=str(tiny_wan_i2v), **FAST)
    with pytest.raises(ModelError, match="cannot do 't2v'"):
        run_generate(spec)


def test_cli_generate_and_a_missing_colour_space_is_one_error_line(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    from typer.testing import CliRunner

    from dreamplate.cli import app

    args = ["generate", "--prompt", "sea", "--frames", "5", "--size", "40x24", "--model", str(tiny_wan_t2v),
            "--steps", "2", "--device", "cpu"]  # fmt: skip
    ok = CliRunner().invoke(app, [*args, "--colorspace", "ACEScg", "-o", str(tmp_path / "g.####.exr")])
    assert ok.exit_code == 0, ok.output
    assert read_exr(tmp_path / "g.1005.exr").display_window == (0, 0, 39, 23)
    bad = CliRunner().invoke(app, [*args, "--colorspace", "Nope", "-o", str(tmp_path / "b.####.exr")])
    lines = [line for line in bad.output.splitlines() if line.startswith("ERROR:")]
    assert bad.exit_code == 1 and len(lines) == 1 and "--colorspace 'Nope': not a colour space" in lines[0]
    assert not list(tmp_path.glob("b.*"))
