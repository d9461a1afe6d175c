"""Chunk forensics: every offset table and chunk leader checked against the headers, and deep parts decoded in full.

The library decodes only what it is asked for (level 0 of a tiled part, never a deep part) and trusts the offset
tables, so a damaged chunk elsewhere, two chunks claiming the same scanlines, or data running past the end of the
file pass unnoticed. These checks read only the tables and leaders (vectorised over a memory map, a few ms a file).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dreamplate.errors import InputError
from dreamplate.io.exr_capture import library_message, open_exr
from dreamplate.io.exr_header import scan_headers
from dreamplate.io.exr_info import PartInfo, decoded_bytes, gib, window_size

log = logging.getLogger(__name__)

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


def check_layout(path: Path, infos: list[PartInfo]) -> dict[int, int]:
    """Check every offset table and chunk leader against the headers; return the deep samples per deep part.

    Vectorised over chunks with a memory map, so a file costs a few ms whatever its size.
    """
    headers, position, multipart = scan_headers(path, len(infos))
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


def decode_deep(path: Path, infos: list[PartInfo], deep_samples: dict[int, int], limit: int) -> None:
    """Decode every part with the library, at most `limit` bytes, and check the deep samples against the leaders."""
    needed = 0
    for info in infos:
        if info.storage.startswith("deep"):
            width, height = window_size(info.data_window)
            sample_bytes = sum(_SAMPLE_BYTES[c.pixel_type] for c in info.channels)
            needed += width * height * len(info.channels) * _DEEP_PIXEL_BYTES + deep_samples[info.index] * sample_bytes
        else:
            needed += decoded_bytes(info)
    if needed > limit:
        raise InputError(f"{path}: deep pixels need about {gib(needed)} decoded, over the {gib(limit)} limit")
    exr, report = open_exr(path, "damaged deep data", separate_channels=True)
    decoded = {p.part_index: p for p in exr.parts}
    if len(decoded) != len(infos) or report.errors or report.part_failures:
        raise InputError(f"{path}: damaged deep data: {library_message(path, None, report)}")
    for index, expected in deep_samples.items():
        for name, channel in decoded[index].channels.items():
            got = sum(pixel.size for pixel in channel.pixels.flat if pixel is not None)
            if got != expected:
                raise InputError(
                    f"{path}: damaged deep data: part {index} channel {name} decoded {got} samples, "
                    f"its chunks hold {expected}"
                )
    log.debug("%s: %d deep samples decoded", path, sum(deep_samples.values()))
