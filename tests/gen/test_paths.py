"""Motion paths: the strokes file, the layout control video following each stroke, and a shot on a tiny VACE model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from plates import half_bits, write_plate

from dreamplate.color.model_space import video_model_space
from dreamplate.errors import InputError, ModelError
from dreamplate.gen.create_spec import PathsSpec
from dreamplate.gen.paths import run_paths
from dreamplate.gen.shot import check_still
from dreamplate.gen.strokes import centroid, layout_video, read_strokes, start_region
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance

SIZE = (96, 64)
FAST = {"prompt": "the ball rolls", "steps": 2, "device": "cpu"}


def _strokes(tmp_path: Path, strokes: list[dict], origin: str = "top-left") -> Path:
    path = tmp_path / "obj.json"
    path.write_text(json.dumps({"schema": "dreamplate.strokes/1", "origin": origin, "strokes": strokes}))
    return path


def _encoded(tmp_path: Path, size: tuple[int, int] = SIZE) -> np.ndarray:
    write_plate(tmp_path / "still", [1], size)
    still = check_still(str(tmp_path / "still" / "plate.0001.exr"), None, None)
    return np.clip(video_model_space().encode(still.rgb), 0, 1)


def test_region_under_the_start_follows_the_stroke_within_a_pixel(tmp_path: Path) -> None:
    encoded = _encoded(tmp_path)
    path = _strokes(tmp_path, [{"points": [[20, 30], [50, 20], [70, 40]]}])
    strokes = read_strokes(path, SIZE, 17)
    region = start_region(encoded, strokes[0].points[0], radius=8)
    video, masks = layout_video(encoded, [region], strokes, 17)
    assert video.shape == (17, 64, 96, 3) and masks.shape == (17, 1, 64, 96)
    np.testing.assert_array_equal(video[0], encoded)
    offset = centroid(masks[0, 0]) - strokes[0].points[0]
    assert np.abs(offset).max() <= 1.0  # the region sits under the stroke's start
    for t in range(17):
        expected = strokes[0].position(float(t), 16.0)
        assert np.linalg.norm(centroid(masks[t, 0]) - expected) <= 1.0, t
    # constant speed along the polyline: the middle frame is half way along its length
    length = np.linalg.norm([30, -10]) + np.linalg.norm([20, 20])
    mid = strokes[0].position(8.0, 16.0)  # still on the first segment (31.6 px of 59.9)
    assert abs(np.linalg.norm(mid - [20, 30]) - length / 2) < 1e-9


def test_per_point_frames_and_a_matte_region(tmp_path: Path) -> None:
    encoded = _encoded(tmp_path)
    matte = np.zeros((64, 96), np.float32)
    matte[10:20, 60:80] = 1.0
    box = (0, 0, 95, 63)
    write_exr(tmp_path / "ball.exr", ExrImage({"R": matte}, {"R": "half"}, box, box))
    # drawn in Nuke's bottom-left coordinates: y = 64 - 15 = 49 is row 15 from the top
    path = _strokes(tmp_path, [{"points": [[70, 49], [40, 29]], "frames": [2, 6], "matte": "ball.exr"}], "bottom-left")
    stroke = read_strokes(path, SIZE, 9)[0]
    np.testing.assert_allclose(stroke.points, [[70, 15], [40, 35]])
    _video, masks = layout_video(encoded, [matte], [stroke], 9)
    start = centroid(masks[0, 0])
    for t, travel in [(0, (0, 0)), (2, (0, 0)), (4, (-15, 10)), (6, (-30, 20)), (8, (-30, 20))]:
        assert np.linalg.norm(centroid(masks[t, 0]) - start - travel) <= 1.0, t


@pytest.mark.parametrize(
    ("stroke", "message"),
    [
        ({"points": [[10, 10], [120, 10]]}, r"point 2 \(120, 10\) is outside the 96x64 frame"),
        ({"points": [[10, 10], [20, 10]], "frames": [4, 2]}, "frames must rise from 0 to at most 8"),
        ({"points": [[10, 10]], "matte": "../secret.exr"}, r"matte '\.\./secret.exr' must be a file beside obj.json"),
        ({"points": "nope"}, r"points must be \[\[x, y\], ...\] numbers"),
    ],
)
def test_bad_strokes_are_one_error_naming_the_option(tmp_path: Path, stroke: dict, message: str) -> None:
    with pytest.raises(InputError, match=rf"--path .*obj.json: stroke 1:? {message}"):
        read_strokes(_strokes(tmp_path, [stroke]), SIZE, 9)


def test_vace_shot_starts_on_the_still_bit_for_bit(tmp_path: Path, tiny_wan_vace: Path) -> None:
    write_plate(tmp_path / "still", [1], (48, 32))
    still = tmp_path / "still" / "plate.0001.exr"
    path = _strokes(tmp_path, [{"points": [[12, 16], [36, 16]]}])
    spec = PathsSpec(inputs=[str(still)], path=str(path), frames=5, radius=6, output=str(tmp_path / "o.####.exr"),
                     model=str(tiny_wan_vace), **FAST)  # fmt: skip
    result = run_paths(spec)
    assert [p.name for p in result.written] == [f"o.{f}.exr" for f in range(1001, 1006)]
    src, first = read_exr(still), read_exr(tmp_path / "o.1001.exr")
    for name in src.channels:
        np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(first.channels[name]))
    later = read_exr(tmp_path / "o.1005.exr")
    assert later.display_window == src.display_window and set(later.channels) == {"R", "G", "B"}
    assert later.attributes["colorInteropID"] == "lin_ap1_scene"
    prov = Provenance.from_attributes(later.attributes)
    assert prov.operation == "paths" and prov.parameters["strokes"][0]["points"] == [[12.0, 16.0], [36.0, 16.0]]
    assert run_paths(spec).written == []


def test_a_model_without_a_control_video_is_refused(tmp_path: Path, tiny_ltx: Path) -> None:
    write_plate(tmp_path / "still", [1], (48, 32))
    path = _strokes(tmp_path, [{"points": [[12, 16], [36, 16]]}])
    spec = PathsSpec(inputs=[str(tmp_path / "still" / "plate.0001.exr")], path=str(path), frames=5,
                     output=str(tmp_path / "o" / "o.####.exr"), model=str(tiny_ltx), **FAST)  # fmt: skip
    with pytest.raises(ModelError, match="no control-video input .* use a Wan VACE model"):
        run_paths(spec)
    assert not list((tmp_path / "o").glob("*.exr"))


def test_cli_a_path_outside_the_frame_is_one_error_line(tmp_path: Path, tiny_wan_vace: Path) -> None:
    from typer.testing import CliRunner

    from dreamplate.cli import app

    write_plate(tmp_path / "still", [1], (48, 32))
    path = _strokes(tmp_path, [{"points": [[12, 16], [60, 16]]}])
    bad = CliRunner().invoke(app, ["paths", str(tmp_path / "still" / "plate.0001.exr"), "--path", str(path),
                                   "-o", str(tmp_path / "b.####.exr"), "--model", str(tiny_wan_vace)])  # fmt: skip
    lines = [line for line in bad.output.splitlines() if line.startswith("ERROR:")]
    assert bad.exit_code == 1 and len(lines) == 1
    assert "--path" in lines[0] and "point 2 (60, 16) is outside the 48x32 frame" in lines[0]
    assert not list(tmp_path.glob("b.*"))
