"""Learned and flow motion fused per pixel: the better-matching motion wins, HDR stays exact, never worse than both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from ball import SIZE_2K, ball_pixels, ball_window
from squares import square_over_texture, texture

from dreamplate.interp.flow import PairFlow, estimate_flow, interpolate_frame
from dreamplate.interp.fusion import FUSION_GRID, fuse
from dreamplate.interp.retime import linear_motion_signal
from dreamplate.interp.rife import LearnedEstimator, LearnedMotion, blend_by_agreement, interpolate_learned
from dreamplate.ops.plate.reading import place_on_window, union_window


def _median_stops(out: np.ndarray, truth: np.ndarray) -> float:
    """The median error in stops: the body of a moved square, robust to its one-pixel edge."""
    return float(np.median(np.abs(np.log2(out) - np.log2(truth))))


def _uniform(shape: tuple[int, int], to_a: tuple[float, float], to_b: tuple[float, float]) -> LearnedMotion:
    h, w = shape
    return LearnedMotion(
        to_a=np.broadcast_to(np.float32(to_a), (h, w, 2)).copy(),
        to_b=np.broadcast_to(np.float32(to_b), (h, w, 2)).copy(),
        weight_b=np.full((h, w), 0.5, np.float32),
    )


def _square_pair(shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[slice, slice]]:
    """(A, B, truth at t = 0.5, the square's body at t): a textured square moving `shift` px over a still ground."""
    ground, skin = texture(96, 160, 1) * 0.1, texture(40, 40, 2)
    frames = []
    for x in (40, 40 + shift // 2, 40 + shift):
        frame = ground.copy()
        frame[28:68, x : x + 40] = skin
        frames.append(frame)
    half = 40 + shift // 2
    return frames[0], frames[2], frames[1], (slice(32, 64), slice(half + 4, half + 36))


def test_identical_hdr_frames_come_back_bit_exact() -> None:
    frame = texture(64, 96, 3) * 100.0
    frame[10, 10] = 65000.0
    frame[20, 30] = -0.25
    frame = frame.astype(np.float16).astype(np.float32)
    pair = estimate_flow(linear_motion_signal(frame), linear_motion_signal(frame), threads=2, grid=FUSION_GRID)
    learned = _uniform(frame.shape[:2], (0.7, -0.3), (-0.7, 0.3))  # a net's noise on a still frame
    out = interpolate_learned(fuse(learned, pair, 0.5), frame, frame.copy())
    np.testing.assert_array_equal(out.astype(np.float16).view(np.uint16), frame.astype(np.float16).view(np.uint16))


def test_the_flow_motion_wins_where_the_learned_motion_missed_the_object() -> None:
    a, b, truth, body = _square_pair(24)
    pair = estimate_flow(linear_motion_signal(a), linear_motion_signal(b), threads=2, grid=FUSION_GRID)
    still = _uniform(a.shape[:2], (0.0, 0.0), (0.0, 0.0))  # a net that saw no motion: a cross-fade
    fused = interpolate_learned(fuse(still, pair, 0.5), a, b)
    missed = interpolate_learned(still, a, b)

    def error(out: np.ndarray) -> float:
        return _median_stops(out[body], truth[body])

    assert error(missed) > 1.0, "the test's learned motion must be wrong for the test to mean anything"
    assert error(fused) < 0.05, f"the square must land where the flow puts it (median error {error(fused):.3f} stops)"


def test_at_half_size_the_flow_motion_still_wins_where_the_learned_motion_missed_the_object() -> None:
    # A plate past 2K has its flow candidate and fusion made at the net's working size (`candidate_flow`).
    from dreamplate.interp.fusion import candidate_flow

    a, b, truth, body = _square_pair(24)
    h, w = a.shape[:2]
    pair = candidate_flow(linear_motion_signal(a), linear_motion_signal(b), (w // 2, h // 2), threads=2)
    assert pair.forward.shape[:2] == (h // 2, w // 2)
    still = _uniform((h, w), (0.0, 0.0), (0.0, 0.0))
    fused = fuse(still, pair, 0.5)
    assert fused.to_a.shape == (h, w, 2) and fused.weight_b.shape == (h, w)
    out = interpolate_learned(fused, a, b)
    assert _median_stops(out[body], truth[body]) < 0.05


def test_at_the_flow_size_a_pixel_the_fusion_leaves_alone_keeps_the_nets_motion_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only what the fusion changed at the small size is brought back up; resampling the whole motion down and up
    # would soften the net's full-size motion everywhere.
    from dreamplate.interp import fusion

    rng = np.random.default_rng(5)
    learned = LearnedMotion(
        to_a=cv2.GaussianBlur(rng.normal(size=(64, 96, 2)).astype(np.float32) * 4, (0, 0), 3),
        to_b=cv2.GaussianBlur(rng.normal(size=(64, 96, 2)).astype(np.float32) * 4, (0, 0), 3),
        weight_b=rng.random((64, 96), dtype=np.float32),
    )
    frame = texture(32, 48, 4)
    pair = estimate_flow(linear_motion_signal(frame), linear_motion_signal(frame), threads=2, grid=FUSION_GRID)
    monkeypatch.setattr(fusion, "fuse", lambda motion, flow, t: motion)  # the small-size fusion changes nothing
    kept = fusion._fused_at_flow_size(learned, pair, 0.5)
    for name in ("to_a", "to_b", "weight_b"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(learned, name))


def test_the_learned_motion_stays_where_the_flow_is_wrong() -> None:
    a, b, truth, body = _square_pair(24)
    h, w = a.shape[:2]
    zero, hidden = np.zeros((h, w, 2), np.float32), np.zeros((h, w), np.float32)
    # A flow estimate that saw nothing move, though the square did.
    signal_a, signal_b = linear_motion_signal(a), linear_motion_signal(b)
    wrong = PairFlow(zero, zero, signal_a, signal_b, hidden, hidden, zero, zero, hidden, hidden)
    right = estimate_flow(signal_a, signal_b, threads=2)
    # The learned candidate is the flow method's own right answer, handed over as a net's motion would be.
    from dreamplate.interp.flow import inbetween_motion

    learned = LearnedMotion(*inbetween_motion(right, 0.5))
    fused = interpolate_learned(fuse(learned, wrong, 0.5), a, b)
    kept = interpolate_learned(learned, a, b)
    # The wrong flow takes nothing from the learned motion; the pixels that change are the whole-subject
    # translations both frames place there (the still ground exactly still, the square's edges), closer to the truth.
    changed = np.any(fused != kept, axis=2)

    def stops(out: np.ndarray) -> float:
        return float(np.abs(np.log2(np.maximum(out[changed], 1e-4) / np.maximum(truth[changed], 1e-4))).mean())

    assert not changed.any() or stops(fused) <= stops(kept)
    assert _median_stops(fused[body], truth[body]) < 0.05


def _display_psnr(out: np.ndarray, truth: np.ndarray) -> float:
    display = [np.clip(x, 0.0, 1.0) ** (1.0 / 2.2) for x in (out, truth)]
    return 10.0 * np.log10(1.0 / float(np.mean((display[0] - display[1]) ** 2)))


def _ball_pair(radius: float, spin: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames 0 and 2 of the 2K ball plate on the union of their windows, and the true frame 1 on it."""
    w0, w1 = ball_window(0.0, SIZE_2K, radius), ball_window(2.0, SIZE_2K, radius)
    box = union_window(w0, w1)
    a = place_on_window(ball_pixels(0.0, SIZE_2K, w0, radius, spin), w0, box)
    b = place_on_window(ball_pixels(2.0, SIZE_2K, w1, radius, spin), w1, box)
    return a, b, ball_pixels(1.0, SIZE_2K, box, radius, spin)


@pytest.mark.parametrize(("radius", "spin"), [(0.11, 0.21), (0.08, 0.0)])
def test_cg_ball_default_is_not_worse_than_either_method(rife_models: list[Path], radius: float, spin: float) -> None:
    # Issue 19: a spinning multicoloured ball crossing black at 40 px a frame on a 2K plate, data windows on the
    # ball, every other frame rebuilt: RIFE HDv3 alone gave a doubled, torn ball where the flow method's was clean.
    a, b, truth = _ball_pair(radius, spin)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    candidate = estimate_flow(*signals, threads=2, grid=FUSION_GRID)
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    default = blend_by_agreement(fuse(learned, candidate, 0.5), *signals, 0.5)
    scores = {
        "fused": _display_psnr(interpolate_learned(default, a, b), truth),
        "learned": _display_psnr(interpolate_learned(learned, a, b), truth),
        "flow": _display_psnr(interpolate_frame(estimate_flow(*signals, threads=2), a, b, 0.5), truth),
    }
    assert scores["fused"] >= max(scores["learned"], scores["flow"]) - 0.05, scores


def _slowly_spinning_ball_default() -> Callable[[], float]:
    """The default's PSNR on the ball spinning 0.05 rad a frame, made anew at each call with the rules as they are."""
    a, b, truth = _ball_pair(0.11, 0.05)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    candidate = estimate_flow(*signals, threads=2, grid=FUSION_GRID)
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)

    def default() -> float:
        motion = blend_by_agreement(fuse(learned, candidate, 0.5), *signals, 0.5)
        return _display_psnr(interpolate_learned(motion, a, b), truth)

    return default


def test_the_edges_between_a_slowly_spinning_balls_patches_follow_the_patches(
    rife_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ball spinning 0.05 rad a frame: the flow's motion wins its flat patches, while on the edges between them the
    # net's motion, a pixel off, kept its place (the flow's match only twice as good there, not ten times): the
    # default was 0.5 dB below the flow method alone. Within a region the flow has won, the edges now follow it.
    from dreamplate.interp import fusion

    default = _slowly_spinning_ball_default()
    with_regions = default()
    monkeypatch.setattr(fusion, "REGION_SHARE", 2.0)  # no window can be more than all won: the rule is off
    assert with_regions > default() + 0.05  # 0.08 dB: AGREE_SHARE already moves the edges part of the way


def test_where_the_motions_agree_their_average_beats_the_net_alone(
    rife_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same ball: over its patches the net's motion and the flow's agree to within AGREE_PIXELS, each a fraction
    # of a pixel off in its own way; the default kept the net's there, 0.35 dB below the flow method on this frame.
    from dreamplate.interp import fusion

    default = _slowly_spinning_ball_default()
    averaged = default()
    monkeypatch.setattr(fusion, "AGREE_SHARE", 0.0)
    assert averaged > default() + 0.04


def test_a_ball_moving_further_than_its_size_does_not_vanish_half_way(rife_models: list[Path]) -> None:
    # A 64 px ball 80 px apart on black: the flow method found no motion, and half way its motion matched black on
    # black perfectly, so the fusion took it over the net's ball and the ball was gone (11.7 dB, a fifth of it left).
    radius, spin = 0.03, 0.05
    a, b, truth = _ball_pair(radius, spin)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    fused = interpolate_learned(fuse(learned, estimate_flow(*signals, threads=2, grid=FUSION_GRID), 0.5), a, b)
    ball = truth.sum(axis=2) > 0.05
    assert fused[ball].sum() > 0.5 * truth[ball].sum(), "most of the ball is there half way"
    assert _display_psnr(fused, truth) >= _display_psnr(interpolate_learned(learned, a, b), truth) - 0.5


def test_a_flow_its_other_direction_never_confirms_does_not_override_the_net(rife_models: list[Path]) -> None:
    # The same ball: DIS followed none of its 80 px (nine pixels in ten fail the forward-backward check), yet its motion
    # matched the smooth ball onto itself in a few places and won there: 0.3 dB below the network alone.
    a, b, truth = _ball_pair(0.03, 0.05)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    fused = interpolate_learned(fuse(learned, estimate_flow(*signals, threads=2, grid=FUSION_GRID), 0.5), a, b)
    assert _display_psnr(fused, truth) >= _display_psnr(interpolate_learned(learned, a, b), truth) - 0.1


def test_cg_ball_plate_retimed_by_default_is_not_worse_than_flow(rife_models: list[Path], tmp_path: Path) -> None:
    # The case end to end: EXRs whose data windows follow the ball, every other frame rebuilt by the retimer.
    from ball import write_ball_plate

    from dreamplate.interp.retime import run_interpolate
    from dreamplate.interp.spec import InterpolateSpec
    from dreamplate.io.exr import read_exr
    from dreamplate.io.provenance import Provenance

    pattern = write_ball_plate(tmp_path / "in", [0.0, 2.0], radius=0.08, spin=0.0)
    scores = {}
    for name, method, fusion in (("auto", "auto", True), ("flow", "flow", True), ("rife", "learned", False)):
        out = tmp_path / name / "o.####.exr"
        run_interpolate(InterpolateSpec(inputs=[pattern], output=str(out), factor=2, method=method, fusion=fusion))
        middle = read_exr(out.parent / "o.0002.exr")
        pixels = np.dstack([middle.channels[c] for c in "RGB"]).astype(np.float32)
        scores[name] = _display_psnr(pixels, ball_pixels(1.0, SIZE_2K, middle.data_window, radius=0.08, spin=0.0))
    assert scores["auto"] >= scores["flow"] - 0.05, scores
    # --no-fusion is the network alone (plain RIFE): measurably below the fused default on this ball.
    assert scores["auto"] > scores["rife"] + 0.3, scores
    plain = Provenance.from_attributes(read_exr(tmp_path / "rife" / "o.0002.exr").attributes)
    assert plain is not None and plain.parameters["fusion"] is False


def test_no_fusion_with_the_flow_method_is_refused() -> None:
    from pydantic import ValidationError

    from dreamplate.interp.spec import InterpolateSpec

    with pytest.raises(ValidationError, match="--no-fusion applies to --method learned"):
        InterpolateSpec(inputs=["a.exr", "b.exr"], output="m.exr", method="flow", fusion=False)


def _urban2(shared_data: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Middlebury's Urban2 (a rendered city, the camera moving) as scene-linear frames A, B and the true middle."""
    root = shared_data / "interp" / "middlebury_others"
    paths = (root / "input/Urban2/frame10.png", root / "input/Urban2/frame11.png", root / "gt/Urban2/frame10i11.png")
    srgb = [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0 for p in paths]
    a, b, truth = (np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4).astype(np.float32) for s in srgb)
    return a, b, truth


def _psnr(out: np.ndarray, truth: np.ndarray) -> float:
    return 10.0 * np.log10(1.0 / float(np.mean((np.clip(out, 0.0, 1.0) - truth) ** 2)))


def test_a_textured_cg_city_is_not_taken_over_by_the_flow(rife_models: list[Path], shared_data: Path) -> None:
    # Urban2 through the retimer's path: the flow's match is clean on rendered texture as on a flat-shaded ball, and
    # the clean-match rule gave it three quarters of the frame: 0.8 dB below the network alone. Now only where the
    # picture is flat too.
    a, b, truth = _urban2(shared_data)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    fused = interpolate_learned(fuse(learned, estimate_flow(*signals, threads=2, grid=FUSION_GRID), 0.5), a, b)
    assert _psnr(fused, truth) >= _psnr(interpolate_learned(learned, a, b), truth) - 0.05


def test_settling_the_blend_where_the_frames_agree_beats_the_nets_mask(
    rife_models: list[Path], shared_data: Path
) -> None:
    a, b, truth = _urban2(shared_data)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    settled = interpolate_learned(blend_by_agreement(learned, *signals, 0.5), a, b)
    assert _psnr(settled, truth) > _psnr(interpolate_learned(learned, a, b), truth) + 0.2


def test_settling_the_blend_keeps_the_mask_at_the_edges_of_a_textured_subject_over_texture(
    rife_models: list[Path],
) -> None:
    # A 16 px textured square moving 32 px over a textured ground: the two frames show different surfaces at its
    # edges, yet the signals there were close enough for the settling to pull the weights toward t, and the edges
    # ghosted: 0.4 dB below the net's own mask (AGREE_SPREAD 0.6).
    a, b, truth = square_over_texture(16, 32, 0.3)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    settled = interpolate_learned(blend_by_agreement(learned, *signals, 0.5), a, b)
    assert _display_psnr(settled, truth) >= _display_psnr(interpolate_learned(learned, a, b), truth) - 0.1


def test_the_flow_wins_the_occluded_edges_of_a_bright_subject_over_texture(rife_models: list[Path]) -> None:
    # A bright 24 px square moving 16 px over texture: around it the net's smooth motion drags the ground, while
    # the flow method's takes each edge from the one frame that sees it. The two frames cannot agree there, so the
    # flow's photo cost was the higher and the net's motion kept the edges: 2.8 dB below the flow method alone.
    a, b, truth = square_over_texture(24, 16, 3.0)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    candidate = estimate_flow(*signals, threads=2, grid=FUSION_GRID)
    default = interpolate_learned(blend_by_agreement(fuse(learned, candidate, 0.5), *signals, 0.5), a, b)
    flow = interpolate_frame(estimate_flow(*signals, threads=2), a, b, 0.5)
    assert _display_psnr(default, truth) >= _display_psnr(flow, truth) - 0.3


@pytest.mark.parametrize(("size", "shift", "gain"), [(32, 48, 3.0), (32, 32, 0.3)])
def test_a_subject_moving_further_than_its_size_is_placed_where_both_frames_put_it(
    rife_models: list[Path], size: int, shift: int, gain: float
) -> None:
    # A 32 px textured square moving 48 px (bright) or 32 px (dim) over a textured ground: half way, the ground is
    # visible in both frames where the square should be, so both motions matched "still ground" there and lost the
    # square (the bright one 1.0 dB below the net alone, the dim one level with both methods). Both frames' own
    # pixels place the square there (its translation, from phase correlation): now above both methods.
    a, b, truth = square_over_texture(size, shift, gain)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    candidate = estimate_flow(*signals, threads=2, grid=FUSION_GRID)
    default = interpolate_learned(blend_by_agreement(fuse(learned, candidate, 0.5), *signals, 0.5), a, b)
    net = interpolate_learned(blend_by_agreement(learned, *signals, 0.5), a, b)
    flow = interpolate_frame(estimate_flow(*signals, threads=2), a, b, 0.5)
    scores = {name: _display_psnr(x, truth) for name, x in (("fused", default), ("net", net), ("flow", flow))}
    assert scores["fused"] >= max(scores["net"], scores["flow"]) + 0.3, scores


def test_a_pairs_translation_parts_are_worked_out_once_for_all_its_inbetweens(
    rife_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dreamplate.interp import fusion
    from dreamplate.interp.rife import at_time

    a, b, _ = square_over_texture(32, 48, 3.0)
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    half = LearnedEstimator("rife-hdv3", threads=2).estimate_pair(*signals)
    candidate = estimate_flow(*signals, threads=2, grid=FUSION_GRID)
    found = []
    untimed = fusion.translations
    monkeypatch.setattr(fusion, "translations", lambda *s: found.append(1) or untimed(*s))
    kept = [fuse(at_time(half, t), candidate, t) for t in (0.25, 0.5, 0.75)]
    assert len(found) == 1  # a 4x slow-down's three in-betweens of the pair
    fusion._PARTS.clear()
    for t, motion in zip((0.25, 0.5, 0.75), kept, strict=True):
        fresh = fuse(at_time(half, t), candidate, t)
        np.testing.assert_array_equal(motion.to_a, fresh.to_a)
        np.testing.assert_array_equal(motion.weight_b, fresh.weight_b)
