"""Source checks before any work: every source frame's header read and compared with the first.

An operation's inputs are checked as a whole before a model loads or a file is written: a frame missing from a
sequence is found by `FrameSequence` (and named as ranges), a deep or mismatched frame here, each error naming
the file and what differs from the first frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dreamplate.errors import InputError
from dreamplate.io.exr import PartInfo, choose_part, read_info
from dreamplate.io.raster import RASTER_SUFFIXES, read_raster


def part_arg(part: str | None) -> int | str | None:
    """`--part` as read_exr takes it: digits are an index, anything else a part name."""
    return int(part) if part is not None and part.isdigit() else part


def is_raster(path: Path) -> bool:
    """True for display-referred image files (PNG, TIFF, JPEG), which carry no EXR header."""
    return path.suffix.lower() in RASTER_SUFFIXES


def check_sources(
    paths: Mapping[int, Path], part: str | None, view: str | None, *, same_channels: bool
) -> list[PartInfo]:
    """The chosen part's header of every source frame, in frame order, after comparing each with the first.

    EXR frames: the part (`--part`) and view (`--view`) must exist, the data must not be deep, the display window
    must match the first frame's and, with `same_channels`, so must the channel names. Raster frames (PNG, TIFF,
    JPEG) must all have the first frame's size; they have no header, so the list is empty for them.
    Raises InputError naming the first frame that does not fit.
    """
    ordered = [paths[frame] for frame in sorted(paths)]
    if is_raster(ordered[0]):
        _check_raster_sizes(ordered)
        return []
    chosen: list[PartInfo] = []
    for path in ordered:
        info = choose_part(path, read_info(path), part_arg(part), view)
        if info.storage.startswith("deep"):
            raise InputError(f"{path}: deep data is not supported; flatten it first")
        if chosen:
            ref, ref_path = chosen[0], ordered[0]
            if info.display_window != ref.display_window:
                raise InputError(
                    f"{path}: display window {info.display_window} differs from {ref_path.name} {ref.display_window}"
                )
            names = sorted(c.name for c in info.channels)
            ref_names = sorted(c.name for c in ref.channels)
            if same_channels and names != ref_names:
                raise InputError(
                    f"{path}: channels {', '.join(names)} differ from {ref_path.name} ({', '.join(ref_names)})"
                )
        chosen.append(info)
    return chosen


def _check_raster_sizes(paths: list[Path]) -> None:
    """Refuse raster frames whose size differs from the first one's."""
    shapes = {path: read_raster(path).pixels.shape for path in paths}
    first = shapes[paths[0]]
    for path, shape in shapes.items():
        if shape != first:
            raise InputError(f"{path}: size {shape[1]}x{shape[0]} differs from {paths[0].name} ({first[1]}x{first[0]})")
