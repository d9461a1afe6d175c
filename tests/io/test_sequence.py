"""FrameSequence: patterns, padding, negative frames, directory scans, frame ranges and missing frames."""

from pathlib import Path

import pytest

from dreamplate.errors import InputError
from dreamplate.io.sequence import (
    FrameSequence,
    format_frame_ranges,
    is_sequence_pattern,
    parse_frame_range,
)


def _touch(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_bytes(b"")


@pytest.mark.parametrize(
    ("pattern", "padding"),
    [("shot.####.exr", 4), ("shot.%04d.exr", 4), ("shot.%d.exr", 1), ("shot.@@@.exr", 3), ("shot.#.exr", 1)],
)
def test_pattern_forms_give_their_padding(pattern: str, padding: int) -> None:
    seq = FrameSequence.for_output(f"/plates/{pattern}", "7")
    assert (seq.directory, seq.prefix, seq.suffix, seq.padding) == (Path("/plates"), "shot.", ".exr", padding)
    assert seq.pattern == f"/plates/shot.{'#' * padding}.exr"


def test_is_sequence_pattern_looks_at_the_file_name_only() -> None:
    assert is_sequence_pattern("shot.####.exr")
    assert is_sequence_pattern(Path("a/shot.%04d.exr"))
    assert is_sequence_pattern("shot.@@@@.exr")
    assert not is_sequence_pattern("shot.1001.exr")
    assert not is_sequence_pattern("take#2/shot.1001.exr")


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("shot.exr", "no frame tokens"),
        ("shot_v##.####.exr", "2 frame tokens"),
        ("shot.%4d.exr", "pads with spaces; write %04d"),
        ("shot.%0d.exr", "no padding width"),
    ],
)
def test_bad_patterns_are_refused(pattern: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^{pattern}: .*{message}"):
        FrameSequence.for_output(pattern, "1")


def test_path_pads_and_grows_past_the_padding() -> None:
    seq = FrameSequence.for_output("out/shot.####.exr", "1-2")
    assert seq.path(1001) == Path("out/shot.1001.exr")
    assert seq.path(7) == Path("out/shot.0007.exr")
    assert seq.path(12345) == Path("out/shot.12345.exr")


def test_negative_frames_pad_digits_after_the_sign() -> None:
    assert FrameSequence.for_output("s.###.exr", "1").path(-1) == Path("s.-001.exr")
    assert FrameSequence.for_output("s.####.exr", "1").path(-12) == Path("s.-0012.exr")
    assert FrameSequence.for_output("s.%d.exr", "1").path(-3) == Path("s.-3.exr")


def test_scan_finds_the_frames_the_pattern_names(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "shot.0999.exr",
        "shot.1000.exr",
        "shot.1002.exr",
        "shot.10000.exr",  # wider than the padding: still a frame, as Nuke reads it
        "shot.01001.exr",  # zero-padded past the padding: path(1001) could not name it
        "shot.100.exr",  # narrower than the padding
        "shot.1001.exr.tmp",
        "shot.1001.tif",
        "other.1001.exr",
        "shot.-0002.exr",
    )
    seq = FrameSequence.from_pattern(tmp_path / "shot.####.exr")
    assert seq.frames == (-2, 999, 1000, 1002, 10000)
    assert (seq.first, seq.last) == (-2, 10000)
    assert seq.path(-2).is_file()


def test_printf_pattern_with_no_padding_matches_unpadded_numbers(tmp_path: Path) -> None:
    _touch(tmp_path, "a.1.exr", "a.10.exr", "a.010.exr")
    assert FrameSequence.from_pattern(tmp_path / "a.%d.exr").frames == (1, 10)


def test_no_matching_files_names_pattern_and_directory(tmp_path: Path) -> None:
    _touch(tmp_path, "shot.1001.tif")
    with pytest.raises(InputError, match=f"shot.####.exr: no files match this pattern in {tmp_path}"):
        FrameSequence.from_pattern(tmp_path / "shot.####.exr")


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"directory {tmp_path / 'nope'} does not exist"):
        FrameSequence.from_pattern(tmp_path / "nope" / "shot.####.exr", "1-3")


def test_asked_frames_are_checked_and_missing_ones_listed_as_ranges(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"plate.{f}.exr" for f in range(1001, 1011) if f not in (1003, 1007, 1008, 1009)))
    pattern = tmp_path / "plate.####.exr"
    with pytest.raises(InputError) as caught:
        FrameSequence.from_pattern(pattern, "1001-1010")
    assert str(caught.value) == f"{pattern}: frames 1003, 1007-1009 missing in 1001-1010"

    seq = FrameSequence.from_pattern(pattern, "1001-1010x5")
    assert seq.frames == (1001, 1006)
    assert FrameSequence.from_pattern(pattern, [1002, 1001]).frames == (1001, 1002)


def test_one_missing_frame_reads_singular(tmp_path: Path) -> None:
    _touch(tmp_path, "p.0001.exr")
    with pytest.raises(InputError, match=r"p.####.exr: frame 2 missing in 1-2$"):
        FrameSequence.from_pattern(tmp_path / "p.####.exr", "1-2")


def test_long_missing_lists_are_cut_to_one_line(tmp_path: Path) -> None:
    _touch(tmp_path, "p.0001.exr")
    with pytest.raises(InputError, match=r"frames 3, 5, 7, 9, 11, 13, 15, 17, \.\.\. \(50 frames in all\) missing"):
        FrameSequence.from_pattern(tmp_path / "p.####.exr", "1-101x2")


@pytest.mark.parametrize(
    ("text", "frames"),
    [
        ("1001", [1001]),
        ("1001-1005", [1001, 1002, 1003, 1004, 1005]),
        ("1001-1010x3", [1001, 1004, 1007, 1010]),
        ("1, 5, 9-12", [1, 5, 9, 10, 11, 12]),
        ("9-10,1,9", [1, 9, 10]),
        ("-3--1", [-3, -2, -1]),
        ("1001 - 1003", [1001, 1002, 1003]),
    ],
)
def test_parse_frame_range(text: str, frames: list[int]) -> None:
    assert parse_frame_range(text) == frames


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "--frames: cannot read 'abc'"),
        ("", "--frames: cannot read ''"),
        ("1001 1100", "--frames: cannot read '1001 1100'"),
        ("1,,2", "--frames: cannot read"),
        ("1100-1001", "--frames: range 1100-1001 runs backwards; write 1001-1100"),
        ("1-10x0", "--frames: step 0 in 1-10x0"),
        ("1-20000000", "--frames: '1-20000000' names more than 1000000 frames"),
    ],
)
def test_parse_frame_range_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^{message}"):
        parse_frame_range(text)


def test_parse_frame_range_names_its_argument() -> None:
    with pytest.raises(InputError, match="^--range: cannot read 'x'"):
        parse_frame_range("x", name="--range")


def test_format_frame_ranges() -> None:
    assert format_frame_ranges([1007, 1001, 1002, 1003, 1002]) == "1001-1003, 1007"
    assert format_frame_ranges([5]) == "5"
    assert format_frame_ranges([-2, -1, 3, 4]) == "-2--1, 3-4"
    assert format_frame_ranges([]) == ""


def test_for_output_checks_nothing_on_disk(tmp_path: Path) -> None:
    seq = FrameSequence.for_output(tmp_path / "out.%04d.exr", [1003, 1001, 1002])
    assert seq.frames == (1001, 1002, 1003)
    assert seq.path(1001) == tmp_path / "out.1001.exr"
    assert not seq.path(1001).exists()


def test_frames_must_be_ascending_and_unique() -> None:
    with pytest.raises(ValueError, match="ascending and unique"):
        FrameSequence(Path("."), "a.", ".exr", 4, (2, 1))
    with pytest.raises(ValueError, match="ascending and unique"):
        FrameSequence(Path("."), "a.", ".exr", 4, ())


def test_holes_in_a_found_sequence_are_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _touch(tmp_path, *(f"plate.{f}.exr" for f in (1001, 1002, 1003, 1005, 1008)))
    pattern = tmp_path / "plate.####.exr"
    with caplog.at_level("WARNING", logger="dreamplate.io.sequence"):
        seq = FrameSequence.from_pattern(pattern)
    assert seq.frames == (1001, 1002, 1003, 1005, 1008)
    assert [r.getMessage() for r in caplog.records] == [
        f"{pattern}: frames 1004, 1006-1007 missing between 1001 and 1008"
    ]

    caplog.clear()
    with caplog.at_level("WARNING", logger="dreamplate.io.sequence"):
        FrameSequence.from_pattern(pattern, "1001-1003")
    assert not caplog.records


def test_a_stray_file_numbered_far_away_is_warned_about_without_walking_the_span(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _touch(tmp_path, "plate.0001.exr", "plate.0002.exr", "plate.99999999.exr")
    with caplog.at_level("WARNING", logger="dreamplate.io.sequence"):
        FrameSequence.from_pattern(tmp_path / "plate.####.exr")
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'plate.####.exr'}: frames 3-99999998 missing between 1 and 99999999"
    ]
