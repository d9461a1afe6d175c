"""Synthetic plates with known motion: a textured subject (with a highlight far above 1.0) over a textured background.

Both layers are smooth noise shifted by whole pixels per frame, so every frame, every in-between and the motion of
every pixel are known exactly: the subject moves `subject` px a frame, the background (a pan) `pan` px a frame, and
the subject's matte is written beside the plate. Half EXRs tagged ACEScg.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from dreamplate.io.exr import ExrImage, write_exr

ACESCG_TAGS = {"colorInteropID": "lin_ap1_scene"}
HIGHLIGHT = 50.0


def _texture(height: int, width: int, seed: int, mean: float) -> np.ndarray:
    noise = np.random.default_rng(seed).random((height, width), dtype=np.float32)
    return (cv2.GaussianBlur(noise, (0, 0), 1.5) - 0.5) * 1.6 * mean + mean


def layers_at(
    time: float,
    size: tuple[int, int],
    subject: tuple[float, float],
    pan: tuple[float, float],
    box: int = 20,
    feather: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The plate (H x W x 3, scene-linear) and the subject's matte (H x W) at `time` (frames, may be fractional).

    Fractional times shift the layers by bilinear resampling: the ground truth of an in-between. `feather` > 0 softens
    the matte by a Gaussian of that sigma (px), a feathered roto: its edge pixels mix subject and background.
    """
    width, height = size
    margin = 64 + int(abs(pan[0]) * 8 + abs(pan[1]) * 8)
    background = _texture(height + 2 * margin, width + 2 * margin, 1, 0.18)
    back = _shift(background, pan[0] * time, pan[1] * time)[margin : margin + height, margin : margin + width]
    pad = int(np.ceil(3.0 * feather))  # the subject's colour reaches as far as its feathered matte
    side = box + 2 * pad
    patch = _texture(side, side, 2, 0.6)
    patch[side // 2 - 2 : side // 2 + 2, side // 2 - 2 : side // 2 + 2] = HIGHLIGHT
    canvas = np.zeros((height, width), np.float32)
    matte = np.zeros((height, width), np.float32)
    y0, x0 = height // 2 - box // 2, width // 4 - box // 2
    canvas[y0 - pad : y0 + box + pad, x0 - pad : x0 + box + pad] = patch
    matte[y0 : y0 + box, x0 : x0 + box] = 1.0
    if feather:
        matte = cv2.GaussianBlur(matte, (0, 0), feather)
        canvas *= matte
    canvas = _shift(canvas, subject[0] * time, subject[1] * time)
    matte = _shift(matte, subject[0] * time, subject[1] * time)
    plate = canvas + (1.0 - matte) * back  # the shifted subject is premultiplied by its shifted matte
    return np.dstack([plate, plate * 0.8, plate * 0.6]).astype(np.float32), matte


def _shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """`image` moved by (dx, dy) pixels (right, down), bilinear, zero coming in."""
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, matrix, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def write_moving_plate(
    folder: Path,
    frames: Iterable[int] = range(1, 4),
    size: tuple[int, int] = (128, 80),
    subject: tuple[float, float] = (12.0, 0.0),
    pan: tuple[float, float] = (0.0, 0.0),
    box: int = 20,
    feather: float = 0.0,
) -> tuple[str, str]:
    """Write `folder/plate.NNNN.exr` (RGB) and `folder/matte.NNNN.exr` (A), the subject a `box` px square; return both
    patterns."""
    folder.mkdir(parents=True, exist_ok=True)
    window = (0, 0, size[0] - 1, size[1] - 1)
    for index, frame in enumerate(frames):
        rgb, matte = layers_at(float(index), size, subject, pan, box, feather)
        channels = {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2]}
        write_exr(
            folder / f"plate.{frame:04d}.exr",
            ExrImage(channels, dict.fromkeys(channels, "half"), window, window, dict(ACESCG_TAGS)),
        )
        write_exr(
            folder / f"matte.{frame:04d}.exr",
            ExrImage({"A": matte}, {"A": "half"}, window, window, dict(ACESCG_TAGS)),
        )
    return str(folder / "plate.####.exr"), str(folder / "matte.####.exr")
