"""Read and write one OpenEXR image: parts, views, channels, windows, header attributes.

Wraps the `OpenEXR` binding and makes it safe on hostile files: headers are validated before any pixel
is decoded, the C library's stderr chatter is captured and turned into one-line `InputError`s, and a
part the binding silently drops after a decode failure is reported instead of read as empty.
"""

from __future__ import annotations

import contextlib
import fractions
import io
import logging
import os
import struct
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import OpenEXR

from dreamplate.errors import InputError
from dreamplate.io.atomic import atomic_path

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]
"""(xmin, ymin, xmax, ymax), inclusive, exactly as EXR stores windows."""

MAX_DECODED_BYTES = 8 * 1024**3
"""Refuse files whose pixels would take more than this once decoded (float32): fuzzed headers ask for TiBs."""

_MAGIC = b"\x76\x2f\x31\x01"
_SINGLE_PART_TILED = 0x200  # version flags
_MULTIPART = 0x1000

# The raw header attributes the structural check needs, with the type each must have.
_LAYOUT_ATTRIBUTES = {
    "channels": "chlist",
    "compression": "compression",
    "dataWindow": "box2i",
    "tiles": "tiledesc",
    "chunkCount": "int",
    "type": "string",
}

_COMPRESSION_BY_NAME = {
    "none": OpenEXR.NO_COMPRESSION,
    "rle": OpenEXR.RLE_COMPRESSION,
    "zips": OpenEXR.ZIPS_COMPRESSION,
    "zip": OpenEXR.ZIP_COMPRESSION,
    "piz": OpenEXR.PIZ_COMPRESSION,
    "pxr24": OpenEXR.PXR24_COMPRESSION,
    "b44": OpenEXR.B44_COMPRESSION,
    "b44a": OpenEXR.B44A_COMPRESSION,
    "dwaa": OpenEXR.DWAA_COMPRESSION,
    "dwab": OpenEXR.DWAB_COMPRESSION,
}
# HTJ2K and ZSTD are left out on purpose: hosts built on OpenEXR < 3.4 (most comp packages today) cannot
# read them, and a plate nobody downstream can open is worse than a larger one.
COMPRESSIONS: tuple[str, ...] = tuple(_COMPRESSION_BY_NAME)

_STORAGE_NAMES = {
    OpenEXR.scanlineimage: "scanline",
    OpenEXR.tiledimage: "tiled",
    OpenEXR.deepscanline: "deepscanline",
    OpenEXR.deeptile: "deeptile",
}
_PIXEL_TYPE_NAMES = {0: "uint", 1: "half", 2: "float"}
_DTYPE_BY_PIXEL_TYPE = {"half": np.float16, "float": np.float32, "uint": np.uint32}

# Header entries that describe layout rather than content: exposed as fields, never copied between files.
_STRUCTURAL = frozenset(
    {
        "channels",
        "dataWindow",
        "displayWindow",
        "compression",
        "type",
        "tiles",
        "chunkCount",
        "lineOrder",
        "name",
        "view",
        "multiView",
        "version",
        "maxSamplesPerPixel",
    }
)

# The decoder reports chunk errors on fd 2 and the binding prints part failures to sys.stdout; both
# streams are process-wide, so captures are serialised.
_CAPTURE_LOCK = threading.Lock()
_PART_FAILURE = "Warning: Exception raised reading pixel data for part"


@dataclass
class ChannelInfo:
    """One channel as the header declares it."""

    name: str
    pixel_type: str  # "half" | "float" | "uint"
    x_sampling: int
    y_sampling: int


@dataclass
class PartInfo:
    """Everything the header of one part says, read without decoding pixels."""

    index: int
    name: str | None
    storage: str  # "scanline" | "tiled" | "deepscanline" | "deeptile"
    data_window: Box
    display_window: Box
    channels: list[ChannelInfo]
    compression: str
    views: list[str]  # the multiView attribute, or [view] for a part that carries `view`; [] if neither
    attributes: dict[str, Any]  # non-structural header attributes, as the binding returns them


@dataclass
class ExrImage:
    """Pixels and header of one part (and one view) of an EXR.

    `channels` maps name to a 2-D array over the data window (H x W): float32 for half and float channels,
    uint32 for uint ones. Luminance/chroma files arrive as R, G, B.
    """

    channels: dict[str, np.ndarray]
    pixel_types: dict[str, str]
    data_window: Box
    display_window: Box
    attributes: dict[str, Any] = field(default_factory=dict)
    compression: str = "zip"
    path: Path | None = None
    part: int = 0
    part_name: str | None = None
    view: str | None = None


def window_size(box: Box) -> tuple[int, int]:
    """Width and height of an inclusive window."""
    return box[2] - box[0] + 1, box[3] - box[1] + 1


def read_info(path: Path) -> list[PartInfo]:
    """Headers of every part, without decoding pixels.

    Raises InputError for a missing, non-EXR or damaged file, or one whose windows are invalid or whose
    pixels would need more than MAX_DECODED_BYTES.
    """
    _check_magic(path)
    exr, _ = _open(path, "damaged OpenEXR header", header_only=True)
    pixel_types = _scan_pixel_types(path, len(exr.parts))
    infos = [_part_info(path, part, types) for part, types in zip(exr.parts, pixel_types, strict=True)]
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
    _check_layout(path, infos)
    if info.storage.startswith("deep"):
        raise InputError(f"{path}: deep data is not supported; flatten it first")
    # The binding decodes every part, so all of them count against the limit.
    total = sum(_decoded_bytes(i) for i in infos if not i.storage.startswith("deep"))
    if total > MAX_DECODED_BYTES:
        raise InputError(f"{path}: pixels need {_gib(total)} decoded, over the {_gib(MAX_DECODED_BYTES)} limit")

    exr, report = _open(path, "damaged pixel data", separate_channels=True)
    decoded = {p.part_index: p for p in exr.parts}
    if len(decoded) != len(infos) or report.errors:
        raise InputError(f"{path}: damaged pixel data: {_library_message(path, None, report)}")

    chosen_view = _choose_view(path, info, view)
    names = [c.name for c in info.channels]
    renames = _view_channels(names, info.views, chosen_view) if len(info.views) > 1 else {n: n for n in names}
    channels, pixel_types = _decoded_channels(path, info, decoded[info.index], renames)
    if len(infos) > 1 or len(info.views) > 1:
        log.info("%s: reading part %d (%s), view %s", path, info.index, info.name or "unnamed", chosen_view)
    channels, pixel_types = _luminance_chroma_to_rgb(channels, pixel_types, info.attributes)
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
    deep_samples = _check_layout(path, infos)
    if deep_samples:
        _decode_deep(path, infos, deep_samples)


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
    if compression not in _COMPRESSION_BY_NAME:
        raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    xmin, ymin, xmax, ymax = image.data_window
    dxmin, dymin, dxmax, dymax = image.display_window
    header: dict[str, Any] = {key: value for key, value in image.attributes.items() if _writable_attribute(key, value)}
    header.update(
        compression=_COMPRESSION_BY_NAME[compression],
        type=OpenEXR.scanlineimage,
        dataWindow=((xmin, ymin), (xmax, ymax)),
        displayWindow=((dxmin, dymin), (dxmax, dymax)),
    )
    channels = _channels_for_writing(path, image, pixel_type)

    with atomic_path(path) as tmp_path:
        try:
            OpenEXR.File(header, channels).write(os.fspath(tmp_path))
        except (RuntimeError, ValueError, TypeError, OSError) as exc:
            raise InputError(f"{path}: cannot write: {_first_line(str(exc))}") from exc


# --- reading helpers -----------------------------------------------------------------------------


def _check_magic(path: Path) -> None:
    """Refuse missing files and non-EXR files before the library sees them."""
    try:
        with open(path, "rb") as stream:
            magic = stream.read(4)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a folder, not an OpenEXR file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    if magic != _MAGIC:
        raise InputError(f"{path}: not an OpenEXR file")


def _open(path: Path, problem: str, **options: bool) -> tuple[Any, _LibraryReport]:
    """`OpenEXR.File(path, **options)` with the library's output captured; its exceptions become InputError."""
    failure: Exception | None = None
    with _library_output(path) as report:
        try:
            exr = OpenEXR.File(os.fspath(path), **options)
        except (RuntimeError, ValueError, TypeError, OSError) as exc:
            failure = exc
    # Only now, with the capture closed, does the report hold what the library printed.
    if failure is not None:
        raise InputError(f"{path}: {problem}: {_library_message(path, failure, report)}") from failure
    return exr, report


@dataclass
class _LibraryReport:
    """What the OpenEXR library printed during one call, split by where it came from."""

    errors: list[str] = field(default_factory=list)  # decoder lines "<path>: (EXR_ERR_...) ..."
    part_failures: list[str] = field(default_factory=list)  # the binding's "part N - reason" lines


@contextlib.contextmanager
def _library_output(path: Path) -> Iterator[_LibraryReport]:
    """Capture fd 2 and sys.stdout around a library call; lines that are not the library's go back out."""
    report = _LibraryReport()
    prefix = f"{os.fspath(path)}: "
    stdout_text = io.StringIO()
    with _CAPTURE_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved_fd = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(stdout_text):
                yield report
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                if line.startswith(prefix):
                    report.errors.append(line[len(prefix) :])
                else:
                    os.write(2, (line + "\n").encode())
            for line in stdout_text.getvalue().splitlines():
                if line.startswith(_PART_FAILURE):
                    report.part_failures.append(line[len(_PART_FAILURE) :].strip())
                else:
                    sys.stdout.write(line + "\n")


def _library_message(path: Path, exc: BaseException | None, report: _LibraryReport) -> str:
    """The most telling one-line reason: the decoder's first error, else the binding's, else the exception's."""
    if report.errors:
        text = report.errors[0]
        if len(report.errors) > 1:
            text += f" (and {len(report.errors) - 1} more errors)"
    elif report.part_failures:
        text = f"part {report.part_failures[0]}"
    elif isinstance(exc, UnicodeDecodeError):
        text = "a text attribute is not valid UTF-8"
    elif exc is not None:
        text = _LIBRARY_PHRASES.get(str(exc).split(" '")[0], str(exc))
    else:
        text = "a part failed to decode"
    # The library repeats the full path inside its messages; the prefix of ours already names the file.
    return _first_line(text.replace(os.fspath(path), path.name))


# The binding's header errors quote the path and say little else; say what they mean instead.
_LIBRARY_PHRASES = {
    "Unable to open": "corrupt or truncated",
    "Invalid or missing attribute when attempting to open": "an attribute is invalid or missing",
}


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _scan_pixel_types(path: Path, part_count: int) -> list[dict[str, str]]:
    """Channel pixel types of every part, from the raw header: the binding only reports them with pixels."""
    headers, _, _ = _scan_headers(path, part_count)
    try:
        return [_parse_chlist(header["channels"]) if "channels" in header else {} for header in headers]
    except (struct.error, ValueError) as exc:
        raise InputError(f"{path}: damaged OpenEXR header: bad channel list ({exc})") from exc


def _scan_headers(path: Path, part_count: int) -> tuple[list[dict[str, bytes]], int, bool]:
    """The raw layout attributes of every part's header, where the offset tables begin, and the multipart flag."""
    try:
        with open(path, "rb") as stream:
            stream.seek(4)
            (version,) = struct.unpack("<i", _read_exact(stream, 4))
            multipart = bool(version & _MULTIPART)
            headers = [_scan_header(stream) for _ in range(part_count if multipart else 1)]
            if multipart and _read_exact(stream, 1) != b"\0":
                raise EOFError(f"more headers than the {part_count} parts the library found")
            tables_start = stream.tell()
    except (struct.error, ValueError, EOFError) as exc:
        reason = "an attribute name is not text" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise InputError(f"{path}: damaged OpenEXR header: {reason}") from exc
    if len(headers) != part_count:
        raise InputError(f"{path}: damaged OpenEXR header: {part_count} parts but {len(headers)} headers")
    if not multipart and "type" not in headers[0]:
        headers[0]["type"] = b"tiledimage" if version & _SINGLE_PART_TILED else b"scanlineimage"
    return headers, tables_start, multipart


def _scan_header(stream: BinaryIO) -> dict[str, bytes]:
    """Walk one header's attributes to its terminating null byte; return the layout ones, raw."""
    layout: dict[str, bytes] = {}
    while name := _read_cstring(stream):
        type_name = _read_cstring(stream)
        (size,) = struct.unpack("<i", _read_exact(stream, 4))
        if size < 0:
            raise EOFError(f"attribute {name} has negative size {size}")
        if _LAYOUT_ATTRIBUTES.get(name) == type_name:
            layout[name] = _read_exact(stream, size)
        else:
            stream.seek(size, os.SEEK_CUR)
    return layout


def _parse_chlist(data: bytes) -> dict[str, str]:
    types: dict[str, str] = {}
    offset = 0
    while (end := data.index(b"\0", offset)) != offset:
        channel = data[offset:end].decode()
        (pixel_type,) = struct.unpack_from("<i", data, end + 1)
        types[channel] = _PIXEL_TYPE_NAMES.get(pixel_type, f"unknown({pixel_type})")
        offset = end + 1 + 16  # pixel type, pLinear + 3 reserved bytes, x and y sampling
    return types


def _read_cstring(stream: BinaryIO) -> str:
    chars = bytearray()
    while (byte := _read_exact(stream, 1)) != b"\0":
        chars += byte
        if len(chars) > 255:
            raise EOFError("attribute name longer than 255 bytes")
    return chars.decode()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("header ends before its terminator")
    return data


def _part_info(path: Path, part: Any, pixel_types: dict[str, str]) -> PartInfo:
    header = part.header
    try:
        channels = [
            ChannelInfo(c.name, pixel_types[c.name], int(c.xSampling), int(c.ySampling)) for c in header["channels"]
        ]
        info = PartInfo(
            index=int(part.part_index),
            name=header.get("name"),
            storage=_STORAGE_NAMES[header["type"]],
            data_window=_box(header["dataWindow"]),
            display_window=_box(header["displayWindow"]),
            channels=channels,
            compression=_compression_name(header["compression"]),
            views=list(header.get("multiView") or ([header["view"]] if "view" in header else [])),
            attributes={k: v for k, v in header.items() if k not in _STRUCTURAL},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: damaged OpenEXR header: bad or missing {exc}") from exc
    return info


def _compression_name(compression: Any) -> str:
    """Our short name ("zip", "none"), also for codecs we do not write ("zstd", "htj2k32")."""
    for name, value in _COMPRESSION_BY_NAME.items():
        if value == compression:
            return name
    return compression.name.removesuffix("_COMPRESSION").lower()


def _box(value: Any) -> Box:
    (xmin, ymin), (xmax, ymax) = value
    return int(xmin), int(ymin), int(xmax), int(ymax)


def _check_windows(path: Path, info: PartInfo) -> None:
    for label, box in (("data window", info.data_window), ("display window", info.display_window)):
        if box[2] < box[0] or box[3] < box[1]:
            raise InputError(f"{path}: part {info.index} has an empty {label} {box}")
    for channel in info.channels:
        if channel.x_sampling < 1 or channel.y_sampling < 1:
            raise InputError(f"{path}: channel {channel.name} has sampling {channel.x_sampling}x{channel.y_sampling}")
        if channel.pixel_type not in _DTYPE_BY_PIXEL_TYPE:
            raise InputError(f"{path}: channel {channel.name} has pixel type {channel.pixel_type}")
    if not info.storage.startswith("deep") and _decoded_bytes(info) > MAX_DECODED_BYTES:
        width, height = window_size(info.data_window)
        raise InputError(
            f"{path}: part {info.index} data window {width}x{height} with {len(info.channels)} channels needs "
            f"{_gib(_decoded_bytes(info))}, over the {_gib(MAX_DECODED_BYTES)} limit"
        )


def _decoded_bytes(info: PartInfo) -> int:
    """Bytes the part takes once read: every channel full resolution, 4 bytes a sample."""
    width, height = window_size(info.data_window)
    return width * height * len(info.channels) * 4


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"


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


def _view_channels(names: list[str], views: list[str], view: str | None) -> dict[str, str]:
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


def _decoded_channels(
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
    channels = _cast_all(
        {renames[c.name]: part.channels[c.name].pixels for c in kept},
        {renames[c.name]: np.uint32 if c.pixel_type == "uint" else np.float32 for c in kept},
    )
    for declared in kept:
        if declared.x_sampling > 1 or declared.y_sampling > 1:
            name = renames[declared.name]
            channels[name] = _upsample(channels[name], declared.x_sampling, declared.y_sampling, width, height)
    return channels, {renames[c.name]: c.pixel_type for c in kept}


# Below this many samples a cast is faster than handing it to a thread.
_PARALLEL_CAST_MIN_SIZE = 1 << 18
_cast_pool: tuple[int, ThreadPoolExecutor] | None = None
_cast_pool_lock = threading.Lock()


def _cast_all(arrays: dict[str, np.ndarray], dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
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


def _upsample(pixels: np.ndarray, x_sampling: int, y_sampling: int, width: int, height: int) -> np.ndarray:
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


def _luminance_weights(chromaticities: tuple[float, ...]) -> np.ndarray:
    """The Y row of the RGB to XYZ matrix of these primaries and white point, as OpenEXR's RgbaYca uses."""
    rx, ry, gx, gy, bx, by, wx, wy = (float(c) for c in chromaticities)
    # Unnormalised xyz columns: a primary with y = 0 (the XYZ "primaries") stays finite.
    primaries = np.array([[rx, gx, bx], [ry, gy, by], [1 - rx - ry, 1 - gx - gy, 1 - bx - by]])
    scale = np.linalg.solve(primaries, np.array([wx / wy, 1.0, (1 - wx - wy) / wy]))
    return primaries[1] * scale


def _luminance_chroma_to_rgb(
    channels: dict[str, np.ndarray], pixel_types: dict[str, str], attributes: dict[str, Any]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Turn every Y/RY/BY triple (any layer prefix) into R, G, B; a lone Y stays Y.

    RY = (R - Y) / Y and BY = (B - Y) / Y, with Y weighted by the file's chromaticities (Rec.709 if absent).
    """
    yw = _luminance_weights(attributes.get("chromaticities", _REC709_CHROMATICITIES))
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


# --- structural check ----------------------------------------------------------------------------

# Scanlines per chunk by compression code; a code not listed (newer codecs) gets its y values range-checked only.
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256, 10: 256, 11: 32}
_LEADERS = {
    "scanline": [("y", "<i4"), ("size", "<i4")],
    "tiled": [("tx", "<i4"), ("ty", "<i4"), ("lx", "<i4"), ("ly", "<i4"), ("size", "<i4")],
    "deepscanline": [("y", "<i4"), ("table", "<u8"), ("size", "<u8"), ("unpacked", "<u8")],
    "deeptile": [
        *[(name, "<i4") for name in ("tx", "ty", "lx", "ly")],
        *[(name, "<u8") for name in ("table", "size", "unpacked")],
    ],
}
_SAMPLE_BYTES = {"half": 2, "float": 4, "uint": 4}
_DEEP_PIXEL_BYTES = 128
"""What the binding spends per deep pixel and channel besides the samples: a slot and a small numpy array."""


@dataclass
class _Layout:
    """Where one part's chunks should be, per its header."""

    chunk_count: int
    leader: np.dtype
    lines_per_chunk: int | None = None  # scanline parts
    tiles: tuple[int, int] = (0, 0)  # tiled parts: tile width and height
    level_mode: int = 0  # 0 one level, 1 mipmap, 2 ripmap
    tiles_x: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # tiles across, per x level
    tiles_y: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # tiles down, per y level


def _check_layout(path: Path, infos: list[PartInfo]) -> dict[int, int]:
    """Check every offset table and chunk leader against the headers; return the deep samples per deep part.

    Vectorised over chunks with a memory map, so a file costs a few ms whatever its size.
    """
    headers, position, multipart = _scan_headers(path, len(infos))
    file_size = path.stat().st_size
    layouts = [_part_layout(path, info, header, multipart) for info, header in zip(infos, headers, strict=True)]
    tables = []
    for info, layout in zip(infos, layouts, strict=True):
        if position + 8 * layout.chunk_count > file_size:
            raise InputError(f"{path}: truncated: part {info.index} offset table of {layout.chunk_count} chunks")
        with open(path, "rb") as stream:
            stream.seek(position)
            tables.append(np.frombuffer(stream.read(8 * layout.chunk_count), "<u8").astype(np.int64, copy=False))
        position += 8 * layout.chunk_count
    data = np.memmap(path, np.uint8, mode="r")
    starts, ends = [], []
    deep_samples: dict[int, int] = {}
    for info, layout, offsets in zip(infos, layouts, tables, strict=True):
        leader_size = layout.leader.itemsize
        outside = (offsets < position) | (offsets > file_size - leader_size)
        if outside.any():
            chunk = int(np.argmax(outside))
            raise InputError(
                f"{path}: part {info.index} chunk {chunk} offset {int(offsets[chunk])} is outside the chunk area "
                f"({position}..{file_size})"
            )
        leaders = data[offsets[:, None] + np.arange(leader_size)].view(layout.leader).ravel()
        end = _check_leaders(path, info, layout, leaders, offsets, file_size)
        starts.append(offsets)
        ends.append(end)
        if info.storage.startswith("deep"):
            sample_bytes = sum(_SAMPLE_BYTES[c.pixel_type] for c in info.channels)
            unpacked = leaders["unpacked"].astype(np.int64)
            if (unpacked % max(sample_bytes, 1)).any():
                raise InputError(f"{path}: part {info.index} has a chunk whose samples do not fill whole pixels")
            # The library decodes level 0 only, so only its samples can be compared with the decode.
            if info.storage == "deeptile":
                unpacked = unpacked[(leaders["lx"] == 0) & (leaders["ly"] == 0)]
            deep_samples[info.index] = int(unpacked.sum()) // max(sample_bytes, 1)
    del data
    order = np.argsort(np.concatenate(starts), kind="stable")
    start, end = np.concatenate(starts)[order], np.concatenate(ends)[order]
    if (end[:-1] > start[1:]).any():
        raise InputError(f"{path}: two chunks overlap at offset {int(start[1:][np.argmax(end[:-1] > start[1:])])}")
    return deep_samples


def _part_layout(path: Path, info: PartInfo, header: dict[str, bytes], multipart: bool) -> _Layout:
    """Chunk count, leader format and the valid chunk coordinates of one part, from its raw header."""
    fields = ([("part", "<i4")] if multipart else []) + _LEADERS[info.storage]
    layout = _Layout(chunk_count=0, leader=np.dtype(fields))
    xmin, ymin, xmax, ymax = info.data_window
    width, height = xmax - xmin + 1, ymax - ymin + 1
    if info.storage in ("tiled", "deeptile"):
        if len(header.get("tiles", b"")) != 9:
            raise InputError(f"{path}: part {info.index} is tiled but has no valid tile description")
        tile_x, tile_y, mode = struct.unpack("<IIB", header["tiles"])
        layout.level_mode, round_up = mode & 0xF, bool(mode >> 4)
        if tile_x < 1 or tile_y < 1 or layout.level_mode > 2 or mode >> 4 > 1:
            raise InputError(f"{path}: part {info.index} has an invalid tile description {tile_x}x{tile_y} mode {mode}")
        layout.tiles = (tile_x, tile_y)
        if layout.level_mode == 1:  # mipmap levels follow the longer side
            count = _level_count(max(width, height), round_up)
            x_levels, y_levels = count, count
        else:
            x_levels = _level_count(width, round_up) if layout.level_mode == 2 else 1
            y_levels = _level_count(height, round_up) if layout.level_mode == 2 else 1
        layout.tiles_x = np.array([-(-_level_size(width, lv, round_up) // tile_x) for lv in range(x_levels)])
        layout.tiles_y = np.array([-(-_level_size(height, lv, round_up) // tile_y) for lv in range(y_levels)])
        if layout.level_mode == 1:
            expected: int | None = int((layout.tiles_x * layout.tiles_y).sum())
        else:
            expected = int(np.outer(layout.tiles_y, layout.tiles_x).sum())
    else:
        compression = header.get("compression", b"\0")[0]
        layout.lines_per_chunk = _LINES_PER_CHUNK.get(compression)
        expected = -(-height // layout.lines_per_chunk) if layout.lines_per_chunk else None
    declared = struct.unpack("<i", header["chunkCount"])[0] if len(header.get("chunkCount", b"")) == 4 else None
    if declared is not None and expected is not None and declared != expected:
        raise InputError(f"{path}: part {info.index} declares {declared} chunks but its header implies {expected}")
    count = declared if declared is not None else expected
    if count is None:
        raise InputError(f"{path}: part {info.index} has no chunkCount and an unknown compression {info.compression}")
    if count < 0:
        raise InputError(f"{path}: part {info.index} declares {count} chunks")
    layout.chunk_count = count
    return layout


def _level_count(size: int, round_up: bool) -> int:
    """Resolution levels down to one pixel: floor or ceil of log2(size), plus one."""
    return ((size - 1).bit_length() if round_up else size.bit_length() - 1) + 1


def _level_size(size: int, level: int, round_up: bool) -> int:
    return max((size + (1 << level) - 1 if round_up else size) >> level, 1)


def _check_leaders(
    path: Path, info: PartInfo, layout: _Layout, leaders: np.ndarray, offsets: np.ndarray, file_size: int
) -> np.ndarray:
    """Raise on the first leader that names the wrong part or coordinates, or data past the end; return chunk ends."""
    where = f"{path}: part {info.index}"

    def first(bad: np.ndarray, problem: str) -> None:
        if bad.any():
            chunk = int(np.argmax(bad))
            raise InputError(f"{where} chunk {chunk} at offset {int(offsets[chunk])}: {problem(chunk)}")

    names = layout.leader.names
    if "part" in names:
        first(leaders["part"] != info.index, lambda c: f"leader names part {int(leaders['part'][c])}")
    if "y" in names:
        y = leaders["y"].astype(np.int64)
        bad = (y < info.data_window[1]) | (y > info.data_window[3])
        if layout.lines_per_chunk:
            bad |= (y - info.data_window[1]) % layout.lines_per_chunk != 0
        first(
            bad, lambda c: f"scanline {int(y[c])} is not a chunk start in {info.data_window[1]}..{info.data_window[3]}"
        )
        keys = y
    else:
        tx, ty, lx, ly = (leaders[name].astype(np.int64) for name in ("tx", "ty", "lx", "ly"))
        levels_x, levels_y = len(layout.tiles_x), len(layout.tiles_y)
        bad = (lx < 0) | (lx >= levels_x) | (ly < 0) | (ly >= levels_y)
        if layout.level_mode == 1:
            bad |= lx != ly
        first(bad, lambda c: f"level ({int(lx[c])}, {int(ly[c])}) does not exist")
        bad = (tx < 0) | (tx >= layout.tiles_x[lx]) | (ty < 0) | (ty >= layout.tiles_y[ly])
        first(bad, lambda c: f"tile ({int(tx[c])}, {int(ty[c])}) is outside level ({int(lx[c])}, {int(ly[c])})")
        keys = ((ly * levels_x + lx) * int(layout.tiles_y.max()) + ty) * int(layout.tiles_x.max()) + tx
    if np.unique(keys).size != keys.size:
        raise InputError(f"{where}: two chunks hold the same {'scanlines' if 'y' in names else 'tile'}")
    if info.storage.startswith("deep"):
        table, size = leaders["table"], leaders["size"]
        first((table > file_size) | (size > file_size), lambda c: "declares more data than the file holds")
        # Writers store a chunk raw when compressing does not shrink it, so packed never exceeds unpacked.
        unpacked = leaders["unpacked"]
        mismatch = (size != unpacked) if info.compression == "none" else (size > unpacked)
        first(
            mismatch, lambda c: f"packed sample data of {int(size[c])} bytes does not match {int(unpacked[c])} unpacked"
        )
        data_size = table.astype(np.int64) + size.astype(np.int64)
    else:
        data_size = leaders["size"].astype(np.int64)
        first(data_size < 0, lambda c: f"declares a negative size {int(data_size[c])}")
    end = offsets + layout.leader.itemsize + data_size
    first(end > file_size, lambda c: f"data runs {int(end[c] - file_size)} bytes past the end of the file")
    return end


def _decode_deep(path: Path, infos: list[PartInfo], deep_samples: dict[int, int]) -> None:
    """Decode every part with the library, within the memory limit, and compare the deep samples with the leaders'."""
    needed = 0
    for info in infos:
        if info.storage.startswith("deep"):
            width, height = window_size(info.data_window)
            sample_bytes = sum(_SAMPLE_BYTES[c.pixel_type] for c in info.channels)
            needed += width * height * len(info.channels) * _DEEP_PIXEL_BYTES + deep_samples[info.index] * sample_bytes
        else:
            needed += _decoded_bytes(info)
    if needed > MAX_DECODED_BYTES:
        raise InputError(
            f"{path}: deep pixels need about {_gib(needed)} decoded, over the {_gib(MAX_DECODED_BYTES)} limit"
        )
    exr, report = _open(path, "damaged deep data", separate_channels=True)
    decoded = {p.part_index: p for p in exr.parts}
    if len(decoded) != len(infos) or report.errors or report.part_failures:
        raise InputError(f"{path}: damaged deep data: {_library_message(path, None, report)}")
    for index, expected in deep_samples.items():
        for name, channel in decoded[index].channels.items():
            got = sum(pixel.size for pixel in channel.pixels.flat if pixel is not None)
            if got != expected:
                raise InputError(
                    f"{path}: damaged deep data: part {index} channel {name} decoded {got} samples, "
                    f"its chunks hold {expected}"
                )
    log.debug("%s: %d deep samples decoded", path, sum(deep_samples.values()))


# --- writing helpers -----------------------------------------------------------------------------


def _channels_for_writing(path: Path, image: ExrImage, pixel_type: str) -> dict[str, np.ndarray]:
    width, height = window_size(image.data_window)
    dtypes: dict[str, Any] = {}
    for name, pixels in image.channels.items():
        if pixels.shape != (height, width):
            raise ValueError(f"{path}: channel {name} is {pixels.shape[1::-1]} but the data window is {width}x{height}")
        is_uint = image.pixel_types.get(name, "uint" if pixels.dtype.kind == "u" else "") == "uint"
        dtypes[name] = np.uint32 if is_uint else _DTYPE_BY_PIXEL_TYPE[pixel_type]
    return _cast_all(image.channels, dtypes)


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
    if name in _STRUCTURAL or name == "preview":
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
