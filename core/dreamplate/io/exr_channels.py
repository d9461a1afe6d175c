"""Decoded channels as dreamplate hands them out: one view's channels under plain names, float32/uint32, full size.

What the binding returns is reshaped here: multi-view names lose their view, half becomes float32 (cast on threads,
since that cast is most of the cost on a 2K frame), subsampled channels are upsampled, and luminance/chroma
(Y, RY, BY) becomes R, G, B.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from dreamplate.errors import InputError
from dreamplate.io.exr_info import PartInfo, window_size


def view_channels(names: list[str], views: list[str], view: str | None) -> dict[str, str]:
    """The channels of `view` (and those of no view), each mapped to its name without the view.

    OpenEXR's multi-view rule: a name with no dot belongs to the default (first) view; otherwise the
    second-to-last dotted component names the view, and a component that is not a view means no view.
    """
    kept: dict[str, str] = {}
    for name in names:
        parts = name.split(".")
        if len(parts) == 1:
            owner, plain = views[0], name
        elif parts[-2] in views:
            owner, plain = parts[-2], ".".join(parts[:-2] + parts[-1:])
        else:
            owner, plain = None, name
        if owner is None or owner == view:
            kept[name] = plain
    return kept


def decoded_channels(
    path: Path, info: PartInfo, part: Any, renames: dict[str, str]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The channels in `renames`, under their new names, as float32/uint32 arrays over the full data window.

    Every channel is checked against the header first, kept or not: a short one means a damaged file.
    """
    width, height = window_size(info.data_window)
    for declared in info.channels:
        decoded = part.channels.get(declared.name)
        expected = ((height - 1) // declared.y_sampling + 1, (width - 1) // declared.x_sampling + 1)
        if decoded is None or decoded.pixels.shape != expected:
            got = "nothing" if decoded is None else "x".join(map(str, decoded.pixels.shape[::-1]))
            raise InputError(
                f"{path}: damaged pixel data: channel {declared.name} decoded to {got}, "
                f"expected {expected[1]}x{expected[0]}"
            )
    kept = [c for c in info.channels if c.name in renames]
    channels = cast_all(
        {renames[c.name]: part.channels[c.name].pixels for c in kept},
        {renames[c.name]: np.uint32 if c.pixel_type == "uint" else np.float32 for c in kept},
    )
    for declared in kept:
        if declared.x_sampling > 1 or declared.y_sampling > 1:
            name = renames[declared.name]
            channels[name] = upsample(channels[name], declared.x_sampling, declared.y_sampling, width, height)
    return channels, {renames[c.name]: c.pixel_type for c in kept}


# Below this many samples a cast is faster than handing it to a thread.
_PARALLEL_CAST_MIN_SIZE = 1 << 18
_cast_pool: tuple[int, ThreadPoolExecutor] | None = None
_cast_pool_lock = threading.Lock()


def cast_all(arrays: dict[str, np.ndarray], dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each array as a C-contiguous array of its dtype, big ones cast on a thread each.

    half <-> float32 casts are most of what this module adds to the codec's time on a 2K frame, and
    numpy releases the GIL while casting, so threads halve it on two cores.
    """

    def cast(name: str) -> np.ndarray:
        # Overflow to inf is the faithful half of a value above 65504: not worth a warning.
        with np.errstate(over="ignore"):
            return np.ascontiguousarray(arrays[name], dtype=dtypes[name])

    names = list(arrays)
    if len(names) < 2 or max(a.size for a in arrays.values()) < _PARALLEL_CAST_MIN_SIZE:
        return {name: cast(name) for name in names}
    return dict(zip(names, _pool().map(cast, names), strict=True))


def _pool() -> ThreadPoolExecutor:
    """A process-wide cast pool, remade after a fork (a forked child inherits a pool without threads)."""
    global _cast_pool
    with _cast_pool_lock:
        if _cast_pool is None or _cast_pool[0] != os.getpid():
            _cast_pool = (os.getpid(), ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)))
        return _cast_pool[1]


def upsample(pixels: np.ndarray, x_sampling: int, y_sampling: int, width: int, height: int) -> np.ndarray:
    """Linear interpolation of a subsampled channel to width x height.

    OpenEXR requires windows aligned to the sampling, so sample i sits at pixel i * sampling.
    """
    source = pixels.astype(np.float32, copy=False)
    return _lerp_axis(_lerp_axis(source, y_sampling, height, axis=0), x_sampling, width, axis=1)


def _lerp_axis(values: np.ndarray, sampling: int, size: int, axis: int) -> np.ndarray:
    if sampling == 1:
        return values
    position = np.arange(size, dtype=np.float32) / sampling
    count = values.shape[axis]
    lower = np.minimum(position.astype(np.int64), count - 1)
    upper = np.minimum(lower + 1, count - 1)
    weight = position - lower
    shape = [1, 1]
    shape[axis] = size
    weight = weight.reshape(shape)
    return np.take(values, lower, axis=axis) * (1 - weight) + np.take(values, upper, axis=axis) * weight


_REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


def luminance_weights(chromaticities: tuple[float, ...]) -> np.ndarray:
    """The Y row of the RGB to XYZ matrix of these primaries and white point, as OpenEXR's RgbaYca uses."""
    rx, ry, gx, gy, bx, by, wx, wy = (float(c) for c in chromaticities)
    # Unnormalised xyz columns: a primary with y = 0 (the XYZ "primaries") stays finite.
    primaries = np.array([[rx, gx, bx], [ry, gy, by], [1 - rx - ry, 1 - gx - gy, 1 - bx - by]])
    scale = np.linalg.solve(primaries, np.array([wx / wy, 1.0, (1 - wx - wy) / wy]))
    return primaries[1] * scale


def luminance_chroma_to_rgb(
    channels: dict[str, np.ndarray], pixel_types: dict[str, str], attributes: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Turn every Y/RY/BY triple (any layer prefix) into R, G, B; a lone Y stays Y.

    RY = (R - Y) / Y and BY = (B - Y) / Y, with Y weighted by the file's chromaticities (Rec.709 if absent).
    """
    yw = luminance_weights(attributes.get("chromaticities", _REC709_CHROMATICITIES))
    for prefix in [name[:-2] for name in channels if name.endswith("RY")]:
        names = (prefix + "Y", prefix + "RY", prefix + "BY")
        if not all(name in channels for name in names):
            continue
        luminance, ry, by = (channels.pop(name) for name in names)
        pixel_type = pixel_types[names[0]]
        for name in names:
            del pixel_types[name]
        red = (ry + 1) * luminance
        blue = (by + 1) * luminance
        green = (luminance - red * yw[0] - blue * yw[2]) / yw[1]
        for letter, plane in zip("RGB", (red, green, blue), strict=True):
            channels[prefix + letter] = plane.astype(np.float32, copy=False)
            pixel_types[prefix + letter] = pixel_type
    return channels, pixel_types
