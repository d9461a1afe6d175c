"""Frame windows for long shots: valid lengths, coverage, seeds, seam blends and colour anchoring."""

import numpy as np
import pytest

from dreamplate.errors import JobError
from dreamplate.gen.windows import (
    Window,
    anchor_colour,
    blend_weights,
    blend_windows,
    measure_drift,
    measure_shift,
    plan_windows,
    seed_for_window,
)


def _check_plan(windows: list[Window], n_frames: int, window: int, overlap: int, multiple: int) -> None:
    covered = np.zeros(n_frames, int)
    for win in windows:
        assert (win.length - 1) % multiple == 0 and win.length <= window
        covered[win.start : win.stop] += 1
    assert covered.min() >= 1
    assert windows[-1].stop == n_frames and windows[0].start == 0
    for a, b in zip(windows, windows[1:], strict=False):
        assert b.start > a.start and a.stop - b.start >= overlap


@pytest.mark.parametrize(
    ("n_frames", "window", "overlap", "multiple"),
    [(300, 81, 16, 4), (300, 121, 24, 8), (150, 81, 16, 4), (82, 81, 0, 4), (1000, 33, 8, 4), (97, 17, 16, 8)],
)
def test_plans_obey_length_overlap_and_coverage(n_frames, window, overlap, multiple):
    windows = plan_windows(n_frames, window, overlap, multiple)
    _check_plan(windows, n_frames, window, overlap, multiple)
    assert all(w.padded == 0 for w in windows)
    assert windows == plan_windows(n_frames, window, overlap, multiple)


def test_wan_300_frames():
    windows = plan_windows(300, 81, 16, 4)
    assert [(w.start, w.length) for w in windows] == [(0, 81), (65, 81), (130, 81), (195, 81), (219, 81)]


def test_ltx_300_frames():
    windows = plan_windows(300, 121, 24, 8)
    assert [(w.start, w.length) for w in windows] == [(0, 121), (97, 121), (179, 121)]


def test_window_not_of_a_valid_length_is_rounded_down():
    assert {w.length for w in plan_windows(200, 80, 10, 4)} == {77}


def test_short_shot_is_one_padded_window():
    (win,) = plan_windows(50, 81, 16, 4)
    assert (win.start, win.length, win.padded, win.stop) == (0, 53, 3, 50)
    assert win.source_indices()[-4:] == [49, 49, 49, 49]
    (exact,) = plan_windows(49, 81, 16, 4)
    assert exact.padded == 0 and exact.length == 49


def test_overlap_as_long_as_a_window_is_refused():
    with pytest.raises(JobError, match="overlap must be in"):
        plan_windows(300, 81, 81, 4)


def test_seed_schedule_is_fixed_and_distinct():
    seeds = [seed_for_window(1234, i) for i in range(50)]
    assert seeds[0] == 1234
    assert len(set(seeds)) == 50 and all(0 <= s < 2**63 for s in seeds)
    assert seeds == [seed_for_window(1234, i) for i in range(50)]
    assert seed_for_window(1235, 1) != seeds[1]


@pytest.mark.parametrize(("n_frames", "window", "overlap"), [(300, 81, 16), (150, 81, 16), (300, 41, 20)])
def test_blend_weights_sum_to_one_and_move_in_small_steps(n_frames, window, overlap):
    windows = plan_windows(n_frames, window, overlap, 4)
    weights = blend_weights(windows, n_frames)
    np.testing.assert_allclose(weights.sum(axis=0), 1.0, atol=1e-12)
    # About the largest step of a raised cosine over the shortest overlap (a little more where a shifted-back last
    # window makes three overlap), and no bigger jump at any border.
    assert np.abs(np.diff(weights, axis=1)).max() <= 1.05 * np.pi / 2 / (overlap + 1)


def test_blend_is_exact_where_one_window_covers_and_monotone_across_seams():
    n_frames = 300
    windows = plan_windows(n_frames, 81, 16, 4)
    rng = np.random.default_rng(0)
    results = []
    for k, win in enumerate(windows):
        frames = np.full((win.length, 2, 3, 3), float(k), np.float32)
        frames[:, 0, 0] = rng.random((win.length, 3))  # noise must pass through untouched where one window covers
        results.append((win, frames))
    out = blend_windows(results, n_frames)
    assert out.shape == (n_frames, 2, 3, 3)
    coverage = np.zeros(n_frames, int)
    for win in windows:
        coverage[win.start : win.stop] += 1
    for f in np.flatnonzero(coverage == 1):
        (win, frames) = next((w, fr) for w, fr in results if w.start <= f < w.stop)
        assert np.array_equal(out[f], frames[f - win.start])
    level = out[:, 1, 1, 0]
    assert np.all(np.diff(level) >= 0)  # constant windows 0, 1, 2, ...: a cross-fade, never a step back
    assert np.abs(np.diff(level)).max() < 0.1


def test_blend_drops_padding_and_checks_lengths():
    (win,) = plan_windows(50, 81, 16, 4)
    frames = np.arange(53, dtype=np.float32).reshape(53, 1, 1, 1)
    out = blend_windows([(win, frames)], 50)
    assert np.array_equal(out[:, 0, 0, 0], np.arange(50, dtype=np.float32))
    with pytest.raises(JobError, match="window 0 has 52 frames"):
        blend_windows([(win, frames[:52])], 50)


def _static_plate(frames: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    still = np.clip(0.45 + 0.15 * rng.standard_normal((16, 16, 3)), 0, 1).astype(np.float32)
    return np.repeat(still[None], frames, axis=0)


def _warm(frames: np.ndarray) -> np.ndarray:
    """The intended look: 20% warmer (R up, B down), applied the same to every window."""
    return np.clip(frames * np.float32([1.2, 1.0, 0.8]), 0, 1)


def test_anchoring_removes_drift_and_keeps_the_intended_look():
    n_frames = 300
    plate = _static_plate(n_frames)
    windows = plan_windows(n_frames, 81, 16, 4)
    drifting, anchored = [], []
    reference = None
    for k, win in enumerate(windows):
        plate_k = plate[win.source_indices()]
        out_k = np.clip(_warm(plate_k) + np.float32([0.02, -0.015, 0.01]) * k, 0, 1)  # a growing bias: drift
        if reference is None:
            reference = measure_shift(out_k, plate_k)
        drifting.append(out_k)
        anchored.append(anchor_colour(out_k, plate_k, reference))
    raw_drift = measure_drift(drifting[0], drifting[-1])
    drift = measure_drift(anchored[0], anchored[-1])
    assert np.abs(raw_drift).max() > 0.05
    assert np.abs(drift).max() < 2e-3
    look = anchored[-1].mean(axis=(0, 1, 2)) / plate.mean(axis=(0, 1, 2))
    assert look[0] > 1.15 and look[2] < 0.85  # still warmer: the look is kept, not anchored away
    np.testing.assert_allclose(anchored[0], drifting[0], atol=1e-5)  # window 0 is the reference: unchanged


def test_anchoring_follows_each_windows_own_plate():
    plate = _static_plate(81)
    brighter = np.clip(plate + 0.1, 0, 1)  # the plate itself brightens later in the shot: that is not drift
    reference = measure_shift(_warm(plate), plate)
    anchored = anchor_colour(_warm(brighter), brighter, reference)
    assert measure_drift(_warm(brighter), anchored) == pytest.approx(np.zeros(3), abs=2e-3)
