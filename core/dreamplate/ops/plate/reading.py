"""Reading source frames: the chosen part and view of an EXR, channels stacked in a fixed order, windows aligned.

Every op reads its frames here, so `--part` and `--view` mean the same everywhere and channels keep one order.
Pixels come back exactly as stored (NaN and Inf included): what an op does about them is its own decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from dreamplate.io.exr import Box, ExrImage, read_exr, window_size
from dreamplate.ops.plate.sources import part_arg

COLOUR = ("R", "G", "B")


def read_source(path: Path, part: str | None, view: str | None) -> ExrImage:
    """One source frame: the part (`--part`, an index or a name) and view (`--view`) asked for, else the defaults."""
    return read_exr(path, part=part_arg(part), view=view)


def ordered_channels(names: Sequence[str] | Mapping[str, object]) -> list[str]:
    """R, G, B, A (and Y) first, then every other channel in name order: the order stacks are made in."""
    head = [n for n in ("R", "G", "B", "A", "Y") if n in names]
    return head + sorted(n for n in names if n not in head)


def colour_channels(names: Sequence[str] | Mapping[str, object]) -> list[str]:
    """The channels that hold a frame's colour: R, G, B, or a luminance-only frame's Y three times."""
    return list(COLOUR) if all(n in names for n in COLOUR) else ["Y"] * 3


def stack_channels(channels: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """The `names` channels as one float32 H x W x C array, in that order."""
    return np.stack([channels[n].astype(np.float32, copy=False) for n in names], axis=-1)


def union_window(a: Box, b: Box) -> Box:
    """The smallest window holding both."""
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def place_on_window(pixels: np.ndarray, data_window: Box, window: Box) -> np.ndarray:
    """Pixels over `data_window` (H, W[, C]) placed on the canvas of `window`: zero where there is no data.

    Outside its data window a frame is zero, as EXR defines it; data outside `window` is cut off. Returns `pixels`
    itself when the windows are equal.
    """
    if data_window == window:
        return pixels
    width, height = window_size(window)
    canvas = np.zeros((height, width, *pixels.shape[2:]), pixels.dtype)
    # The overlap of both windows, in absolute pixel coordinates, then relative to each.
    x0, y0 = max(data_window[0], window[0]), max(data_window[1], window[1])
    x1, y1 = min(data_window[2], window[2]) + 1, min(data_window[3], window[3]) + 1
    if x0 < x1 and y0 < y1:
        (dx, dy), (cx, cy) = data_window[:2], window[:2]
        canvas[y0 - cy : y1 - cy, x0 - cx : x1 - cx] = pixels[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    return canvas
