"""Tiny test plates: the demo scene (RGBA + Z, highlights far above 1.0) written as half EXRs tagged ACEScg."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dreamplate.demo import render_plate_frame
from dreamplate.io.exr import ExrImage, read_exr, write_exr

ACESCG_TAGS = {"colorInteropID": "lin_ap1_scene"}


def half_bits(a: np.ndarray) -> np.ndarray:
    """The half-float bit patterns of `a`: equal arrays of these mean bit-exact pixels in a half EXR."""
    return a.astype(np.float16).view(np.uint16)


def exr_rgb(path: Path) -> np.ndarray:
    """The R, G, B channels of an EXR as H x W x 3."""
    image = read_exr(path)
    return np.stack([image.channels[c] for c in "RGB"], axis=-1)


def write_plate(
    folder: Path,
    frames: Iterable[int] = range(1001, 1004),
    size: tuple[int, int] = (96, 64),
    overrides: dict[int, dict[str, np.ndarray]] | None = None,
) -> str:
    """Write `folder/plate.NNNN.exr` for each frame (channels replaced per frame by `overrides`); return the pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = list(frames)
    window = (0, 0, size[0] - 1, size[1] - 1)
    for index, frame in enumerate(frames):
        channels = render_plate_frame(index, len(frames), size)
        channels.update((overrides or {}).get(frame, {}))
        image = ExrImage(
            channels=channels,
            pixel_types=dict.fromkeys(channels, "half"),
            data_window=window,
            display_window=window,
            attributes=dict(ACESCG_TAGS),
        )
        write_exr(folder / f"plate.{frame:04d}.exr", image)
    return str(folder / "plate.####.exr")
