"""Output frame plans: bracket, factor, two-frame times, frame-rate change, retime maps."""

from pathlib import Path

import pytest

from dreamplate.errors import InputError
from dreamplate.interp.timing import (
    OutputSample,
    bracket,
    plan_factor,
    plan_fps,
    plan_retime,
    plan_speed,
    plan_times,
    read_retime_map,
)


def _rows(samples: list[OutputSample]) -> list[tuple[int, int, int, float]]:
    return [(s.frame, s.frame_a, s.frame_b, round(s.t, 9)) for s in samples]


def test_bracket_exact_hit_between_and_gap() -> None:
    assert bracket(2.0, [1, 2, 4]) == (2, 2, 0.0)
    assert bracket(1.25, [1, 2, 4]) == (1, 2, 0.25)
    assert bracket(3.0, [4, 2, 1]) == (2, 4, 0.5)
    assert bracket(4.0, [1, 2, 4]) == (4, 4, 0.0)


def test_bracket_snaps_float_noise_onto_a_source_frame() -> None:
    assert bracket(3 * 0.4 * 2.5, [1, 2, 3]) == (3, 3, 0.0)  # 3.0000000000000004
    assert bracket(0.9999999999, [1, 2]) == (1, 1, 0.0)


@pytest.mark.parametrize("position", [0.5, 4.5, float("nan")])
def test_bracket_outside_the_range_names_position_and_range(position: float) -> None:
    with pytest.raises(InputError, match=r"source position .* is outside the source frames 1-4"):
        bracket(position, [1, 2, 4])


def test_factor_3_on_three_frames() -> None:
    samples = plan_factor([1001, 1002, 1003], 3)
    assert [s.frame for s in samples] == list(range(1001, 1008))
    assert [s.t for s in samples] == [0.0, 1 / 3, 2 / 3, 0.0, 1 / 3, 2 / 3, 0.0]
    assert [s.frame_a for s in samples] == [1001, 1001, 1001, 1002, 1002, 1002, 1003]
    assert samples[2].source == pytest.approx(1001 + 2 / 3, abs=1e-9)
    assert samples[3] == OutputSample(1004, 1002.0, 1002, 1002, 0.0)


def test_factor_2_gives_2n_minus_1_frames_and_handles_gaps_by_ordinal() -> None:
    samples = plan_factor([1, 2, 4], 2)
    assert _rows(samples) == [(1, 1, 1, 0.0), (2, 1, 2, 0.5), (3, 2, 2, 0.0), (4, 2, 4, 0.5), (5, 4, 4, 0.0)]
    assert samples[3].source == 3.0


def test_factor_1_and_a_single_frame_pass_through() -> None:
    assert _rows(plan_factor([7, 8], 1)) == [(7, 7, 7, 0.0), (8, 8, 8, 0.0)]
    assert _rows(plan_factor([7], 4)) == [(7, 7, 7, 0.0)]


@pytest.mark.parametrize("factor", [0, -2, 2.5, True])
def test_factor_must_be_a_whole_number_of_one_or_more(factor: object) -> None:
    with pytest.raises(InputError, match="^--factor: must be a whole number of 1 or more"):
        plan_factor([1, 2], factor)  # type: ignore[arg-type]


def test_times_number_outputs_from_one_and_pass_ends_through() -> None:
    samples = plan_times([0.25, 0.5, 0.0, 1.0])
    assert _rows(samples) == [(1, 0, 1, 0.25), (2, 0, 1, 0.5), (3, 0, 0, 0.0), (4, 1, 1, 0.0)]
    assert [s.source for s in samples] == [0.25, 0.5, 0.0, 1.0]


@pytest.mark.parametrize(("times", "message"), [([], "no times given"), ([0.5, 1.5, -0.1], "1.5, -0.1 outside")])
def test_times_are_checked(times: list[float], message: str) -> None:
    with pytest.raises(InputError, match=f"^--times: {message}"):
        plan_times(times)


def test_fps_24_to_60_on_five_frames() -> None:
    samples = plan_fps([1001, 1002, 1003, 1004, 1005], 24, 60)
    assert [s.frame for s in samples] == list(range(1001, 1012))
    assert [round(s.source - 1001, 9) for s in samples] == [
        0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8, 3.2, 3.6, 4.0
    ]  # fmt: skip
    assert [s.t == 0.0 for s in samples].count(True) == 3  # 1001, 1003, 1005 pass through
    assert (samples[3].frame_a, samples[3].frame_b, round(samples[3].t, 9)) == (1002, 1003, 0.2)


def test_fps_60_to_24_drops_frames_and_gaps_are_bridged_in_time() -> None:
    assert [s.source for s in plan_fps(range(0, 6), 60, 24)] == [0.0, 2.5, 5.0]
    assert _rows(plan_fps([0, 1, 4], 2, 1)) == [(0, 0, 0, 0.0), (1, 1, 4, round(1 / 3, 9)), (2, 4, 4, 0.0)]


def test_fps_must_be_positive() -> None:
    with pytest.raises(InputError, match="^--fps: target fps must be a positive number, got 0"):
        plan_fps([1, 2], 24, 0)


def test_speed_is_kronos_speed_timing() -> None:
    frames = [1001, 1002, 1003, 1004, 1005]
    assert [s.source for s in plan_speed(frames, 0.4)] == [s.source for s in plan_fps(frames, 24, 60)]
    assert [s.source for s in plan_speed(range(0, 7), 2.0)] == [0.0, 2.0, 4.0, 6.0]  # double speed: every other
    assert _rows(plan_speed([0, 1, 4], 1.5)) == [
        (0, 0, 0, 0.0),
        (1, 1, 4, round(0.5 / 3, 9)),
        (2, 1, 4, round(2 / 3, 9)),
    ]
    with pytest.raises(InputError, match="^--speed: must be a positive number, got 0"):
        plan_speed([1, 2], 0.0)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "retime.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_retime_map_reads_comments_commas_and_reverse(tmp_path: Path) -> None:
    path = _write(tmp_path, "# reverse\n\n1 3   # last first\n2,2.5\n3 , 1\n4\t1001.0e-3\n")
    assert read_retime_map(path) == [(1, 3.0), (2, 2.5), (3, 1.0), (4, 1.001)]
    samples = plan_retime(read_retime_map(path)[:3], [1, 2, 3])
    assert _rows(samples) == [(1, 3, 3, 0.0), (2, 2, 3, 0.5), (3, 1, 1, 0.0)]


def test_speed_ramp_slows_into_a_hold(tmp_path: Path) -> None:
    path = _write(tmp_path, "1001 1001\n1002 1002\n1003 1002.5\n1004 1002.75\n1005 1002.75\n1006 1003\n")
    samples = plan_retime(read_retime_map(path), range(1001, 1004))
    assert _rows(samples) == [
        (1001, 1001, 1001, 0.0),
        (1002, 1002, 1002, 0.0),
        (1003, 1002, 1003, 0.5),
        (1004, 1002, 1003, 0.75),
        (1005, 1002, 1003, 0.75),
        (1006, 1003, 1003, 0.0),
    ]


def test_retime_plan_is_in_output_frame_order() -> None:
    assert [s.frame for s in plan_retime([(3, 1.0), (1, 2.0), (2, 1.5)], [1, 2])] == [1, 2, 3]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 1\n2 2 2\n", r":2: expected 'output_frame source_frame', got '2 2 2'"),
        ("1 1\n\n# c\nx 2\n", r":4: 'x' is not a frame number"),
        ("1 nan\n", r":1: 'nan' is not a frame number"),
        ("1.5 2\n", r":1: output frame '1.5' is not a whole number"),
        ("1 1\n2 2\n1 3\n", r":3: output frame 1 already given on line 1"),
        ("# only a comment\n", r": retime map has no 'output_frame source_frame' lines"),
    ],
)
def test_retime_map_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=f"^{path}{message}"):
        read_retime_map(path)


def test_missing_retime_map_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.txt: cannot read retime map"):
        read_retime_map(tmp_path / "nope.txt")


def test_retime_outside_the_source_names_every_output_frame_before_any_work() -> None:
    mapping = [(1, 1.0), (2, 0.5), (3, 2.0), (4, 9.0), (5, 9.5)]
    with pytest.raises(InputError) as caught:
        plan_retime(mapping, [1, 2, 3])
    assert str(caught.value) == (
        "retime map: output frames 2, 4-5 ask for source positions outside the source frames 1-3 (frame 2 wants 0.5)"
    )


def test_retime_with_repeated_output_frames_is_refused() -> None:
    with pytest.raises(InputError, match="^retime map: output frames 2 given more than once"):
        plan_retime([(1, 1.0), (2, 1.0), (2, 2.0)], [1, 2])


def test_samples_built_by_hand_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="use bracket"):
        OutputSample(1, 1.5, 1, 1, 0.5)
    with pytest.raises(ValueError, match="use bracket"):
        OutputSample(1, 2.0, 1, 2, 1.0)
