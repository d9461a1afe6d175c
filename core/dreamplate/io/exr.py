"""Read and write one OpenEXR image: parts, views, channels, windows, header attributes. The module to import.

Wraps the `OpenEXR` binding and makes it safe on hostile files: headers are validated before any pixel
is decoded, the C library's stderr chatter is captured and turned into one-line `InputError`s, and a
part the binding silently drops after a decode failure is reported instead of read as empty. The pieces live
beside it, one concern each: `exr_info` (the types), `exr_header` (the raw header parser), `exr_capture` (the
library's output), `exr_layout` (chunk forensics) and `exr_channels` (decoded channels).
"""

from __future__ import annotations

import fractions
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR

from dreamplate.errors import InputError
from dreamplate.io.atomic import atomic_path
from dreamplate.io.exr_capture import first_line, library_message, open_exr
from dreamplate.io.exr_channels import cast_all, decoded_channels, luminance_chroma_to_rgb, view_channels
from dreamplate.io.exr_header import check_magic, scan_pixel_types
from dreamplate.io.exr_info import (
    COMPRESSION_BY_NAME,
    COMPRESSIONS,
    STRUCTURAL,
    Box,
    ChannelInfo,
    ExrImage,
    PartInfo,
    decoded_bytes,
    gib,
    part_info,
    window_size,
)
from dreamplate.io.exr_layout import check_layout, decode_deep

__all__ = [
    "COMPRESSIONS",
    "MAX_DECODED_BYTES",
    "Box",
    "ChannelInfo",
    "ExrImage",
    "PartInfo",
    "choose_part",
    "read_exr",
    "read_info",
    "verify_exr",
    "window_size",
    "write_exr",
]

log = logging.getLogger(__name__)

MAX_DECODED_BYTES = 8 * 1024**3
"""Refuse files whose pixels would take more than this once decoded (float32): fuzzed headers ask for TiBs."""

_DTYPE_BY_PIXEL_TYPE = {"half": np.float16, "float": np.float32, "uint": np.uint32}


def read_info(path: Path) -> list[PartInfo]:
    """Headers of every part, without decoding pixels.

    Raises InputError for a missing, non-EXR or damaged file, or one whose windows are invalid or whose
    pixels would need more than MAX_DECODED_BYTES.
    """
    check_magic(path)
    exr, _ = open_exr(path, "damaged OpenEXR header", header_only=True)
    pixel_types = scan_pixel_types(path, len(exr.parts))
    infos = [part_info(path, part, types) for part, types in zip(exr.parts, pixel_types, strict=True)]
    for info in infos:
        _check_windows(path, info)
    return infos


def read_exr(path: Path, *, part: int | str | None = None, view: str | None = None) -> ExrImage:
    """Pixels of one part and view of an EXR (default: the first part, the default view).

    `part` is an index or a part name; `view` a name from the multiView attribute or a part's `view`.
    Channels of the chosen view lose their view prefix; other views' channels are left out.
    Subsampled channels are upsampled to full resolution (linear), and Y/RY/BY become R, G, B.
    Raises InputError for anything damaged (any chunk of any part, level 0 or not), deep, oversized, or an
    unknown part or view.
    """
    infos = read_info(path)
    info = choose_part(path, infos, part, view)
    # Under 1 ms on a 2K ZIP frame (2% of the decode), and it finds damage outside what the library decodes.
    check_layout(path, infos)
    if info.storage.startswith("deep"):
        raise InputError(f"{path}: deep data is not supported; flatten it first")
    # The binding decodes every part, so all of them count against the limit.
    total = sum(decoded_bytes(i) for i in infos if not i.storage.startswith("deep"))
    if total > MAX_DECODED_BYTES:
        raise InputError(f"{path}: pixels need {gib(total)} decoded, over the {gib(MAX_DECODED_BYTES)} limit")

    exr, report = open_exr(path, "damaged pixel data", separate_channels=True)
    decoded = {p.part_index: p for p in exr.parts}
    if len(decoded) != len(infos) or report.errors:
        raise InputError(f"{path}: damaged pixel data: {library_message(path, None, report)}")

    chosen_view = _choose_view(path, info, view)
    names = [c.name for c in info.channels]
    renames = view_channels(names, info.views, chosen_view) if len(info.views) > 1 else {n: n for n in names}
    channels, pixel_types = decoded_channels(path, info, decoded[info.index], renames)
    if len(infos) > 1 or len(info.views) > 1:
        log.info("%s: reading part %d (%s), view %s", path, info.index, info.name or "unnamed", chosen_view)
    channels, pixel_types = luminance_chroma_to_rgb(channels, pixel_types, info.attributes)
    return ExrImage(
        channels=channels,
        pixel_types=pixel_types,
        data_window=info.data_window,
        display_window=info.display_window,
        attributes=dict(info.attributes),
        compression=info.compression,
        path=path,
        part=info.index,
        part_name=info.name,
        view=chosen_view,
    )


def verify_exr(path: Path) -> None:
    """Check the whole file without returning pixels: every part's chunk layout, and a full decode of deep parts.

    `read_exr` leaves gaps: the library decodes only level 0 of a tiled part, and a deep part is never decoded
    at all, so damage there passes unnoticed without this. Raises InputError naming the first problem.
    """
    infos = read_info(path)
    deep_samples = check_layout(path, infos)
    if deep_samples:
        decode_deep(path, infos, deep_samples, MAX_DECODED_BYTES)


def write_exr(path: Path, image: ExrImage, *, pixel_type: str = "half", compression: str = "zip") -> None:
    """Write `image` as a single-part scanline EXR, atomically (temp file in the same folder, then rename).

    `pixel_type` ("half" or "float") applies to every non-uint channel; uint channels stay uint.
    Values are written as given: no clipping of negatives, values over 65504 become inf in half.
    Attributes the binding cannot write are skipped (DEBUG log); `preview` is always dropped, since it
    pictures pixels that may have changed. Raises InputError when the folder is missing or unwritable,
    ValueError for an unknown pixel_type/compression or channels that do not fit the data window.
    """
    if pixel_type not in ("half", "float"):
        raise ValueError(f"pixel_type must be 'half' or 'float', got {pixel_type!r}")
    if compression not in COMPRESSION_BY_NAME:
        raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    xmin, ymin, xmax, ymax = image.data_window
    dxmin, dymin, dxmax, dymax = image.display_window
    header: dict[str, Any] = {key: value for key, value in image.attributes.items() if _writable_attribute(key, value)}
    header.update(
        compression=COMPRESSION_BY_NAME[compression],
        type=OpenEXR.scanlineimage,
        dataWindow=((xmin, ymin), (xmax, ymax)),
        displayWindow=((dxmin, dymin), (dxmax, dymax)),
    )
    channels = _channels_for_writing(path, image, pixel_type)

    with atomic_path(path) as tmp_path:
        try:
            OpenEXR.File(header, channels).write(os.fspath(tmp_path))
        except (RuntimeError, ValueError, TypeError, OSError) as exc:
            raise InputError(f"{path}: cannot write: {first_line(str(exc))}") from exc


def choose_part(path: Path, infos: list[PartInfo], part: int | str | None, view: str | None) -> PartInfo:
    """The part asked for by index or name, else the first one carrying `view`, else the first."""
    if isinstance(part, int):
        if not 0 <= part < len(infos):
            raise InputError(f"{path}: no part {part}; available: 0 to {len(infos) - 1}")
        return infos[part]
    if isinstance(part, str):
        for info in infos:
            if info.name == part:
                return info
        names = ", ".join(repr(i.name) for i in infos if i.name is not None) or "none named"
        raise InputError(f"{path}: no part named {part!r}; available: {names}")
    if view is not None and len(infos) > 1:
        # Multipart stereo: each part carries one `view`, which PartInfo keeps as a one-item list.
        for info in infos:
            if info.views == [view]:
                return info
        available = sorted({v for i in infos for v in i.views})
        raise InputError(f"{path}: no part has view {view!r}; available: {', '.join(available) or 'none'}")
    return infos[0]


def _choose_view(path: Path, info: PartInfo, view: str | None) -> str | None:
    if view is None:
        return info.views[0] if info.views else None
    if view not in info.views:
        available = ", ".join(info.views) or "none"
        raise InputError(f"{path}: part {info.index} has no view {view!r}; available: {available}")
    return view


def _check_windows(path: Path, info: PartInfo) -> None:
    for label, box in (("data window", info.data_window), ("display window", info.display_window)):
        if box[2] < box[0] or box[3] < box[1]:
            raise InputError(f"{path}: part {info.index} has an empty {label} {box}")
    for channel in info.channels:
        if channel.x_sampling < 1 or channel.y_sampling < 1:
            raise InputError(f"{path}: channel {channel.name} has sampling {channel.x_sampling}x{channel.y_sampling}")
        if channel.pixel_type not in _DTYPE_BY_PIXEL_TYPE:
            raise InputError(f"{path}: channel {channel.name} has pixel type {channel.pixel_type}")
    if not info.storage.startswith("deep") and decoded_bytes(info) > MAX_DECODED_BYTES:
        width, height = window_size(info.data_window)
        raise InputError(
            f"{path}: part {info.index} data window {width}x{height} with {len(info.channels)} channels needs "
            f"{gib(decoded_bytes(info))}, over the {gib(MAX_DECODED_BYTES)} limit"
        )


# --- writing helpers -----------------------------------------------------------------------------


def _channels_for_writing(path: Path, image: ExrImage, pixel_type: str) -> dict[str, np.ndarray]:
    width, height = window_size(image.data_window)
    dtypes: dict[str, Any] = {}
    for name, pixels in image.channels.items():
        if pixels.shape != (height, width):
            raise ValueError(f"{path}: channel {name} is {pixels.shape[1::-1]} but the data window is {width}x{height}")
        is_uint = image.pixel_types.get(name, "uint" if pixels.dtype.kind == "u" else "") == "uint"
        dtypes[name] = np.uint32 if is_uint else _DTYPE_BY_PIXEL_TYPE[pixel_type]
    return cast_all(image.channels, dtypes)


_INT32 = (-(2**31), 2**31 - 1)
_ARRAY_SHAPES = {(2,), (3,), (3, 3), (4, 4)}
_BINDING_TYPES = (
    OpenEXR.TimeCode,
    OpenEXR.KeyCode,
    OpenEXR.Envmap,
    OpenEXR.OpaqueAttribute,
    OpenEXR.IDManifest,
)


def _writable_attribute(name: str, value: Any) -> bool:
    """Whether the binding writes this value faithfully; it rejects some types and wraps big ints to 0."""
    if name in STRUCTURAL or name == "preview":
        log.debug("not writing header attribute %s: it describes the source file", name)
        return False
    if _is_writable_value(value):
        return True
    log.debug("not writing header attribute %s: the binding cannot write a %s", name, type(value).__name__)
    return False


def _is_writable_value(value: Any) -> bool:
    if isinstance(value, (str, float, *_BINDING_TYPES)):
        return True
    if isinstance(value, int):
        return _INT32[0] <= value <= _INT32[1]
    if isinstance(value, fractions.Fraction):
        return _INT32[0] <= value.numerator <= _INT32[1] and 0 < value.denominator <= 2**32 - 1
    if isinstance(value, np.ndarray):
        if value.dtype == np.float64 and value.shape == (1,):
            return True
        return value.dtype in (np.int32, np.float32, np.float64) and value.shape in _ARRAY_SHAPES
    if isinstance(value, list):
        return bool(value) and (all(isinstance(v, str) for v in value) or all(isinstance(v, float) for v in value))
    if isinstance(value, tuple):
        if len(value) == 8:
            return all(isinstance(v, float | int) for v in value)
        return len(value) == 2 and all(np.asarray(v).shape == (2,) for v in value)
    return False
