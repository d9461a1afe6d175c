"""Frame sequences as data: directory, prefix, padding, suffix and the frame numbers, never a glob.

A pattern names its frame number with exactly one token in the file name: `####` or `@@@@` (one digit of
padding per character) or printf `%04d` (`%d` is unpadded). A number wider than the padding still matches
(`10000` for `####`), as Nuke reads it; a zero-padded number wider than the padding does not (`01001` is not
frame 1001 of `####`), because `path(1001)` could never name that file.
"""

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dreamplate.errors import InputError

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"#+|@+|%(\d*)d")
_RANGE_PART = re.compile(r"\s*(-?\d+)(?:\s*-\s*(-?\d+)(?:\s*x\s*(\d+))?)?\s*")
# A typo such as 1001-10000000 would otherwise build a list of millions before anything can fail.
_MAX_FRAMES = 1_000_000
# Error messages list at most this many runs of missing frames, so they stay one readable line.
_MAX_RUNS_SHOWN = 8


def is_sequence_pattern(text: str | Path) -> bool:
    """True when the file name holds a frame token; a path without one names a single file."""
    return _TOKEN.search(Path(text).name) is not None


def parse_frame_range(text: str, name: str = "--frames") -> list[int]:
    """Frames named by `1001-1100`, `1001-1100x2` (step), `1001` or `1,5,9-12`; sorted, each once.

    `name` is the argument the text came from, for the error message. Raises InputError for text that
    is not a range, a range that runs backwards, a zero step or more than a million frames.
    """
    frames: set[int] = set()
    for part in text.split(","):
        match = _RANGE_PART.fullmatch(part)
        if match is None:
            raise InputError(f"{name}: cannot read {text!r}; expected e.g. 1001-1100, 1001-1100x2 or 1,5,9-12")
        start = int(match[1])
        end = start if match[2] is None else int(match[2])
        step = 1 if match[3] is None else int(match[3])
        if end < start:
            raise InputError(f"{name}: range {part.strip()} runs backwards; write {end}-{start}")
        if step == 0:
            raise InputError(f"{name}: step 0 in {part.strip()}; the step must be 1 or more")
        if len(frames) + (end - start) // step + 1 > _MAX_FRAMES:
            raise InputError(f"{name}: {text!r} names more than {_MAX_FRAMES} frames")
        frames.update(range(start, end + 1, step))
    return sorted(frames)


def format_frame_ranges(frames: Iterable[int]) -> str:
    """Frames as compact runs of consecutive numbers: `1001-1003, 1007`; empty text for no frames."""
    return ", ".join(_runs(frames))


def _runs(frames: Iterable[int]) -> list[str]:
    """Runs of consecutive frames as `a-b` or `a`, in ascending order, duplicates dropped."""
    runs: list[str] = []
    ordered = sorted(set(frames))
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            first, last = ordered[start], ordered[i - 1]
            runs.append(str(first) if first == last else f"{first}-{last}")
            start = i
    return runs


def _compact(frames: list[int]) -> str:
    """Runs of frames cut to a one-line length for error messages: `frame 1003`, `frames 1003, 1007-1009`."""
    return _named(_runs(frames), len(frames))


def _named(runs: list[str], count: int) -> str:
    """`count` frames given as runs, named in one line (at most _MAX_RUNS_SHOWN runs)."""
    noun = "frame" if count == 1 else "frames"
    if len(runs) <= _MAX_RUNS_SHOWN:
        return f"{noun} {', '.join(runs)}"
    return f"{noun} {', '.join(runs[:_MAX_RUNS_SHOWN])}, ... ({count} frames in all)"


def _holes(ordered: tuple[int, ...]) -> str | None:
    """The frames missing between the first and last of `ordered`, named as `_compact` does; None for none.

    Worked out from the gaps, not the whole span: one stray file numbered 99999999 must not list millions of frames.
    """
    gaps = [(a + 1, b - 1) for a, b in zip(ordered, ordered[1:], strict=False) if b > a + 1]
    if not gaps:
        return None
    runs = [str(first) if first == last else f"{first}-{last}" for first, last in gaps]
    return _named(runs, sum(last - first + 1 for first, last in gaps))


def _format_number(frame: int, padding: int) -> str:
    """Frame number as written in a file name; padding counts digits after the sign (`-001`, as Nuke)."""
    sign = "-" if frame < 0 else ""
    return f"{sign}{abs(frame):0{padding}d}"


@dataclass(frozen=True)
class FrameSequence:
    """Numbered files `directory / f"{prefix}{number}{suffix}"` for each of `frames` (ascending, unique)."""

    directory: Path
    prefix: str
    suffix: str
    padding: int
    frames: tuple[int, ...]

    def __post_init__(self) -> None:
        # Misuse by code, not by a user: a plain ValueError keeps its traceback.
        if self.padding < 1:
            raise ValueError(f"padding must be 1 or more, got {self.padding}")
        if not self.frames or any(b <= a for a, b in zip(self.frames, self.frames[1:], strict=False)):
            raise ValueError(f"frames must be non-empty, ascending and unique, got {self.frames[:8]}")

    @property
    def pattern(self) -> str:
        """The sequence as a `####` path, for display and messages."""
        return str(self.directory / f"{self.prefix}{'#' * self.padding}{self.suffix}")

    @property
    def first(self) -> int:
        """Lowest frame number."""
        return self.frames[0]

    @property
    def last(self) -> int:
        """Highest frame number."""
        return self.frames[-1]

    def path(self, frame: int) -> Path:
        """File for `frame`, whether or not it is one of `frames` (outputs are named before they exist)."""
        return self.directory / f"{self.prefix}{_format_number(frame, self.padding)}{self.suffix}"

    @classmethod
    def from_pattern(cls, pattern: str | Path, frames: str | Iterable[int] | None = None) -> "FrameSequence":
        """An existing sequence: every frame found on disk, or the frames asked for, all checked to exist.

        Holes in the numbering of the frames found are logged as a warning: a render that failed part way leaves
        them, and the operation goes on with the frames found, which may not be what was meant.
        Raises InputError before any work when the pattern is malformed, when no file matches it, or
        when any asked-for frame is missing (named compactly, e.g. `frames 1003, 1007-1009 missing`).
        """
        directory, prefix, suffix, padding = _split_pattern(pattern)
        if not directory.is_dir():
            raise InputError(f"{pattern}: directory {directory} does not exist")
        found = _scan(directory, prefix, suffix, padding)
        if frames is None:
            if not found:
                raise InputError(f"{pattern}: no files match this pattern in {directory}")
            seq = cls(directory, prefix, suffix, padding, tuple(sorted(found)))
            holes = _holes(seq.frames)
            if holes:
                logger.warning("%s: %s missing between %d and %d", seq.pattern, holes, seq.first, seq.last)
            return seq
        wanted = _frame_list(frames)
        missing = [frame for frame in wanted if frame not in found]
        if missing:
            asked = frames if isinstance(frames, str) else format_frame_ranges(wanted)
            raise InputError(f"{pattern}: {_compact(missing)} missing in {asked}")
        return cls(directory, prefix, suffix, padding, tuple(wanted))

    @classmethod
    def for_output(cls, pattern: str | Path, frames: str | Iterable[int]) -> "FrameSequence":
        """A sequence to be written: the pattern and frames as given, nothing checked on disk."""
        directory, prefix, suffix, padding = _split_pattern(pattern)
        return cls(directory, prefix, suffix, padding, tuple(_frame_list(frames)))


def _frame_list(frames: str | Iterable[int]) -> list[int]:
    """Frames from range text or from numbers, sorted and unique."""
    if isinstance(frames, str):
        return parse_frame_range(frames)
    wanted = sorted(set(frames))
    if not wanted:
        raise InputError("--frames: no frames given")
    return wanted


def _split_pattern(pattern: str | Path) -> tuple[Path, str, str, int]:
    """Directory, prefix, suffix and padding of a pattern; InputError unless it has exactly one token."""
    path = Path(pattern)
    tokens = list(_TOKEN.finditer(path.name))
    if len(tokens) != 1:
        found = "no" if not tokens else str(len(tokens))
        raise InputError(f"{pattern}: {found} frame tokens; a pattern needs exactly one (####, %04d or @@@@)")
    token = tokens[0]
    digits = token[1]
    if digits is None:
        padding = len(token[0])
    elif not digits:
        padding = 1
    elif digits.startswith("0"):
        padding = int(digits)
    else:
        # printf pads %4d with spaces, which no file name on a farm carries.
        raise InputError(f"{pattern}: {token[0]} pads with spaces; write %0{digits}d")
    if padding < 1:
        raise InputError(f"{pattern}: {token[0]} has no padding width; write %d or %04d")
    return path.parent, path.name[: token.start()], path.name[token.end() :], padding


def _scan(directory: Path, prefix: str, suffix: str, padding: int) -> set[int]:
    """Frame numbers of the files in `directory` that the pattern names exactly.

    One directory listing instead of a stat per frame: far cheaper on network storage.
    """
    number = re.compile(re.escape(prefix) + r"(-?\d+)" + re.escape(suffix))
    frames: set[int] = set()
    with os.scandir(directory) as entries:
        for entry in entries:
            match = number.fullmatch(entry.name)
            # Only the spelling path() would produce: rejects 01001 for #### and -0000.
            if match and _format_number(int(match[1]), padding) == match[1]:
                frames.add(int(match[1]))
    logger.debug("%s: %d frames found", directory / f"{prefix}{'#' * padding}{suffix}", len(frames))
    return frames
