"""Tiny plates with a salient subject: a still (or moving) orange disc over a textured background that pans.

Written as half EXRs tagged ACEScg, with the subject's true alpha, so matte tests have an answer to compare with.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from dreamplate.io.exr import ExrImage, write_exr

SIZE = (128, 96)
SUBJECT_RGB = np.array([0.9, 0.3, 0.08], np.float32)  # scene-linear ACEScg, a bright orange-brown


def _texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 3.0)
    return (noise - noise.min()) / (noise.max() - noise.min()) * np.float32(0.35) + np.float32(0.02)


def subject_frame(index: int, size: tuple[int, int] = SIZE, moving: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(scene-linear RGB H x W x 3, true alpha H x W) of frame `index`: the background pans 6 px a frame."""
    width, height = size
    background = _texture(width + 6 * 64, height)[:, 6 * index : 6 * index + width]
    yy, xx = np.mgrid[:height, :width]
    cx = width // 2 + (5 * index - 10 if moving else 0)
    radius = min(width, height) * 0.23
    alpha = ((xx - cx) ** 2 + (yy - height * 0.52) ** 2 < radius**2).astype(np.float32)
    rgb = background * (1 - alpha[..., None]) + alpha[..., None] * SUBJECT_RGB
    return rgb.astype(np.float32), alpha


def write_subject_plate(
    folder: Path, frames: Iterable[int] = range(1, 7), size: tuple[int, int] = SIZE, moving: bool = False
) -> str:
    """Write `folder/plate.NNNN.exr` (R, G, B and the true A) per frame; return the pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    window = (0, 0, size[0] - 1, size[1] - 1)
    for index, frame in enumerate(frames):
        rgb, alpha = subject_frame(index, size, moving)
        channels = {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2], "A": alpha}
        image = ExrImage(channels, dict.fromkeys(channels, "half"), window, window, {"colorInteropID": "lin_ap1_scene"})
        write_exr(folder / f"plate.{frame:04d}.exr", image)
    return str(folder / "plate.####.exr")
