"""`dreamplate upscale` end to end with the real Real-ESRGAN weights, and the tiling and HDR rules under it."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from plates import ACESCG_TAGS, write_plate
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.color.model_space import video_model_space
from dreamplate.enhance.spec import UpscaleSpec
from dreamplate.enhance.sr_model import load_upscaler, plan_tiles, restore_range, upscale_colour
from dreamplate.enhance.upscale import run_upscale, scaled_window
from dreamplate.errors import ModelError
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.runtime.weights import PINNED


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _box_net(signal: np.ndarray) -> np.ndarray:
    """A stand-in network with a 1-pixel reach: 3 x 3 mean (zero outside, as a conv pads), then nearest 4x."""
    padded = np.pad(signal, ((1, 1), (1, 1), (0, 0)))
    mean = sum(padded[dy : dy + signal.shape[0], dx : dx + signal.shape[1]] for dy in range(3) for dx in range(3)) / 9
    return np.repeat(np.repeat(mean, 4, axis=0), 4, axis=1).astype(np.float32)


@pytest.mark.parametrize(
    ("width", "height", "tile", "pad"), [(200, 90, 64, 8), (64, 64, 64, 8), (50, 300, 96, 20), (1920, 1080, 384, 32)]
)
def test_tile_cores_cover_the_picture_once(width: int, height: int, tile: int, pad: int) -> None:
    tiles = plan_tiles(width, height, tile, pad)
    shapes = {(t.box[2] - t.box[0], t.box[3] - t.box[1]) for t in tiles}
    assert len(shapes) == 1  # one shape: one TensorRT engine
    (shape,) = shapes
    assert shape[0] <= min(tile, width) and shape[1] <= min(tile, height)
    cover = np.zeros((height, width), np.int32)
    for t in tiles:
        x0, y0, x1, y1 = t.box
        a0, b0, a1, b1 = t.core
        cover[b0:b1, a0:a1] += 1
        assert x0 <= a0 and a1 <= x1 and y0 <= b0 and b1 <= y1
        # an inner edge of a window is at least `pad` from its core; a picture edge may touch it
        assert all(d >= pad for d, edge in ((a0 - x0, x0), (b0 - y0, y0)) if edge > 0)
        assert x1 - a1 >= pad or x1 == width
        assert y1 - b1 >= pad or y1 == height
    assert (cover == 1).all()


@pytest.mark.parametrize("scale", [2, 4])
def test_tiles_are_seamless_for_a_net_within_their_pad(scale: int) -> None:
    rgb = np.random.default_rng(0).uniform(0, 4, (70, 130, 3)).astype(np.float32)
    whole = upscale_colour(rgb, scale, _box_net, tile=4096, pad=2)
    tiled = upscale_colour(rgb, scale, _box_net, tile=40, pad=2)
    np.testing.assert_array_equal(tiled, whole)


def test_tiles_match_the_untiled_picture_with_the_real_nets(upscale_models: list[Path]) -> None:
    """animevideov3 reaches 18 pixels: a pad of 20 is exact. x4plus reaches further: with its default pad of 32 a
    seam stays within a few code values of the untiled picture as a viewer shows it (README: measured figures)."""
    rgb = np.random.default_rng(1).uniform(0, 1, (12, 16, 3)).astype(np.float32)
    rgb = cv2.resize(rgb, (96, 72), interpolation=cv2.INTER_CUBIC) * 3  # soft and HDR, like a plate
    space = video_model_space()
    compact = load_upscaler("animevideov3", threads=2)
    whole = upscale_colour(rgb, 4, compact.run, tile=4096, pad=20)
    tiled = upscale_colour(rgb, 4, compact.run, tile=48, pad=20)
    assert np.abs(space.encode(tiled) - space.encode(whole)).max() < 1e-4
    rrdb = load_upscaler("x4plus", threads=2)
    whole = upscale_colour(rgb, 2, rrdb.run, tile=4096, pad=32)
    tiled = upscale_colour(rgb, 2, rrdb.run, tile=80, pad=32)
    difference = np.abs(np.clip(space.encode(tiled), 0, 1) - np.clip(space.encode(whole), 0, 1))
    assert difference.max() < 0.04 and difference.mean() < 1e-3


def test_values_the_signal_cannot_hold_come_back_from_the_plate() -> None:
    white = video_model_space().white
    encoded = np.array([0.96, 0.85, 0.5, 0.0, 0.0], np.float32)
    linear = video_model_space().decode(encoded)
    reference = np.array([500.0, 500.0, 500.0, -0.25, -0.25], np.float32)
    reference[3:] = [-0.25, 0.001]  # a negative plate value, and a positive one under black output
    out = restore_range(encoded.copy(), linear.copy(), reference, white)
    assert out[0] == pytest.approx(500.0, rel=1e-4)  # saturated output: the plate's highlight, whole
    assert white < out[1] < 500.0  # easing in from the knee
    assert out[2] == linear[2]  # the net darkened it: kept as the net made it
    assert out[3] == pytest.approx(-0.25)  # black output over a negative plate value: the plate's value
    assert out[4] == linear[4]


def _exr(path: Path, channels: dict[str, np.ndarray], data, display, attributes=None, types=None) -> Path:
    types = types or dict.fromkeys(channels, "half")
    write_exr(path, ExrImage(channels, types, data, display, {**ACESCG_TAGS, **(attributes or {})}))
    return path


def test_cli_upscale_keeps_hdr_channels_windows_and_the_draft_provenance(
    tmp_path: Path, upscale_models: list[Path]
) -> None:
    rng = np.random.default_rng(2)
    height, width = 24, 32
    grey = cv2.resize(rng.uniform(0.1, 0.4, (6, 8)).astype(np.float32), (width, height))
    r, g, b = grey.copy(), grey.copy(), grey.copy()
    r[8:14, 10:16] = g[8:14, 10:16] = b[8:14, 10:16] = 500.0  # a sun, 5 stops over the space's white
    r[18:, :6] = g[18:, :6] = b[18:, :6] = -0.02  # negative lobes in a black corner
    alpha = np.zeros((height, width), np.float32)
    alpha[4:20, 6:26] = 1.0
    depth = np.where(alpha > 0, np.float32(3.5), np.float32(100.0))
    ids = np.where(alpha > 0, 7, 2).astype(np.uint32)
    draft = Provenance(operation="relight", method="v2v", parameters={"draft": True}, seed=7, prompt="dusk")
    folder = tmp_path / "in"
    folder.mkdir()
    data, display = (2, 3, 2 + width - 1, 3 + height - 1), (0, 0, 39, 29)
    for frame in (1001, 1002):
        _exr(
            folder / f"draft.{frame}.exr",
            {"R": r, "G": g, "B": b, "A": alpha, "Z": depth, "id": ids},
            data,
            display,
            {**draft.to_attributes(), "owner": "comp"},
            {"R": "half", "G": "half", "B": "half", "A": "half", "Z": "float", "id": "uint"},
        )
    result = _run("upscale", folder / "draft.####.exr", "--model", "animevideov3", "-o", tmp_path / "up.####.exr")
    assert result.exit_code == 0, result.output
    assert "wrote 2 frames" in result.output and "realesr-animevideov3 on onnxruntime" in result.output
    out = read_exr(tmp_path / "up.1001.exr")
    assert out.data_window == (4, 6, 4 + 2 * width - 1, 6 + 2 * height - 1) == scaled_window(data, 2)
    assert out.display_window == (0, 0, 79, 59)
    assert set(out.channels) == {"R", "G", "B", "A", "Z", "id"}
    assert out.pixel_types == {"R": "half", "G": "half", "B": "half", "A": "half", "Z": "half", "id": "uint"}
    assert out.channels["R"][18:26, 22:30].min() == pytest.approx(500.0, rel=2e-3)  # the sun is whole, not 16
    assert out.channels["R"].max() <= 500.0 * 1.001  # and nothing rang past it
    assert out.channels["R"][40:, :10].max() < 0  # the negative corner came back
    assert out.channels["A"].min() >= 0.0 and out.channels["A"].max() <= 1.0
    assert set(np.unique(out.channels["Z"])) <= {3.5, 100.0} and set(np.unique(out.channels["id"])) == {2, 7}
    np.testing.assert_array_equal(out.channels["id"][::2, ::2], ids)  # nearest: every ID where it was
    assert out.attributes["owner"] == "comp" and out.attributes["colorInteropID"] == "lin_ap1_scene"

    prov = Provenance.from_attributes(out.attributes)
    assert prov.operation == "upscale" and prov.method == "realesr-animevideov3"
    assert prov.weights_sha256 == PINNED["realesr-animevideov3"].sha256 and prov.colorspace == "ACEScg"
    assert prov.parameters["scale"] == 2 and prov.parameters["model"] == "animevideov3"
    assert prov.sources == [str(folder / "draft.1001.exr")] and prov.source_frames == [1001.0]
    (upstream,) = prov.upstream  # the draft's own provenance, kept
    assert (upstream["operation"], upstream["prompt"], upstream["seed"]) == ("relight", "dusk", 7)

    again = _run("upscale", folder / "draft.####.exr", "--model", "animevideov3", "-o", tmp_path / "up.####.exr")
    assert again.exit_code == 0 and "skipped 2 already written" in again.output, again.output


def test_x4plus_four_times_on_a_plate(tmp_path: Path, upscale_models: list[Path]) -> None:
    pattern = write_plate(tmp_path / "in", [1], (24, 16))
    run_upscale(UpscaleSpec(inputs=[pattern], output=str(tmp_path / "x4.####.exr"), scale=4))
    source, out = read_exr(tmp_path / "in" / "plate.0001.exr"), read_exr(tmp_path / "x4.0001.exr")
    assert out.channels["R"].shape == (64, 96) and out.display_window == (0, 0, 95, 63)
    # Brought back down, the upscale is the plate again, near enough (in the encoded signal).
    space = video_model_space()
    rgb = np.stack([out.channels[c] for c in "RGB"], -1)
    down = cv2.resize(rgb, (24, 16), interpolation=cv2.INTER_AREA)
    plate = np.stack([source.channels[c] for c in "RGB"], -1)
    assert np.abs(space.encode(down) - space.encode(plate)).mean() < 0.03


def test_keep_size_redetails_a_soft_draft_at_its_own_size(tmp_path: Path, upscale_models: list[Path]) -> None:
    """A draft made at a quarter size and resized up: --keep-size gives back detail the resize blurred away."""
    sharp = np.zeros((64, 96), np.float32)
    sharp[:, ::8] = sharp[::8, :] = 1.0  # a grid of one-pixel lines
    soft = cv2.resize(
        cv2.resize(sharp, (24, 16), interpolation=cv2.INTER_AREA), (96, 64), interpolation=cv2.INTER_CUBIC
    )
    box = (0, 0, 95, 63)
    colour = {c: soft * 0.5 + 0.05 for c in "RGB"}
    colour["R"][30:34, 40:44] = 200.0  # a highlight far over the net's white
    alpha = np.full((64, 96), 0.5, np.float32)
    (tmp_path / "in").mkdir()
    _exr(tmp_path / "in" / "draft.0001.exr", {**colour, "A": alpha}, box, box)
    spec = UpscaleSpec(inputs=[str(tmp_path / "in" / "draft.####.exr")], output=str(tmp_path / "o.####.exr"))
    run_upscale(spec.model_copy(update={"keep_size": True, "scale": 4}))
    out = read_exr(tmp_path / "o.0001.exr")
    assert out.data_window == out.display_window == box
    np.testing.assert_array_equal(out.channels["A"], alpha)  # other channels pass unchanged
    assert out.channels["R"][31, 41] == pytest.approx(200.0, rel=2e-3)  # the draft's own highlight, unresampled
    gradient = [np.abs(np.diff(img["G"], axis=1)).mean() for img in (colour, out.channels)]
    assert gradient[1] > 2 * gradient[0]  # sharper than the draft it came from (x4plus: about 4x)
    assert Provenance.from_attributes(out.attributes).parameters["keep_size"] is True


def test_torch_and_onnx_runtimes_agree(upscale_models: list[Path]) -> None:
    signal = np.random.default_rng(4).uniform(0, 1, (16, 20, 3)).astype(np.float32)
    onnx = load_upscaler("animevideov3", "onnx", threads=1).run(signal)
    eager = load_upscaler("animevideov3", "torch", threads=1).run(signal)
    assert np.abs(onnx - eager).max() < 1e-4


def test_missing_weights_say_how_to_get_them(tmp_path: Path) -> None:
    pattern = write_plate(tmp_path / "in", [1, 2], (16, 16))
    with pytest.raises(ModelError, match="dreamplate models pull realesrgan-x4plus"):
        run_upscale(UpscaleSpec(inputs=[pattern], output=str(tmp_path / "o.####.exr")))
    assert not list(tmp_path.glob("o.*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "3"], "--scale"),
        (["--tile", "64", "--tile-pad", "32"], "--tile \\(64\\) must be more than twice --tile-pad \\(32\\)"),
        (["--model", "x2plus"], "--model"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    pattern = write_plate(tmp_path / "in", [1], (16, 16))
    result = _run("upscale", pattern, "-o", tmp_path / "o.####.exr", *args)
    errors = [line for line in result.output.splitlines() if line.startswith("ERROR:")]
    assert result.exit_code != 0 and len(errors) == 1 and re.search(message, errors[0]), result.output
    assert not list(tmp_path.glob("o.*"))
