"""Synthetic candidate sets: the plate (or a clean relight of it) beside copies damaged one way each, in amounts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.sequence import FrameSequence

Damage = Callable[[np.ndarray, int, int, np.random.Generator], np.ndarray]
"""(rgb H x W x 3 scene-linear, frame index, frame count, rng) -> damaged rgb."""


def write_sequence(
    pattern: str, out_folder: Path, name: str, change: Callable[[np.ndarray, int, int], np.ndarray]
) -> str:
    """Copy the sequence `pattern` to `out_folder/name.####.exr` with its RGB passed through `change`."""
    seq = FrameSequence.from_pattern(pattern)
    out_folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(seq.frames):
        image = read_exr(seq.path(frame))
        rgb = np.stack([image.channels[c].astype(np.float32) for c in "RGB"], axis=-1)
        new = change(rgb, index, len(seq.frames))
        channels = dict(image.channels)
        channels.update({c: new[..., i].astype(np.float32) for i, c in enumerate("RGB")})
        out = ExrImage(
            channels,
            dict.fromkeys(channels, "half"),
            image.data_window,
            image.display_window,
            attributes=dict(image.attributes),
        )
        write_exr(out_folder / f"{name}.{frame:04d}.exr", out)
    return str(out_folder / f"{name}.####.exr")


def relight(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
    """A clean relight: a warm grade, the same on every frame."""
    return rgb * np.float32([1.4, 1.1, 0.8])


def temporal_noise(amount: float, seed: int = 1) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """Noise that changes every frame, `amount` stops."""
    rng = np.random.default_rng(seed)

    def change(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
        return rgb * np.exp2(rng.normal(0.0, amount, rgb.shape[:2])[..., None]).astype(np.float32)

    return change


def structure_destroyed(amount: float) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """The shapes smeared: a blur of `amount` pixels."""

    def change(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
        return cv2.GaussianBlur(rgb, (0, 0), amount)

    return change


def colour_drift(amount: float) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """The colour walks off over the shot: up to `amount` stops on red and the opposite on blue by the last frame."""

    def change(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
        t = index / max(1, count - 1)
        return rgb * np.exp2(np.float32([amount * t, 0.0, -amount * t]))

    return change


def outside_matte(matte: np.ndarray, amount: float) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """The area outside `matte` (H x W, 0 outside) brightened by `amount` stops."""

    def change(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
        return np.where((matte <= 0)[..., None], rgb * np.float32(2.0**amount), rgb)

    return change


def key_missed(key_index: int) -> Callable[[np.ndarray, int, int], np.ndarray]:
    """The frame at `key_index` darkened by a stop: the result no longer passes through that key."""

    def change(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
        return rgb * np.float32(0.5) if index == key_index else rgb

    return change


def then(first: Callable, second: Callable) -> Callable[[np.ndarray, int, int], np.ndarray]:
    return lambda rgb, index, count: second(first(rgb, index, count), index, count)
