"""A small textured subject over a still textured ground: where the fusion's rules were judged at occlusions.

The ground is a blurred-noise texture at a tenth of its level; the square, of another texture times `gain` (dim 0.3,
bright 3.0, scene-linear with highlights above 1.0), moves `shift` px right and a quarter of that down from A to B.
Used by tests/interp/test_fusion.py and benchmarks/bench_retime_quality.py.
"""

from __future__ import annotations

import cv2
import numpy as np


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Blurred noise spanning about 0.1 to 10 scene-linear, float32 H x W x 3."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), 3.0)
    return np.exp2(noise / noise.std() * 1.5).astype(np.float32)


def square_over_texture(size: int, shift: int, gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, B, the true frame at t = 0.5) on a 480x270 plate, the square `size` px a side."""
    ground, skin = texture(270, 480, 1) * 0.1, texture(size, size, 2) * gain
    frames = []
    for x in (100, 100 + shift // 2, 100 + shift):
        frame = ground.copy()
        y = 120 + (x - 100) // 4
        frame[y : y + size, x : x + size] = skin
        frames.append(frame)
    return frames[0], frames[2], frames[1]
