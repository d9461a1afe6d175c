"""The run over output frames: the one resume rule, and going through the frames in order, writing what is missing.

A frame whose provenance matches what this run would write is skipped, which is how an interrupted or killed run
resumes; the others are written one by one, each atomically, with progress after every frame (the job runner
counts frames by it) and a cancel check before each.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dreamplate.errors import InputError
from dreamplate.io.exr import read_info
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.progress import FrameProgress
from dreamplate.ops.plate.result import PlateResult

WriteFrame = Callable[[int, Path, Provenance], None]
"""(output frame number, its path, its provenance) -> None: makes and writes one output frame."""


def finished(path: Path, provenance: Provenance) -> bool:
    """True when `path` already holds this very frame: same operation, method, settings, sources, weights.

    What ran the model (`runtime`) and the dreamplate version are not compared: they do not change what was asked.
    PNG/TIFF/JPEG outputs carry no provenance: an atomically written one exists only once finished.
    """
    if path.suffix.lower() != ".exr":
        return path.is_file()
    if not path.is_file():
        return False
    try:
        existing = Provenance.from_attributes(read_info(path)[0].attributes, str(path))
    except InputError:
        return False
    return (
        existing is not None
        and existing.operation == provenance.operation
        and existing.method == provenance.method
        and existing.parameters == provenance.parameters
        and existing.sources == provenance.sources
        and existing.weights_sha256 == provenance.weights_sha256
    )


@dataclass
class FrameRun:
    """A run going through its output frames: which are finished, what was written, progress and cancel."""

    outputs: Mapping[int, Path]
    provenance: Callable[[int], Provenance]  # output frame number -> what this run would write there
    progress: FrameProgress
    result: PlateResult

    def pending(self, frames: Iterable[int], force: bool = False) -> list[int]:
        """The frames still to write, in order: those not finished, or every one with `force`."""
        return [frame for frame in frames if force or not finished(self.outputs[frame], self.provenance(frame))]

    def skipped(self, frame: int) -> None:
        """Record `frame` as finished before this run, and report it."""
        path = self.outputs[frame]
        self.result.skipped.append(path)
        self.progress.frame_done(f"skipped {path.name} (already written)")

    def wrote(self, frame: int) -> None:
        """Record `frame` as written by this run, and report it."""
        path = self.outputs[frame]
        self.result.written.append(path)
        self.progress.frame_done(f"wrote {path.name}")

    def write(self, frames: Iterable[int], pending: Collection[int], write: WriteFrame) -> PlateResult:
        """Go through `frames` in order: write those in `pending` with `write`, skip the others as finished.

        Progress is reported after every frame, skipped or written, so a job counts its frames in plan order; a
        cancel is checked before each. Returns the result.
        """
        pending = set(pending)
        for frame in frames:
            self.progress.check_cancelled()
            if frame not in pending:
                self.skipped(frame)
                continue
            write(frame, self.outputs[frame], self.provenance(frame))
            self.wrote(frame)
        return self.result
