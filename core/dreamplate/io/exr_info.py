"""What an EXR holds, as data: a part's header (`PartInfo`), an image's pixels and header (`ExrImage`), windows.

The types every EXR module shares, and the translation of the binding's header dict into them, so the reader, the
header parser and the chunk check can all name a part without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR

from dreamplate.errors import InputError

Box = tuple[int, int, int, int]
"""(xmin, ymin, xmax, ymax), inclusive, exactly as EXR stores windows."""

COMPRESSION_BY_NAME = {
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
COMPRESSIONS: tuple[str, ...] = tuple(COMPRESSION_BY_NAME)

_STORAGE_NAMES = {
    OpenEXR.scanlineimage: "scanline",
    OpenEXR.tiledimage: "tiled",
    OpenEXR.deepscanline: "deepscanline",
    OpenEXR.deeptile: "deeptile",
}

STRUCTURAL = frozenset(
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
"""Header entries that describe layout rather than content: exposed as fields, never copied between files."""


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


def decoded_bytes(info: PartInfo) -> int:
    """Bytes the part takes once read: every channel full resolution, 4 bytes a sample."""
    width, height = window_size(info.data_window)
    return width * height * len(info.channels) * 4


def gib(size: int) -> str:
    """`size` bytes in GiB, for the memory-limit messages."""
    return f"{size / 1024**3:.1f} GiB"


def part_info(path: Path, part: Any, pixel_types: dict[str, str]) -> PartInfo:
    """A `PartInfo` from one part of an `OpenEXR.File`, with the channel pixel types the raw header gave."""
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
            attributes={k: v for k, v in header.items() if k not in STRUCTURAL},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: damaged OpenEXR header: bad or missing {exc}") from exc
    return info


def _compression_name(compression: Any) -> str:
    """Our short name ("zip", "none"), also for codecs we do not write ("zstd", "htj2k32")."""
    for name, value in COMPRESSION_BY_NAME.items():
        if value == compression:
            return name
    return compression.name.removesuffix("_COMPRESSION").lower()


def _box(value: Any) -> Box:
    (xmin, ymin), (xmax, ymax) = value
    return int(xmin), int(ymin), int(xmax), int(ymax)
