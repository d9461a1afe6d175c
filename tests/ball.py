"""A CG plate that breaks learned in-betweens: a spinning multicoloured ball crossing black, data windows on the ball.

Issue 19's failing case: at 2K the ball crosses at about 40 px a frame while it spins, each frame's data window
hugging the ball. Rendered analytically (4x4 supersampled), so every frame, the in-betweens' ground truth included,
is exact. Written as half EXRs tagged ACEScg; colours are scene-linear with a highlight above 1.0.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dreamplate.io.exr import Box, ExrImage, write_exr

SIZE_2K = (2048, 1080)
SPEED = 40.0
"""Pixels a frame the ball crosses at 2K; scaled with the width for smaller plates."""
SPIN = 0.21
"""Radians a frame the ball turns about its tilted axis."""
RADIUS = 0.11
"""The ball's radius as a share of the plate's height."""
_PALETTE = np.float32(
    [[0.9, 0.1, 0.05], [0.1, 0.6, 0.1], [0.05, 0.15, 0.9], [0.9, 0.8, 0.1], [0.7, 0.1, 0.7], [0.05, 0.7, 0.8]]
)
_SAMPLES = 4


def _ball(time: float, width: int, height: int, radius: float) -> tuple[float, float, float]:
    """(centre x, centre y, radius in pixels) at frame time `time` (frames from the first, any real)."""
    scale = width / SIZE_2K[0]
    return width * 0.2 + SPEED * scale * time, height * 0.5 + 3.0 * scale * time, radius * height


def ball_window(time: float, size: tuple[int, int] = SIZE_2K, radius: float = RADIUS) -> Box:
    """The data window (x0, y0, x1, y1, inclusive) of the frame at `time`: the ball's box plus 4 px."""
    width, height = size
    cx, cy, r = _ball(time, width, height, radius)
    return (
        max(int(np.floor(cx - r)) - 4, 0),
        max(int(np.floor(cy - r)) - 4, 0),
        min(int(np.ceil(cx + r)) + 4, width - 1),
        min(int(np.ceil(cy + r)) + 4, height - 1),
    )


def ball_pixels(
    time: float,
    size: tuple[int, int] = SIZE_2K,
    window: Box | None = None,
    radius: float = RADIUS,
    spin: float = SPIN,
) -> np.ndarray:
    """Scene-linear RGB (float32 H x W x 3) of the frame at `time` over `window` (default: its own data window)."""
    width, height = size
    x0, y0, x1, y1 = window or ball_window(time, size, radius)
    cx, cy, r = _ball(time, width, height, radius)
    offsets = (np.arange(_SAMPLES, dtype=np.float32) + 0.5) / _SAMPLES - 0.5
    yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float32)
    total = np.zeros((*xx.shape, 3), np.float32)
    tilt = 0.45
    for oy in offsets:
        for ox in offsets:
            nx, ny = (xx + ox - cx) / r, (yy + oy - cy) / r
            inside = nx * nx + ny * ny < 1.0
            nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
            # Surface point turned back by the spin about an axis tilted towards the camera.
            py, pz = ny * np.cos(tilt) - nz * np.sin(tilt), ny * np.sin(tilt) + nz * np.cos(tilt)
            angle = spin * time
            qx, qz = nx * np.cos(angle) - pz * np.sin(angle), nx * np.sin(angle) + pz * np.cos(angle)
            longitude = np.arctan2(qz, qx)
            latitude = np.arcsin(np.clip(py, -1.0, 1.0))
            band = np.floor((longitude + np.pi) / (2 * np.pi) * 12).astype(int)
            ring = np.floor((latitude + np.pi / 2) / np.pi * 6).astype(int)
            colour = _PALETTE[(band + 2 * ring) % len(_PALETTE)]
            light = np.clip(0.3 * nx - 0.5 * ny + 0.8 * nz, 0.0, None)
            spec = 6.0 * np.clip(-0.3 * nx - 0.4 * ny + 0.87 * nz, 0.0, 1.0) ** 40
            shade = colour * (0.08 + light[..., None]) + spec[..., None]
            total += np.where(inside[..., None], shade, 0.0)
    return total / np.float32(_SAMPLES * _SAMPLES)


def write_ball_plate(
    folder: Path,
    times: Iterable[float],
    size: tuple[int, int] = SIZE_2K,
    radius: float = RADIUS,
    spin: float = SPIN,
) -> str:
    """Write `folder/ball.NNNN.exr` (RGB, half, data window on the ball) for each time, numbered from 1."""
    folder.mkdir(parents=True, exist_ok=True)
    display = (0, 0, size[0] - 1, size[1] - 1)
    for number, time in enumerate(times, start=1):
        window = ball_window(time, size, radius)
        rgb = ball_pixels(time, size, window, radius, spin)
        channels = {name: rgb[..., i] for i, name in enumerate("RGB")}
        image = ExrImage(
            channels, dict.fromkeys(channels, "half"), window, display, {"colorInteropID": "lin_ap1_scene"}
        )
        write_exr(folder / f"ball.{number:04d}.exr", image)
    return str(folder / "ball.####.exr")
