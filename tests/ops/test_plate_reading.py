"""Reading source frames: the part and view asked for, channels in one order, frames placed on a window."""

import os
from pathlib import Path

import numpy as np
import OpenEXR

from dreamplate.ops.plate.reading import (
    colour_channels,
    ordered_channels,
    place_on_window,
    read_source,
    stack_channels,
    union_window,
)


def test_part_given_as_digits_reads_that_part(tmp_path: Path) -> None:
    first, second = np.full((2, 3), 0.25, np.float16), np.full((2, 3), 0.75, np.float16)
    parts = [OpenEXR.Part({}, {"R": first}, "beauty"), OpenEXR.Part({}, {"R": second}, "shadow")]
    OpenEXR.File(parts).write(os.fspath(tmp_path / "parts.exr"))
    assert float(read_source(tmp_path / "parts.exr", "1", None).channels["R"][0, 0]) == 0.75
    assert float(read_source(tmp_path / "parts.exr", "beauty", None).channels["R"][0, 0]) == 0.25


def test_colour_comes_first_then_every_other_channel_by_name() -> None:
    assert ordered_channels(["Z", "B", "crypto00.R", "A", "G", "R"]) == ["R", "G", "B", "A", "Z", "crypto00.R"]
    assert colour_channels({"R": 0, "G": 0, "B": 0, "Y": 0}) == ["R", "G", "B"]
    assert colour_channels({"Y": 0, "A": 0}) == ["Y", "Y", "Y"]


def test_stack_keeps_the_order_asked_for_in_float32() -> None:
    channels = {"R": np.full((2, 2), 1.0, np.float16), "G": np.full((2, 2), 2.0, np.float32)}
    stack = stack_channels(channels, ["G", "R", "G"])
    assert stack.dtype == np.float32 and stack.shape == (2, 2, 3)
    assert stack[0, 0].tolist() == [2.0, 1.0, 2.0]


def test_union_holds_both_windows() -> None:
    assert union_window((0, 2, 9, 5), (-3, 4, 6, 8)) == (-3, 2, 9, 8)


def test_place_on_window_crops_overscan() -> None:
    pixels = np.ones((6, 6), np.float32)
    canvas = place_on_window(pixels, (-1, -1, 4, 4), (0, 0, 3, 3))
    assert canvas.shape == (4, 4) and canvas.min() == 1.0


def test_place_on_window_pads_with_zero_outside_the_data() -> None:
    pixels = np.arange(4, dtype=np.float32).reshape(2, 2, 1) + 1
    canvas = place_on_window(pixels, (1, 1, 2, 2), (0, 0, 3, 2))
    assert canvas.shape == (3, 4, 1) and canvas.dtype == np.float32
    assert canvas[..., 0].tolist() == [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0]]
    assert place_on_window(pixels, (1, 1, 2, 2), (5, 5, 6, 6)).max() == 0.0  # no overlap: all zero


def test_equal_windows_give_the_pixels_themselves() -> None:
    pixels = np.zeros((2, 2), np.float32)
    assert place_on_window(pixels, (0, 0, 1, 1), (0, 0, 1, 1)) is pixels
