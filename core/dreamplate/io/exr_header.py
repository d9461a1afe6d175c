"""The EXR header read byte by byte, beside the binding: the layout attributes it does not report.

The binding gives channel pixel types only with decoded pixels and never says where the offset tables start, so
the header is walked here directly: magic number, version flags, each part's layout attributes (raw bytes), the
channel lists. Every read is bounded, so a fuzzed header ends in an `InputError`, not a hang or a huge allocation.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from dreamplate.errors import InputError

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
_PIXEL_TYPE_NAMES = {0: "uint", 1: "half", 2: "float"}


def check_magic(path: Path) -> None:
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


def scan_pixel_types(path: Path, part_count: int) -> list[dict[str, str]]:
    """Channel pixel types of every part, from the raw header: the binding only reports them with pixels."""
    headers, _, _ = scan_headers(path, part_count)
    try:
        return [_parse_chlist(header["channels"]) if "channels" in header else {} for header in headers]
    except (struct.error, ValueError) as exc:
        raise InputError(f"{path}: damaged OpenEXR header: bad channel list ({exc})") from exc


def scan_headers(path: Path, part_count: int) -> tuple[list[dict[str, bytes]], int, bool]:
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
