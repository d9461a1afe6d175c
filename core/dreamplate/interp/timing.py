"""Which frames an interpolation makes: each output frame number and the source position it shows.

Every plan is a list of OutputSample, one per output file, in output frame order. A sample sits between two
adjacent available source frames; `t == 0` means the output is source frame `frame_a` itself, passed through
untouched. Positions within 1e-6 of a source frame snap onto it, so rate arithmetic such as 3 * 24 / 60
(1.2000000000000002) never turns a source frame into a needless in-between.
"""

import bisect
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dreamplate.errors import InputError
from dreamplate.io.sequence import format_frame_ranges

logger = logging.getLogger(__name__)

# Far below any motion a frame can show, far above float error in frame arithmetic.
SNAP = 1e-6
_SEPARATOR = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class OutputSample:
    """Output frame `frame` shows source position `source` = frame_a + t * (frame_b - frame_a).

    frame_a and frame_b are adjacent available source frames and 0 <= t < 1; t == 0 (then
    frame_a == frame_b) is a pass-through of frame_a. Build samples with `bracket` or a `plan_*` function.
    """

    frame: int
    source: float
    frame_a: int
    frame_b: int
    t: float

    def __post_init__(self) -> None:
        # Misuse by code, not by a user: a plain ValueError keeps its traceback.
        if not 0.0 <= self.t < 1.0 or (self.t == 0.0) != (self.frame_a == self.frame_b):
            raise ValueError(f"inconsistent sample {self}: use bracket() to build one")


def bracket(source: float, available: Sequence[int]) -> tuple[int, int, float]:
    """(frame_a, frame_b, t) for a source position among the available source frames (any order).

    An exact hit gives (f, f, 0.0); otherwise frame_a < source < frame_b are neighbours in `available`,
    gaps included (frames 1, 2, 4: 3.0 gives (2, 4, 0.5)). Raises InputError for a position outside them.
    """
    return _bracket(source, _ordered(available))


def _ordered(frames: Iterable[int]) -> tuple[int, ...]:
    """Frames sorted, each once; InputError when there are none."""
    ordered = tuple(sorted(set(frames)))
    if not ordered:
        raise InputError("source: no frames to take positions from")
    return ordered


def _bracket(source: float, ordered: tuple[int, ...]) -> tuple[int, int, float]:
    """`bracket` on frames already sorted and unique, so whole plans stay O(n log n)."""
    first, last = ordered[0], ordered[-1]
    if not first - SNAP <= source <= last + SNAP:
        raise InputError(
            f"source position {_number(source)} is outside the source frames {first}-{last}; "
            "positions are never extrapolated"
        )
    right = bisect.bisect_left(ordered, source)
    for index in (right - 1, right):
        if 0 <= index < len(ordered) and abs(ordered[index] - source) <= SNAP:
            return ordered[index], ordered[index], 0.0
    frame_a, frame_b = ordered[right - 1], ordered[right]
    return frame_a, frame_b, (source - frame_a) / (frame_b - frame_a)


def _sample(frame: int, source: float, ordered: tuple[int, ...]) -> OutputSample:
    """Sample for output `frame` at `source`; a snapped position is stored as the frame it snapped to."""
    frame_a, frame_b, t = _bracket(source, ordered)
    return OutputSample(frame, float(frame_a) if t == 0.0 else source, frame_a, frame_b, t)


def _number(value: float) -> str:
    """A frame position for messages: 1001, 1001.5, 1001.3333."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def plan_factor(source_frames: Sequence[int], factor: int) -> list[OutputSample]:
    """`factor - 1` evenly spaced in-betweens between each pair of neighbouring source frames.

    Output frames are numbered consecutively from the first source frame; the originals pass through at
    their new numbers (factor 2 on n frames gives 2n - 1 frames). Spacing is by ordinal position: with
    frames 1, 2, 4 and factor 2 the in-between of 2 and 4 is output frame 4 at source 3.0, so a gap in the
    numbering (a dropped or skipped frame) still gets the same count of in-betweens as any other pair.
    """
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise InputError(f"--factor: must be a whole number of 1 or more, got {factor!r}")
    ordered = _ordered(source_frames)
    samples = [OutputSample(ordered[0], float(ordered[0]), ordered[0], ordered[0], 0.0)]
    for index, (frame_a, frame_b) in enumerate(zip(ordered, ordered[1:], strict=False)):
        base = ordered[0] + index * factor
        for step in range(1, factor):
            # t is k / factor exactly, not re-derived from the position, so every pair gets equal steps.
            t = step / factor
            samples.append(OutputSample(base + step, frame_a + t * (frame_b - frame_a), frame_a, frame_b, t))
        samples.append(OutputSample(base + factor, float(frame_b), frame_b, frame_b, 0.0))
    return samples


def plan_times(times: Sequence[float]) -> list[OutputSample]:
    """Samples for `interpolate A B --times ...`: frame A is source frame 0, frame B is source frame 1.

    Output frames are numbered 1, 2, ... in the order the times were given, so a `mid.####.exr` output
    writes mid.0001.exr for the first time. t == 0 passes A through (frame_a 0); t == 1 passes B through
    (frame_a 1). Raises InputError for no times or any time outside [0, 1].
    """
    if not times:
        raise InputError("--times: no times given; e.g. --times 0.5 or --times 0.25,0.5,0.75")
    bad = [t for t in times if not 0.0 <= t <= 1.0]
    if bad:
        raise InputError(f"--times: {', '.join(str(t) for t in bad)} outside [0, 1]")
    return [_sample(frame, float(t), (0, 1)) for frame, t in enumerate(times, start=1)]


def plan_fps(source_frames: Sequence[int], src_fps: float, dst_fps: float) -> list[OutputSample]:
    """Samples for a frame-rate change: output frame first + k shows source first + k * src_fps / dst_fps.

    Positions are in source frame numbers (time), so a gap in the numbering is bridged like any other
    stretch of time, unlike plan_factor. The plan stops at the last source frame, never extrapolating:
    24 to 60 fps on frames 0-4 gives positions 0, 0.4, 0.8, ..., 4.0 (11 frames).
    """
    for name, fps in (("source fps", src_fps), ("target fps", dst_fps)):
        if not (math.isfinite(fps) and fps > 0):
            raise InputError(f"--fps: {name} must be a positive number, got {fps}")
    return _plan_steps(source_frames, src_fps, dst_fps)


def plan_speed(source_frames: Sequence[int], speed: float) -> list[OutputSample]:
    """Samples for Kronos's Speed timing: output frame first + k shows source first + k * speed.

    0.5 plays the plate at half speed (twice the frames), 2 at double speed (every other source position). As for
    plan_fps, positions are time, gaps are bridged and the plan stops at the last source frame.
    """
    if not (math.isfinite(speed) and speed > 0):
        raise InputError(f"--speed: must be a positive number, got {speed}")
    return _plan_steps(source_frames, speed, 1.0)


def _plan_steps(source_frames: Sequence[int], numerator: float, denominator: float) -> list[OutputSample]:
    """Output frame first + k at source first + k * numerator / denominator, up to the last source frame."""
    ordered = _ordered(source_frames)
    first, last = ordered[0], ordered[-1]
    samples = []
    step = 0
    # k * src / dst rather than k * (src / dst): one rounding, so whole-frame positions come out whole.
    while (source := first + step * numerator / denominator) <= last + SNAP:
        samples.append(_sample(first + step, source, ordered))
        step += 1
    return samples


def read_retime_map(path: str | Path) -> list[tuple[int, float]]:
    """(output_frame, source_frame) pairs from a two-column text file, in file order.

    Columns are separated by whitespace or a comma; `#` starts a comment; blank lines are skipped. Source
    positions may be fractional and may decrease (reverse, ramps); output frames are unique whole numbers.
    Raises InputError naming the file and line for anything else.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read retime map ({exc})") from exc
    mapping: list[tuple[int, float]] = []
    seen: dict[int, int] = {}
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        columns = _SEPARATOR.split(text)
        where = f"{path}:{number}"
        if len(columns) != 2:
            raise InputError(f"{where}: expected 'output_frame source_frame', got {text!r}")
        frame = _whole_number(columns[0], where)
        source = _position(columns[1], where)
        if frame in seen:
            raise InputError(f"{where}: output frame {frame} already given on line {seen[frame]}")
        seen[frame] = number
        mapping.append((frame, source))
    if not mapping:
        raise InputError(f"{path}: retime map has no 'output_frame source_frame' lines")
    return mapping


def _whole_number(text: str, where: str) -> int:
    """An output frame number; `1001.0` is accepted since curve exports write whole frames as floats."""
    value = _position(text, where)
    if not value.is_integer():
        raise InputError(f"{where}: output frame {text!r} is not a whole number")
    return int(value)


def _position(text: str, where: str) -> float:
    """A finite frame position read from text."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"{where}: {text!r} is not a frame number")
    return value


def plan_retime(mapping: Sequence[tuple[int, float]], available: Sequence[int]) -> list[OutputSample]:
    """Samples for a retime map: each output frame shows its source position, in output frame order.

    Every position is checked before any sample is returned; positions outside the available frames raise
    one InputError naming the output frames concerned, so nothing is computed for a map that cannot run.
    """
    ordered = _ordered(available)
    frames = [frame for frame, _ in mapping]
    if not frames:
        raise InputError("retime map: no output frames given")
    repeated = [frame for frame, count in Counter(frames).items() if count > 1]
    if repeated:
        raise InputError(f"retime map: output frames {format_frame_ranges(repeated)} given more than once")
    first, last = ordered[0], ordered[-1]
    outside = [(frame, source) for frame, source in mapping if not first - SNAP <= source <= last + SNAP]
    if outside:
        frame, source = outside[0]
        raise InputError(
            f"retime map: output frames {format_frame_ranges(f for f, _ in outside)} ask for source positions "
            f"outside the source frames {first}-{last} (frame {frame} wants {_number(source)})"
        )
    samples = [_sample(frame, source, ordered) for frame, source in sorted(mapping)]
    logger.debug("retime: %d output frames from source frames %d-%d", len(samples), first, last)
    return samples
