"""Output paths and the one output check every operation makes before any work.

An output that would overwrite an input, or a folder that cannot be written, stops the run with nothing written;
so does a chunk (`only_frames`) asking for frames the run does not make.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from dreamplate.errors import InputError
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern


def output_paths(output: str, frames: Sequence[int], *, single_file: bool = False) -> tuple[str, dict[int, Path]]:
    """(label, frame -> path) for the frames a run writes: a pattern names one file per frame.

    With `single_file`, a plain file name serves a run of exactly one frame. InputError otherwise.
    """
    if is_sequence_pattern(output):
        seq = FrameSequence.for_output(output, frames)
        return seq.pattern, {f: seq.path(f) for f in frames}
    if single_file and len(frames) == 1:
        return output, {frames[0]: Path(output)}
    raise InputError(f"{output}: give an output pattern such as out.####.exr, one file per output frame")


def check_outputs(outputs: Mapping[int, Path], inputs: Iterable[Path]) -> None:
    """Refuse an output that is an input, and an output folder that cannot be made or written."""
    resolved = {Path(p).resolve() for p in inputs}
    for frame, out in outputs.items():
        if out.resolve() in resolved:
            raise InputError(f"{out}: output frame {frame} would overwrite an input; choose another output name")
    for folder in sorted({p.parent for p in outputs.values()}):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".dreamplate-probe-"):
                pass
        except OSError as exc:
            raise InputError(f"{folder}: output folder is not writable ({exc.strerror or exc})") from exc


def check_only_frames(label: str, frames: Collection[int], only_frames: Collection[int] | None) -> None:
    """Refuse a chunk (`only_frames`) naming frames this run does not write."""
    unknown = sorted(set(only_frames or ()) - set(frames))
    if unknown:
        raise InputError(f"{label}: frames {unknown[:5]} are not among this run's output frames")
