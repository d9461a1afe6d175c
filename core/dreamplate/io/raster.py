"""Read and write display-referred raster images (PNG, TIFF, JPEG) as float RGB(A) in [0, 1].

These are sRGB-encoded 8 or 16 bit files: nothing here linearises them; colour conversion belongs to
`dreamplate.color`. OpenCV does the codec work; this module fixes its BGR order and its silent failures.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dreamplate.errors import InputError
from dreamplate.io.atomic import atomic_path

log = logging.getLogger(__name__)

RASTER_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg")

_MAX_BY_DEPTH = {8: 255, 16: 65535}
_DTYPE_BY_DEPTH = {8: np.uint8, 16: np.uint16}


@dataclass
class RasterImage:
    """A raster file's pixels: float32, H x W x C (C = 3 for RGB, 4 for RGBA), display-referred in [0, 1]."""

    pixels: np.ndarray
    bit_depth: int  # 8 or 16, as stored
    path: Path | None = None


def read_raster(path: Path) -> RasterImage:
    """Read a PNG/TIFF/JPEG of 8 or 16 bits per sample as float RGB or RGBA.

    Grey images come back as three equal channels, grey+alpha as RGBA. EXIF orientation is not applied.
    Raises InputError when the file is missing, unreadable, or not 8/16-bit.
    """
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if data.size == 0:
        raise InputError(f"{path}: empty file")
    with _quiet_opencv():
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise InputError(f"{path}: not a readable PNG, TIFF or JPEG image (damaged or unsupported)")
    if decoded.ndim == 3 and decoded.shape[2] > 4:
        raise InputError(f"{path}: {decoded.shape[2]} channels; only grey, RGB and RGBA images are supported")
    depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(decoded.dtype)
    if depth is None:
        raise InputError(f"{path}: {decoded.dtype} samples are not supported; use 8 or 16 bit integer images")
    return RasterImage(pixels=_to_rgb(decoded).astype(np.float32) / _MAX_BY_DEPTH[depth], bit_depth=depth, path=path)


def write_raster(path: Path, pixels: np.ndarray, bit_depth: int) -> None:
    """Write float pixels in [0, 1] (H x W, or H x W x C with C in 1, 3, 4; RGB(A) order) atomically.

    Values are rounded to the bit depth and clipped to [0, 1]; NaN becomes 0. The format follows the suffix.
    Raises InputError when the folder is missing or unwritable or OpenCV fails, ValueError for a bad
    bit depth, shape or suffix (JPEG holds 8 bits only).
    """
    suffix = path.suffix.lower()
    if suffix not in RASTER_SUFFIXES:
        raise ValueError(f"{path}: suffix must be one of {', '.join(RASTER_SUFFIXES)}")
    if bit_depth not in _MAX_BY_DEPTH:
        raise ValueError(f"{path}: bit_depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 16 and suffix in (".jpg", ".jpeg"):
        raise ValueError(f"{path}: JPEG holds 8 bits per sample, not 16")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4))):
        raise ValueError(f"{path}: pixels must be H x W or H x W x 1/3/4, got shape {pixels.shape}")

    top = _MAX_BY_DEPTH[bit_depth]
    scaled = np.rint(np.clip(np.nan_to_num(pixels, nan=0.0), 0.0, 1.0) * top)
    encoded = scaled.astype(_DTYPE_BY_DEPTH[bit_depth])
    if encoded.ndim == 3:
        encoded = cv2.cvtColor(encoded, cv2.COLOR_RGB2BGR if encoded.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)

    with atomic_path(path) as tmp_path:
        try:
            with _quiet_opencv():
                written = cv2.imwrite(os.fspath(tmp_path), encoded)
        except cv2.error as exc:
            raise InputError(f"{path}: cannot write: {str(exc).strip().splitlines()[-1]}") from exc
        if not written:
            raise InputError(f"{path}: OpenCV could not write the image")


def _to_rgb(decoded: np.ndarray) -> np.ndarray:
    """OpenCV's BGR/BGRA/grey layouts as RGB or RGBA."""
    if decoded.ndim == 2:
        return np.repeat(decoded[:, :, None], 3, axis=2)
    channels = decoded.shape[2]
    if channels == 1:
        return np.repeat(decoded, 3, axis=2)
    if channels == 2:  # grey + alpha
        return np.concatenate([np.repeat(decoded[:, :, :1], 3, axis=2), decoded[:, :, 1:]], axis=2)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB if channels == 3 else cv2.COLOR_BGRA2RGBA)


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log for one call: a damaged file becomes our InputError, not stderr noise."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)
