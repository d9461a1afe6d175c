"""Host-free logic of the Blender extension: path mapping, frame patterns and arithmetic, and job assembly.

Nothing here imports `bpy`, so it runs and is tested in plain Python; the operators turn Blender data into the
arguments of these functions and their results back into strips and nodes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath
from typing import Any

from .clientlib import client

# Blender's names for its scene-linear working spaces (5.0: `bpy.data.colorspace.working_space`; 4.x: the
# "Linear Rec.709" scene_linear role) and the colour interop ids that dreamplate's OCIO config resolves. Sent as
# the job's `colorspace`, so the server knows the frames' primaries even when the EXR header does not say.
INTEROP_IDS = {
    "Linear Rec.709": "lin_rec709_scene",
    "Linear": "lin_rec709_scene",  # Blender 3.x's name for the same space
    "Linear Rec.2020": "lin_rec2020_scene",
    "ACEScg": "lin_ap1_scene",
    "ACES2065-1": "lin_ap0_scene",
    "Linear DCI-P3 D65": "lin_p3d65_scene",
    "Linear CIE-XYZ D65": "lin_ciexyzd65_scene",
    "sRGB": "srgb_rec709_display",
}
_FRAME_NUMBER = re.compile(r"^(?P<head>.*?)(?P<digits>-?\d+)(?P<tail>\.[A-Za-z0-9]+)$")
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
TERMINAL_STATES = ("done", "failed", "cancelled")


class MappingError(Exception):
    """A strip, image or setting the extension cannot turn into a job; one line, shown as the operator's error."""


# --- colour ------------------------------------------------------------------------------------------------------


def interop_id(blender_name: str) -> str:
    """The job's `colorspace` for a Blender colour space name; unknown names pass through for the server to judge."""
    return INTEROP_IDS.get(blender_name, blender_name)


# --- paths -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathMap:
    """`CLIENT=SERVER` prefix pairs: this workstation's spelling of a path and the job server's.

    The server maps too (`dreamplate serve --map`); mapping here lets a shared server stay unconfigured. The rule
    itself is the job client's (`PathMaps`), so Blender, Nuke and the server read a map the same way.
    """

    pairs: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> PathMap:
        """`'Z:/shows=/mnt/shows; /Volumes/proj=/proj'` -> PathMap; MappingError names a malformed entry."""
        try:
            return cls(client.PathMaps.parse(text).pairs)
        except ValueError as exc:
            raise MappingError(str(exc)) from None

    def to_server(self, path: str) -> str:
        """The server's spelling of a local path (unchanged when no prefix matches)."""
        return client.PathMaps(self.pairs).to_server(path)

    def to_client(self, path: str) -> str:
        """This machine's spelling of a path the server names (a job's output)."""
        return client.PathMaps(self.pairs).to_client(path)


def pure_path(path: str) -> PurePath:
    """A pure path of the flavour the text is written in, so a Windows path splits right on Linux and back."""
    return PureWindowsPath(path) if _WINDOWS_PATH.match(path) else PurePosixPath(path)


# --- frames --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameFile:
    """A file name split around its frame number: `plate.1001.exr` -> ('plate.', 1001, 4, '.exr')."""

    head: str
    frame: int
    padding: int
    tail: str

    @property
    def pattern_name(self) -> str:
        """The `####` pattern for this file's sequence."""
        return f"{self.head}{'#' * self.padding}{self.tail}"

    def name(self, frame: int) -> str:
        return f"{self.head}{frame:0{self.padding}d}{self.tail}"


def split_frame(name: str) -> FrameFile:
    """Split a frame file name; MappingError when it carries no frame number before its extension."""
    match = _FRAME_NUMBER.match(name)
    if match is None:
        raise MappingError(f"{name}: no frame number before the extension (expected e.g. plate.1001.exr)")
    digits = match["digits"]
    head = match["head"]
    if digits.startswith("-"):  # `shot-12.exr`: the dash is a separator, not a sign
        head, digits = head + "-", digits[1:]
    padding = len(digits) if digits.startswith("0") or len(digits) > 1 else 1
    return FrameFile(head, int(digits), padding, match["tail"])


@dataclass(frozen=True)
class SequenceSource:
    """An image sequence on disk as a job input: its `####` pattern and the frames used, first to last."""

    pattern: str
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1

    @property
    def frames(self) -> str:
        """The job's `frames` parameter."""
        return f"{self.first}-{self.last}"


def sequence_from_files(directory: str, names: Sequence[str]) -> SequenceSource:
    """The sequence a strip's elements name; MappingError unless they are one contiguous, evenly named run."""
    if not names:
        raise MappingError(f"{directory}: the strip holds no images")
    parts = [split_frame(name) for name in names]
    first = parts[0]
    for index, part in enumerate(parts):
        if (part.head, part.tail) != (first.head, first.tail):
            raise MappingError(f"{names[index]}: not part of the {first.pattern_name} sequence")
        if part.frame != first.frame + index:
            raise MappingError(
                f"{first.pattern_name}: frame {first.frame + index} missing (found {part.frame}); "
                "dreamplate needs a contiguous sequence"
            )
    pattern = str(pure_path(directory) / first.pattern_name)
    return SequenceSource(pattern, first.frame, first.frame + len(parts) - 1)


def sequence_on_disk(file_path: str, names_in_folder: Iterable[str]) -> SequenceSource:
    """The contiguous run of frames around `file_path` among the folder's file names (an Image node's sequence)."""
    path = pure_path(file_path)
    ref = split_frame(path.name)
    frames = set()
    for name in names_in_folder:
        try:
            part = split_frame(name)
        except MappingError:
            continue
        if (part.head, part.tail, part.padding) == (ref.head, ref.tail, ref.padding):
            frames.add(part.frame)
    if ref.frame not in frames:
        raise MappingError(f"{file_path}: file not found")
    first = last = ref.frame
    while first - 1 in frames:
        first -= 1
    while last + 1 in frames:
        last += 1
    return SequenceSource(str(path.parent / ref.pattern_name), first, last)


def frame_path(pattern: str, frame: int) -> str:
    """`/x/out.####.exr`, 12 -> `/x/out.0012.exr`."""
    match = re.search(r"#+", pattern)
    if match is None:
        raise MappingError(f"{pattern}: no #### frame token")
    return pattern[: match.start()] + f"{frame:0{len(match.group())}d}" + pattern[match.end() :]


def free_channel(occupied: Iterable[tuple[int, int, int]], start: int, end: int, above: int) -> int:
    """The lowest channel above `above` with nothing in [start, end); `occupied` is (channel, start, end) triples."""
    busy = {channel for channel, s, e in occupied if s < end and start < e}
    channel = above + 1
    while channel in busy:
        channel += 1
    return channel


def unique_folder(base: str, stem: str, existing: Iterable[str]) -> str:
    """`base/stem_001`, or the next number not in `existing` (names in `base`), so a re-run never overwrites."""
    taken = set(existing)
    number = 1
    while f"{stem}_{number:03d}" in taken:
        number += 1
    return str(pure_path(base) / f"{stem}_{number:03d}")


def safe_name(text: str) -> str:
    """A file-name-safe stem from a strip or image name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")
    return cleaned or "shot"


# --- jobs ----------------------------------------------------------------------------------------------------------


def job(task: str, inputs: list[str], output: str, params: dict[str, Any], paths: PathMap = PathMap()) -> dict:
    """The `POST /v1/jobs` body: inputs and output in the server's spelling; `params` as given (already mapped)."""
    return {
        "task": task,
        "inputs": [paths.to_server(p) for p in inputs],
        "output": paths.to_server(output),
        "params": dict(params),
    }


def keys_param(first: str, last: str, first_frame: int, count: int, paths: PathMap = PathMap()) -> dict[str, str]:
    """The keyframes setting for `count` frames from `first_frame`, keys included: `first` opens, `last` closes."""
    if count < 3:
        raise MappingError(f"keyframes: frame count must be 3 or more (two keys and a frame between), got {count}")
    return {str(first_frame): paths.to_server(first), str(first_frame + count - 1): paths.to_server(last)}


def output_sequence(pattern: str, names_in_folder: Iterable[str]) -> SequenceSource:
    """The frames a finished job wrote for `pattern` (`/x/out.####.exr`), from the names in its folder.

    The job's folder is fresh, so every file of the pattern is its result; MappingError when there is none or the
    run has a gap.
    """
    path = pure_path(pattern)
    ref = split_frame(path.name.replace("#", "0"))
    frames = []
    for name in names_in_folder:
        try:
            part = split_frame(name)
        except MappingError:
            continue
        if (part.head, part.tail, part.padding) == (ref.head, ref.tail, ref.padding):
            frames.append(part.frame)
    if not frames:
        raise MappingError(f"{pattern}: the job finished but wrote no frames")
    frames.sort()
    first, last = frames[0], frames[-1]
    if len(frames) != last - first + 1:
        missing = next(f for f in range(first, last + 1) if f not in set(frames))
        raise MappingError(f"{pattern}: the job finished but frame {missing} is not on disk")
    return SequenceSource(pattern, first, last)


def retime_speed(source_count: int, result_count: int) -> float:
    """How much faster a result strip plays so its frames span the source's time (first to last frame)."""
    if source_count < 2 or result_count < 2:
        return 1.0
    return (result_count - 1) / (source_count - 1)


def server_command(executable: str, url: str, roots: Sequence[str]) -> list[str]:
    """`dreamplate serve` for the local server the preferences may start; port from the URL, loopback only."""
    match = re.match(r"^https?://(?P<host>[^/:]+)(?::(?P<port>\d+))?", url.strip())
    if match is None:
        raise MappingError(f"server URL {url!r}: expected http://127.0.0.1:8765")
    if match["host"] not in ("127.0.0.1", "localhost", "::1"):
        raise MappingError(f"server URL {url!r}: a local server can only be started on this machine (127.0.0.1)")
    if not executable.strip():
        raise MappingError("start local server: set the path of the dreamplate executable in the preferences")
    if not roots:
        raise MappingError("start local server: give at least one root folder the server may read and write")
    command = [executable, "serve", "--port", match["port"] or "8765"]
    for root in roots:
        command += ["--root", root]
    return command


def describe(job: dict[str, Any]) -> str:
    """One status line for the panel and the status bar: `running 3/9 frames`."""
    state = job.get("state", "?")
    done, total = job.get("frames_done") or 0, job.get("frames_total") or 0
    if state == "failed":
        return f"failed: {job.get('error') or job.get('message') or 'no reason given'}"
    if total:
        return f"{state} {done}/{total} frames"
    return str(state)
