"""Motion blur on retimes (`--shutter`): where the sub-frames lie, and what the exposure does to a moving highlight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from moving_plates import HIGHLIGHT, write_moving_plate
from plates import half_bits, write_plate

from dreamplate.interp.retime import run_interpolate
from dreamplate.interp.shutter import expose, frame_rates, project_motion, shutter_positions
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.interp.timing import plan_factor, plan_fps, plan_retime
from dreamplate.io.exr import read_exr

SUBJECT = (12.0, 0.0)  # px a source frame: the flow method follows it on these plates


def _retime(plate: str, out: Path, **settings) -> list[np.ndarray]:
    """factor 2 with the flow method; the R channel of the five output frames."""
    spec = InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), factor=2, method="flow", **settings)
    run_interpolate(spec)
    return [read_exr(out / f"o.{f:04d}.exr").channels["R"] for f in range(1, 6)]


def _highlight(image: np.ndarray) -> tuple[float, float, int, float]:
    """Energy above the surroundings, centroid column, width in columns, and peak of the highlight."""
    excess = np.clip(image - 1.0, 0.0, None)
    columns = np.nonzero(excess.sum(axis=0))[0]
    centroid = float((excess.sum(axis=0) * np.arange(image.shape[1])).sum() / excess.sum())
    return float(excess.sum()), centroid, int(columns[-1] - columns[0] + 1), float(image.max())


def test_positions_are_slice_midpoints_centred_leading_and_trailing() -> None:
    # 180 degrees at 0.5 source frames per output frame: open a quarter of a source frame.
    assert shutter_positions(10.0, 0.5, 180.0, 2, "centred", 0, 20) == pytest.approx([9.9375, 10.0625])
    assert shutter_positions(10.0, 0.5, 180.0, 2, "start", 0, 20) == pytest.approx([10.0625, 10.1875])
    assert shutter_positions(10.0, 0.5, 180.0, 2, "end", 0, 20) == pytest.approx([9.8125, 9.9375])
    assert shutter_positions(10.0, 0.5, 180.0, 1, "start", 0, 20) == pytest.approx([10.125])
    # Held inside the source frames, as a Read node holds its ends; a reversed retime opens backward.
    assert shutter_positions(0.0, 1.0, 360.0, 2, "centred", 0, 20) == pytest.approx([0.0, 0.25])
    assert shutter_positions(10.0, -1.0, 180.0, 1, "start", 0, 20) == pytest.approx([9.75])
    # Custom: the shutter opens the given output frames from the frame (Nuke's shuttercustomoffset), here -0.5 frames
    # (a quarter of a source frame before), whatever the angle.
    assert shutter_positions(10.0, 0.5, 180.0, 2, "custom", 0, 20, -0.5) == pytest.approx([9.8125, 9.9375])
    assert shutter_positions(10.0, 0.5, 90.0, 1, "custom", 0, 20, 0.25) == pytest.approx([10.1875])


def test_frame_rates_follow_the_plan() -> None:
    assert set(frame_rates(plan_factor([1, 2, 3], 2)).values()) == {(0.5, 0.5)}
    fps = frame_rates(plan_fps([0, 1, 2, 3, 4], 24.0, 60.0))
    assert all(r == pytest.approx((0.4, 0.4)) for r in fps.values())
    reverse = frame_rates(plan_retime([(1, 3.0), (2, 2.0), (3, 1.0)], [1, 2, 3]))
    assert reverse == {1: (-1.0, -1.0), 2: (-1.0, -1.0), 3: (-1.0, -1.0)}


def test_expose_averages_in_float_and_keeps_ids_whole() -> None:
    frames = [np.full((2, 2, 2), v, np.float32) for v in (65504.0, 0.0, 1.0)]
    out = expose(frames, nearest=[False, True], sharp=2)
    assert out[0, 0, 0] == pytest.approx(65505.0 / 3)
    assert np.all(out[..., 1] == 1.0)  # the ID channel from the sharp sub-frame, never averaged


def test_learned_motion_is_carried_to_a_sub_frame_time_along_itself() -> None:
    motion = np.zeros((24, 40, 2), np.float32)
    motion[..., 0] = 8.0  # 8 px right per pair
    to_a, to_b, weight = project_motion(-0.5 * motion, 0.5 * motion, np.full((24, 40), 0.5, np.float32), 0.5, 0.75)
    inner = (slice(2, -2), slice(10, -2))
    np.testing.assert_allclose(to_a[inner], -0.75 * motion[inner], atol=1e-5)  # A now 6 px behind
    np.testing.assert_allclose(to_b[inner], 0.25 * motion[inner], atol=1e-5)
    np.testing.assert_allclose(weight[inner], 0.75, atol=1e-6)  # B's weight follows the time


@pytest.mark.parametrize("size", [(61, 97), (270, 480)])
def test_carrying_motion_works_on_frames_whose_holes_need_odd_coarser_levels(size: tuple[int, int]) -> None:
    """Regression: the five values carried (two positions and B's weight) were filled in one OpenCV resize, which
    takes four channels at most, and failed on every size not halving evenly (a 480x270 plate)."""
    motion = np.zeros((*size, 2), np.float32)
    motion[..., 0] = 8.0
    to_a, to_b, weight = project_motion(-0.5 * motion, 0.5 * motion, np.full(size, 0.5, np.float32), 0.5, 0.75)
    assert to_a.shape == to_b.shape == (*size, 2) and weight.shape == size
    assert np.isfinite(to_a).all() and np.median(to_a[..., 0]) == pytest.approx(-6.0)


def test_moving_highlight_streaks_and_keeps_its_energy(tmp_path: Path) -> None:
    plate, _ = write_moving_plate(tmp_path / "in", subject=SUBJECT)
    sharp = _retime(plate, tmp_path / "sharp")
    blurred = _retime(plate, tmp_path / "blur", shutter=360.0, shutter_samples=24)
    for index in (1, 2, 3):  # in-betweens and, between them, the original frame 2 of the slowed plate
        energy, centroid, width, peak = _highlight(sharp[index])
        blur_energy, blur_centroid, blur_width, blur_peak = _highlight(blurred[index])
        # 360 degrees at half speed: a streak of 6 px added to the 4 px highlight, the same light spread over it.
        assert peak == HIGHLIGHT and blur_peak < 0.8 * HIGHLIGHT
        assert blur_width >= width + 5
        assert blur_energy == pytest.approx(energy, rel=0.05)
        assert blur_centroid == pytest.approx(centroid, abs=0.3)


def test_leading_and_trailing_shutters_shift_the_streak_by_its_length(tmp_path: Path) -> None:
    plate, _ = write_moving_plate(tmp_path / "in", subject=SUBJECT)
    start = _retime(plate, tmp_path / "start", shutter=180.0, shutter_samples=16, shutter_offset="start")
    end = _retime(plate, tmp_path / "end", shutter=180.0, shutter_samples=16, shutter_offset="end")
    for index in (1, 2, 3):
        # 180 degrees at half speed over 12 px a frame: the shutter spans 3 px, opening at or closing on the frame.
        assert _highlight(start[index])[1] - _highlight(end[index])[1] == pytest.approx(3.0, abs=0.3)


def test_a_custom_offset_opens_the_shutter_where_nuke_would(tmp_path: Path) -> None:
    plate, _ = write_moving_plate(tmp_path / "in", subject=SUBJECT)
    settings = {"shutter": 180.0, "shutter_samples": 8}
    centred = _retime(plate, tmp_path / "centred", **settings)
    start = _retime(plate, tmp_path / "start", shutter_offset="start", **settings)
    # 180 degrees is half an output frame: opening a quarter frame before is centred, opening at the frame is start.
    early = _retime(plate, tmp_path / "custom", shutter_offset="custom", shutter_custom_offset=-0.25, **settings)
    for index in range(5):
        np.testing.assert_array_equal(half_bits(early[index]), half_bits(centred[index]))
    at_frame = InterpolateSpec(
        inputs=[plate],
        output=str(tmp_path / "custom" / "o.####.exr"),
        factor=2,
        method="flow",
        shutter_offset="custom",
        shutter_custom_offset=0.0,
        **settings,
    )
    assert len(run_interpolate(at_frame).written) == 5  # another offset is another picture: nothing skipped
    for index in range(5):
        frame = read_exr(tmp_path / "custom" / f"o.{index + 1:04d}.exr").channels["R"]
        np.testing.assert_array_equal(half_bits(frame), half_bits(start[index]))


def test_shutter_zero_leaves_every_frame_bit_for_bit_and_resumes(tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4))
    out = tmp_path / "out"
    plain = run_interpolate(InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), factor=2))
    assert len(plain.written) == 5
    again = run_interpolate(InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), factor=2, shutter=0))
    assert not again.written and len(again.skipped) == 5  # the same frames: nothing to redo
    fresh = tmp_path / "fresh"
    run_interpolate(InterpolateSpec(inputs=[plate], output=str(fresh / "o.####.exr"), factor=2, shutter=0.0))
    for frame in range(1, 6):
        a, b = read_exr(out / f"o.{frame:04d}.exr"), read_exr(fresh / f"o.{frame:04d}.exr")
        for name in a.channels:
            np.testing.assert_array_equal(half_bits(a.channels[name]), half_bits(b.channels[name]))
    blurred = run_interpolate(InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), factor=2, shutter=180))
    assert len(blurred.written) == 5  # another shutter is another picture


def test_a_still_hdr_plate_is_exact_under_any_shutter(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rgb = (rng.random((64, 96), dtype=np.float32) * 64.0).astype(np.float16).astype(np.float32)
    rgb[0, :6] = [65504, 1000, 64, 0.18, 0, 2e-5]
    still = {"R": rgb, "G": rgb * 0.5, "B": rgb[::-1].copy()}
    plate = write_plate(tmp_path / "in", range(1, 4), overrides=dict.fromkeys(range(1, 4), still))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=3, shutter=270)
    run_interpolate(spec)
    for frame in range(1, 8):
        out = read_exr(tmp_path / "o" / f"o.{frame:04d}.exr")
        for name in ("R", "G", "B"):
            np.testing.assert_array_equal(half_bits(out.channels[name]), half_bits(still[name]))


def test_a_chunk_blurs_its_frames_as_the_whole_run_does(tmp_path: Path) -> None:
    plate, _ = write_moving_plate(tmp_path / "in", subject=SUBJECT)
    whole = _retime(plate, tmp_path / "whole", shutter=180.0)
    spec = InterpolateSpec(
        inputs=[plate], output=str(tmp_path / "part" / "o.####.exr"), factor=2, method="flow", shutter=180.0
    )
    run_interpolate(spec, only_frames=[5])
    np.testing.assert_array_equal(read_exr(tmp_path / "part" / "o.0005.exr").channels["R"], whole[4])


@pytest.mark.parametrize(
    ("option", "value", "named"),
    [
        ("--shutter", "1000", "--shutter"),
        ("--shutter", "-5", "--shutter"),
        ("--shutter-samples", "0", "--shutter-samples"),
    ],
)
def test_bad_shutter_settings_fail_in_one_line_and_write_nothing(
    tmp_path: Path, option: str, value: str, named: str
) -> None:
    plate = write_plate(tmp_path / "in", range(1, 3))
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "dreamplate.cli", "interpolate", plate, "-o", str(out / "o.####.exr"), option, value],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1
    assert run.stderr.startswith(f"ERROR: {named}") and len(run.stderr.strip().splitlines()) == 1
    assert not out.exists() or not list(out.iterdir())
