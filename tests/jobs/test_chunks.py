"""Chunking a job's output frames for Ray and render farms."""

from __future__ import annotations

import pytest

from dreamplate.io.sequence import parse_frame_range
from dreamplate.jobs.chunks import chunk_frames, chunk_range, default_chunk_size


def test_chunks_are_consecutive_slices_and_the_last_is_shorter() -> None:
    frames = list(range(1001, 1018))
    chunks = chunk_frames(frames, 6)
    assert chunks == [list(range(1001, 1007)), list(range(1007, 1013)), list(range(1013, 1018))]
    assert [f for chunk in chunks for f in chunk] == frames


def test_chunks_keep_the_given_order_and_gaps() -> None:
    assert chunk_frames([10, 12, 14, 3, 2], 2) == [[10, 12], [14, 3], [2]]
    assert chunk_frames([], 5) == []
    assert chunk_frames([7], 100) == [[7]]


def test_default_chunk_size_is_total_over_32_within_10_and_100() -> None:
    assert [default_chunk_size(n) for n in (0, 1, 17, 320, 321, 1000, 3200, 10_000, 1_000_000)] == [
        10,
        10,
        10,
        10,
        11,
        32,
        100,
        100,
        100,
    ]
    assert len(chunk_frames(list(range(1000)))) == 32


def test_chunk_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="got 0"):
        chunk_frames([1, 2, 3], 0)


@pytest.mark.parametrize(
    ("chunk", "text"),
    [
        ([1001, 1002, 1003], "1001-1003"),
        ([1005], "1005"),
        ([1, 5, 9, 10, 11, 12], "1,5,9-12"),
        ([-3, -2, -1, 0, 1], "-3-1"),
        ([-5, -4], "-5--4"),
    ],
)
def test_chunk_range_reads_back_as_the_same_frames(chunk: list[int], text: str) -> None:
    assert chunk_range(chunk) == text
    assert " " not in text
    assert parse_frame_range(text) == sorted(chunk)
