"""A pair's shared motion (a pan) taken out before the network runs, and added back to its motion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from squares import texture

from dreamplate.interp.fusion import candidate_flow, fuse
from dreamplate.interp.retime import linear_motion_signal
from dreamplate.interp.rife import LearnedEstimator, blend_by_agreement, interpolate_learned
from dreamplate.interp.shared_motion import quick_forward, shared_shift


def _panned_pair(move: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured picture whose frames A and B (120 x 160) show it moved `move` px right."""
    scene = linear_motion_signal(texture(120, 240, 8))
    return scene[:, 40:200], scene[:, 40 - move : 200 - move]


@pytest.mark.parametrize(("move", "expected"), [(12, None), (20, (20.0, 0.0))])
def test_the_shared_shift_is_the_flows_median_in_whole_pixels_from_16_px(
    move: int, expected: tuple[float, float] | None
) -> None:
    a, b = _panned_pair(move)
    forward = candidate_flow(a, b, (160, 120), threads=2).forward
    shift = shared_shift(forward, (160, 120), (320, 240))  # a plate twice the flow's size
    if expected is None:
        assert shift is None
    else:
        np.testing.assert_array_equal(shift, 2.0 * np.float32(expected))


def test_the_threshold_is_judged_at_the_networks_working_size() -> None:
    a, b = _panned_pair(20)
    forward = candidate_flow(a, b, (160, 120), threads=2).forward
    assert shared_shift(forward, (80, 60), (160, 120)) is None  # 10 px at a half-size working size


def test_without_a_flow_candidate_a_quick_pass_finds_the_same_shift() -> None:
    a, b = _panned_pair(20)
    assert np.array_equal(shared_shift(quick_forward(a, b, (160, 120)), (160, 120), (160, 120)), [20.0, 0.0])


def test_a_camera_pan_is_taken_out_before_the_network_runs(rife_models: list[Path], shared_data: Path) -> None:
    # Middlebury's RubberWhale with a 48 x 24 px pan added across the pair: HDv3 locked onto the wrong period of its
    # lattice and tore it, and the fused default came out 9 dB below the flow method (27.1 against 36.4 dB).
    root = shared_data / "interp" / "middlebury_others"
    paths = (
        root / "input/RubberWhale/frame10.png",
        root / "gt/RubberWhale/frame10i11.png",
        root / "input/RubberWhale/frame11.png",
    )
    a, truth, b = (cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0 for p in paths)
    h, w = a.shape[:2]
    a, truth, b = a[: h - 24, : w - 48], truth[12 : h - 12, 24 : w - 24], b[24:, 48:]
    size = (a.shape[1], a.shape[0])
    candidate = candidate_flow(a, b, size, threads=2)
    shift = shared_shift(candidate.forward, size, size)
    assert shift is not None and np.abs(shift - np.float32([-48.0, -24.0])).max() <= 2.0
    net = LearnedEstimator("rife-hdv3", threads=2)

    def default(shift: np.ndarray | None) -> float:
        motion = blend_by_agreement(fuse(net.estimate(a, b, 0.5, shift), candidate, 0.5), a, b, 0.5)
        out = np.clip(interpolate_learned(motion, a, b), 0.0, 1.0)
        return 10.0 * np.log10(1.0 / float(np.mean((out - truth) ** 2)))

    assert default(shift) > default(None) + 3.0


def test_a_real_exr_panned_24_px_a_frame_keeps_the_networks_strip(rife_models: list[Path], exr_root: Path) -> None:
    # The OpenEXR sample Tree, panned by whole pixels: frames 1 and 3 given, frame 2 the truth. The strip the pan
    # brings in, where the flow's samples leave the frame, matched "perfectly" for the flow (its one-sided pixels
    # were left out of its cost), and it took the strip over the net's: 38.4 dB, the flow method's level, against
    # 59.4 for the net alone.
    from dreamplate.interp.flow import estimate_flow, interpolate_frame
    from dreamplate.io.exr import read_exr

    image = read_exr(exr_root / "ScanLines" / "Tree.exr")
    rgb = np.dstack([image.channels[c].astype(np.float32) for c in "RGB"])[100:420, 100:580]
    a, truth, b = (rgb[:, 48 - 24 * i : 48 - 24 * i + 432] for i in range(3))  # the picture moves 24 px a frame
    signals = (linear_motion_signal(a), linear_motion_signal(b))
    size = (a.shape[1], a.shape[0])
    candidate = candidate_flow(*signals, size, threads=2)
    learned = LearnedEstimator("rife-hdv3", threads=2).estimate(
        *signals, 0.5, shared_shift(candidate.forward, size, size)
    )
    default = interpolate_learned(blend_by_agreement(fuse(learned, candidate, 0.5), *signals, 0.5), a, b)
    flow = interpolate_frame(estimate_flow(*signals, threads=2), a, b, 0.5)

    def reinhard_psnr(out: np.ndarray) -> float:
        tone = [np.clip(x, 0.0, None) / (1.0 + np.clip(x, 0.0, None)) for x in (out, truth)]
        return 10.0 * np.log10(1.0 / float(np.mean((tone[0] - tone[1]) ** 2)))

    assert reinhard_psnr(default) > reinhard_psnr(flow) + 3.0
