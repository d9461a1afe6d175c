"""Frame chunks: how a job's output frames are cut into pieces that Ray tasks or farm tasks run independently.

Every chunk is a run of consecutive entries of the job's ordered output frames, so a chunk reads a narrow window of
sources and the flow of a source pair is estimated at most twice (once on each side of a chunk boundary). Chunks can
run anywhere that sees the same paths: each skips frames already written and writes its frames atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dreamplate.io.sequence import format_frame_ranges

MIN_CHUNK_FRAMES = 10
"""Smallest default chunk: a chunk pays a fixed start-up (process, imports, OCIO config, first flow field)."""
MAX_CHUNK_FRAMES = 100
"""Largest default chunk: a failed, cancelled or pre-empted chunk loses at most this much work."""
TARGET_CHUNKS = 32
"""Default number of chunks between those bounds: enough to keep a few dozen workers busy."""


def default_chunk_size(total_frames: int) -> int:
    """Frames per chunk when none is given: `ceil(total / 32)`, kept within [10, 100].

    So 17 frames run as 2 chunks, 1000 frames as 32 chunks of 32 and 10000 frames as 100 chunks of 100.
    """
    return min(MAX_CHUNK_FRAMES, max(MIN_CHUNK_FRAMES, math.ceil(max(total_frames, 1) / TARGET_CHUNKS)))


def chunk_frames(frames: Sequence[int], chunk_size: int | None = None) -> list[list[int]]:
    """Split output frames, in their given order, into consecutive chunks of `chunk_size` (the last may be shorter).

    `chunk_size` None means `default_chunk_size(len(frames))`; below 1 it is a ValueError (a caller's bug: the CLI
    refuses it first). No frames give no chunks.
    """
    size = default_chunk_size(len(frames)) if chunk_size is None else chunk_size
    if size < 1:
        raise ValueError(f"chunk_size must be 1 or more, got {size}")
    return [list(frames[start : start + size]) for start in range(0, len(frames), size)]


def chunk_range(chunk: Sequence[int]) -> str:
    """A chunk as frame-range text that `parse_frame_range` (and `--frames`) reads back: `1001-1010` or `1,5,9-12`.

    No spaces, so it is one command-line argument as it stands.
    """
    return format_frame_ranges(chunk).replace(" ", "")
