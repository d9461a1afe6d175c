"""Source checks: every frame's header compared with the first before any work, each error naming the file."""

from pathlib import Path

import numpy as np
import pytest

from dreamplate.errors import InputError
from dreamplate.io.exr import Box, ExrImage, write_exr
from dreamplate.io.raster import write_raster
from dreamplate.ops.plate.sources import check_sources, is_raster, part_arg

DISPLAY = (0, 0, 5, 3)


def _write(path: Path, channels: str = "RGB", display: Box = DISPLAY, data: Box | None = None, **attributes) -> Path:
    data = data or display
    shape = (data[3] - data[1] + 1, data[2] - data[0] + 1)
    pixels = {c: np.full(shape, 0.5, np.float32) for c in channels}
    write_exr(path, ExrImage(pixels, dict.fromkeys(channels, "half"), data, display, attributes=attributes))
    return path


def test_headers_come_back_in_frame_order(tmp_path: Path) -> None:
    paths = {1002: _write(tmp_path / "b.exr", owner="b"), 1001: _write(tmp_path / "a.exr", owner="a")}
    infos = check_sources(paths, None, None, same_channels=True)
    assert [info.attributes["owner"] for info in infos] == ["a", "b"]


def test_a_display_window_that_differs_is_named_with_both_windows(tmp_path: Path) -> None:
    paths = {1: _write(tmp_path / "a.exr"), 2: _write(tmp_path / "b.exr", display=(0, 0, 7, 3))}
    with pytest.raises(InputError, match=r"b\.exr: display window \(0, 0, 7, 3\) differs from a\.exr \(0, 0, 5, 3\)"):
        check_sources(paths, None, None, same_channels=False)


def test_data_windows_may_move_within_the_same_display_window(tmp_path: Path) -> None:
    paths = {1: _write(tmp_path / "a.exr"), 2: _write(tmp_path / "b.exr", data=(-2, -1, 4, 3))}
    assert len(check_sources(paths, None, None, same_channels=True)) == 2


def test_channels_must_match_only_when_the_op_asks(tmp_path: Path) -> None:
    paths = {1: _write(tmp_path / "a.exr", "RGBA"), 2: _write(tmp_path / "b.exr", "RGB")}
    assert len(check_sources(paths, None, None, same_channels=False)) == 2
    with pytest.raises(InputError, match=r"b\.exr: channels B, G, R differ from a\.exr \(A, B, G, R\)"):
        check_sources(paths, None, None, same_channels=True)


def test_part_digits_are_an_index_and_other_text_a_name(tmp_path: Path) -> None:
    assert (part_arg("1"), part_arg("beauty"), part_arg(None)) == (1, "beauty", None)
    with pytest.raises(InputError, match=r"a\.exr: no part 3; available: 0 to 0"):
        check_sources({1: _write(tmp_path / "a.exr")}, "3", None, same_channels=True)


def test_raster_frames_must_share_one_size(tmp_path: Path) -> None:
    for name, width in (("p.0001.png", 6), ("p.0002.png", 6), ("p.0003.png", 8)):
        write_raster(tmp_path / name, np.zeros((4, width, 3), np.float32), 8)
    paths = {f: tmp_path / f"p.{f:04d}.png" for f in (1, 2, 3)}
    assert is_raster(paths[1]) and not is_raster(tmp_path / "a.exr")
    assert check_sources({f: paths[f] for f in (1, 2)}, None, None, same_channels=True) == []
    with pytest.raises(InputError, match=r"p\.0003\.png: size 8x4 differs from p\.0001\.png \(6x4\)"):
        check_sources(paths, None, None, same_channels=True)
