"""The learned method end to end with the real pinned RIFE weights (install/setup.sh fetches them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dreamplate.errors import ModelError
from dreamplate.interp.retime import run_interpolate
from dreamplate.interp.rife import choose_scale
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.runtime.weights import PINNED

ACESCG = {"colorInteropID": "lin_ap1_scene"}


def _blob_frame(x: float, size: tuple[int, int], peak: float = 500.0) -> dict[str, np.ndarray]:
    """A textured mid-grey background with a bright HDR disc centred at column x."""
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    texture = 0.18 + 0.08 * np.sin(xx * 0.45) * np.cos(yy * 0.37)
    disc = np.exp(-(((xx - x) ** 2 + (yy - height / 2) ** 2) / (2 * 3.0**2)))
    rgb = texture[..., None] + peak * disc[..., None] * np.float32([1.0, 0.8, 0.6])
    return {"R": rgb[..., 0], "G": rgb[..., 1], "B": rgb[..., 2], "A": np.ones((height, width), np.float32)}


def _write(path: Path, channels: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = channels["R"].shape
    window = (0, 0, w - 1, h - 1)
    write_exr(path, ExrImage(channels, dict.fromkeys(channels, "half"), window, window, dict(ACESCG)))


def test_auto_scale_keeps_the_network_within_budget() -> None:
    assert choose_scale(1920, 1080) == 1.0
    assert choose_scale(2048, 1152) == 1.0
    assert choose_scale(4096, 2160) == 0.5
    assert choose_scale(7680, 4320) == 0.25
    assert choose_scale(4096, 2160, 1.0) == 1.0


BLOB_SIZE = (97, 61)
"""Not a multiple of the network's strides: padded and cropped."""


def _blob_middle(tmp_path: Path, **settings: object) -> ExrImage:
    """The middle frame of a 2x learned retime of a 500.0 highlight moving from x=30 to x=46, checked half way."""
    _write(tmp_path / "in" / "p.0001.exr", _blob_frame(30.0, BLOB_SIZE))
    _write(tmp_path / "in" / "p.0002.exr", _blob_frame(46.0, BLOB_SIZE))
    spec = InterpolateSpec(
        inputs=[str(tmp_path / "in" / "p.####.exr")],
        output=str(tmp_path / "out" / "o.####.exr"),
        factor=2,
        method="learned",
        **settings,
    )
    assert len(run_interpolate(spec).written) == 3
    middle = read_exr(tmp_path / "out" / "o.0002.exr")
    red = middle.channels["R"]
    peak_x = int(np.unravel_index(np.argmax(red), red.shape)[1])
    assert abs(peak_x - 38) <= 2, f"the highlight should sit half way, at x=38, not {peak_x}"
    assert red.max() > 250.0, "a 500.0 highlight must stay far above 1.0 (moved, not clipped or averaged away)"
    return middle


@pytest.mark.parametrize(
    ("settings", "resample"),
    [({}, "adaptive"), ({"fusion": False}, "bilinear"), ({"resample": "lanczos"}, "lanczos")],
)
def test_the_resampler_is_recorded_and_no_fusion_keeps_bilinear(
    rife_models: list[Path], tmp_path: Path, settings: dict, resample: str
) -> None:
    middle = _blob_middle(tmp_path, **settings)
    assert Provenance.from_attributes(middle.attributes).parameters["resample"] == resample
    red = middle.channels["R"].astype(np.float32)
    assert red.min() >= 0.0 and red.max() <= 500.0  # no resampler rings past the highlight or below black


@pytest.mark.parametrize("runtime", ["onnx", "torch", "torch-bf16"])
def test_hdr_highlight_moves_with_the_image_and_is_not_clipped(
    rife_models: list[Path], tmp_path: Path, runtime: str
) -> None:
    middle = _blob_middle(tmp_path, runtime=runtime)
    assert middle.data_window == (0, 0, BLOB_SIZE[0] - 1, BLOB_SIZE[1] - 1)
    assert set(middle.pixel_types.values()) == {"half"}
    provenance = Provenance.from_attributes(middle.attributes)
    assert provenance is not None and provenance.method == "learned"
    assert provenance.model == "rife-hdv3" and provenance.weights_sha256 == PINNED["rife-hdv3"].sha256
    assert provenance.runtime and runtime.startswith("torch") == provenance.runtime.startswith("torch")
    assert provenance.runtime.endswith(" bf16") == (runtime == "torch-bf16")
    assert middle.attributes["colorInteropID"] == "lin_ap1_scene"


def test_at_half_scale_the_fusion_works_at_the_nets_size_and_the_highlight_still_moves(
    rife_models: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past 2K (`--scale auto` 0.5) or with --scale 0.5 the flow candidate is estimated at the net's working size.
    from dreamplate.interp import fusion

    sizes: list[tuple[int, int]] = []
    made = fusion.candidate_flow
    monkeypatch.setattr(fusion, "candidate_flow", lambda a, b, size, **kw: sizes.append(size) or made(a, b, size, **kw))
    _blob_middle(tmp_path, scale=0.5)
    assert sizes == [(48, 30)]  # round(97 / 2), round(61 / 2): the net's own working size


@pytest.mark.parametrize("model", ["rife-v4", "rife-hdv3"])
def test_identical_hdr_frames_come_back_unchanged(rife_models: list[Path], tmp_path: Path, model: str) -> None:
    frame = _blob_frame(40.0, (80, 48), peak=60000.0)
    frame["R"][5, 5] = -0.25  # small negatives and the half range's top both survive
    for n in (1, 2):
        _write(tmp_path / "in" / f"p.{n:04d}.exr", frame)
    spec = InterpolateSpec(
        inputs=[str(tmp_path / "in" / "p.0001.exr"), str(tmp_path / "in" / "p.0002.exr")],
        output=str(tmp_path / "mid.exr"),
        method="learned",
        model=model,
    )
    run_interpolate(spec)
    middle = read_exr(tmp_path / "mid.exr")
    for name, values in frame.items():
        want = values.astype(np.float16).view(np.int16).astype(np.int32)
        got = middle.channels[name].astype(np.float16).view(np.int16).astype(np.int32)
        assert np.abs(got - want).max() <= 2, f"{name}: more than 2 half ulps off"


def test_auto_runtime_is_onnx_on_a_gpu_bf16_on_a_bf16_cpu_and_onnx_else(monkeypatch: pytest.MonkeyPatch) -> None:
    from dreamplate.interp import rife

    monkeypatch.setattr(rife, "runtime_installed", lambda runtime: True)
    for gpu, bf16, expected in ((True, True, "onnx"), (False, True, "torch-bf16"), (False, False, "onnx")):
        monkeypatch.setattr(rife, "uses_fp16", lambda gpu=gpu: gpu)
        monkeypatch.setattr(rife, "native_bf16", lambda bf16=bf16: bf16)
        assert rife.resolve_runtime("auto") == expected
        assert rife.resolve_runtime("auto", "v4") == "onnx"  # v4 loses 1.8 dB in bf16
        assert rife.resolve_runtime("torch") == "torch"  # asked for: taken as it is
    monkeypatch.setattr(rife, "runtime_installed", lambda runtime: runtime == "torch")
    assert rife.resolve_runtime("auto") == "torch"  # only torch installed, no bf16
    with pytest.raises(ModelError, match="--runtime 'tensorflow'"):
        rife.resolve_runtime("tensorflow")


def test_cpu_flags_are_read_from_the_first_processor(tmp_path: Path) -> None:
    from dreamplate.runtime.cpu_features import BF16_FLAGS, cpu_flags

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"} and cpu_flags(info) & BF16_FLAGS
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_auto_uses_learned_when_installed_and_flow_otherwise(
    rife_models: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n, x in ((1, 30.0), (2, 34.0)):
        _write(tmp_path / "in" / f"p.{n:04d}.exr", _blob_frame(x, (64, 40)))
    spec = InterpolateSpec(inputs=[str(tmp_path / "in" / "p.####.exr")], output=str(tmp_path / "a.####.exr"))
    run_interpolate(spec)
    assert Provenance.from_attributes(read_exr(tmp_path / "a.0002.exr").attributes).method == "learned"
    monkeypatch.setenv("DREAMPLATE_MODELS", str(tmp_path / "empty"))
    spec = InterpolateSpec(inputs=[str(tmp_path / "in" / "p.####.exr")], output=str(tmp_path / "b.####.exr"))
    run_interpolate(spec)
    assert Provenance.from_attributes(read_exr(tmp_path / "b.0002.exr").attributes).method == "flow"


def test_learned_without_weights_says_how_to_get_them(tmp_path: Path) -> None:
    for n in (1, 2):
        _write(tmp_path / "in" / f"p.{n:04d}.exr", _blob_frame(30.0 + n, (64, 40)))
    spec = InterpolateSpec(
        inputs=[str(tmp_path / "in" / "p.####.exr")], output=str(tmp_path / "o.####.exr"), method="learned"
    )
    with pytest.raises(ModelError, match="dreamplate models pull rife-hdv3"):
        run_interpolate(spec)
    assert not list(tmp_path.glob("o.*.exr")), "nothing is written when the model cannot run"


def test_a_pinned_model_of_another_operation_is_refused_for_interpolation() -> None:
    """`interpolate --model realesrgan-x4plus` used to be accepted and then fail inside the RIFE loader."""
    from dreamplate.errors import ModelError
    from dreamplate.runtime.weights import pinned

    with pytest.raises(ModelError, match="'realesrgan-x4plus': unknown for interpolate; known models are rife-hdv3"):
        pinned("realesrgan-x4plus", "interpolate")
    assert pinned("rife-hdv3", "interpolate").name == "rife-hdv3"


def test_hdv3_motion_at_other_times_is_the_networks_own_adaptation(rife_models: list[Path]) -> None:
    """`at_time` of the 0.5 run gives what the graph gives at t (its adaptation, applied after the resize)."""
    from dreamplate.interp.rife import LearnedEstimator, at_time

    frames = [_blob_frame(x, (97, 61)) for x in (30.0, 46.0)]
    signals = [np.clip(np.log2(1.0 + np.dstack([f[c] for c in "RGB"])) / 9.0, 0.0, 1.0) for f in frames]
    estimator = LearnedEstimator("rife-hdv3", runtime="onnx", threads=2)
    half = estimator.estimate_pair(*signals)
    for t in (0.25, 0.5, 0.8):
        graph, adapted = estimator._estimate(*signals, t), at_time(half, t)
        np.testing.assert_allclose(adapted.to_a, graph.to_a, atol=2e-3)
        np.testing.assert_allclose(adapted.to_b, graph.to_b, atol=2e-3)
        np.testing.assert_allclose(adapted.weight_b, graph.weight_b, atol=0.02)


def test_a_4x_slow_down_runs_hdv3_once_per_pair(
    rife_models: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dreamplate.interp.rife import LearnedEstimator

    runs: list[float] = []
    untimed = LearnedEstimator._estimate
    monkeypatch.setattr(
        LearnedEstimator, "_estimate", lambda self, a, b, t, *shift: runs.append(t) or untimed(self, a, b, t, *shift)
    )
    for n, x in ((1, 30.0), (2, 38.0), (3, 46.0)):
        _write(tmp_path / "in" / f"p.{n:04d}.exr", _blob_frame(x, (64, 40)))
    spec = InterpolateSpec(
        inputs=[str(tmp_path / "in" / "p.####.exr")], output=str(tmp_path / "o.####.exr"), factor=4, method="learned"
    )
    assert len(run_interpolate(spec).written) == 9
    assert runs == [0.5, 0.5], "one network run per source pair, at t = 0.5, for its three in-betweens"


def test_where_both_frames_agree_the_blend_goes_by_t_and_where_they_differ_the_mask_decides() -> None:
    from dreamplate.interp.rife import LearnedMotion, blend_by_agreement

    h, w = 24, 32
    ground = np.random.default_rng(5).random((h, w, 3)).astype(np.float32)
    other = ground.copy()
    other[:, w // 2 :] = 1.0 - other[:, w // 2 :]  # the right half differs: something covered it
    still = np.zeros((h, w, 2), np.float32)
    motion = LearnedMotion(to_a=still, to_b=still.copy(), weight_b=np.full((h, w), 0.9, np.float32))
    for t in (0.25, 0.5):
        settled = blend_by_agreement(motion, ground, other, t)
        np.testing.assert_array_equal(settled.weight_b[:, : w // 2 - 2], np.float32(t))
        differ = np.abs(ground - other).sum(axis=2)[:, w // 2 + 2 :] > 1.0
        np.testing.assert_array_equal(settled.weight_b[:, w // 2 + 2 :][differ], np.float32(0.9))
        assert settled.to_a is motion.to_a and settled.to_b is motion.to_b


def test_a_sample_outside_its_frame_is_taken_from_the_other_frame_alone() -> None:
    # A pan brings in new picture at one side: there the motion samples A beyond its edge, and the border pixel was
    # smeared in by the net's mask (a real EXR panned 3 px a frame: 68.0 dB against the flow method's 71.4).
    from dreamplate.interp.rife import LearnedMotion, blend_by_agreement

    h, w = 24, 32
    ground = np.random.default_rng(6).random((h, w, 3)).astype(np.float32)
    to_a = np.broadcast_to(np.float32([-4.0, 0.0]), (h, w, 2)).copy()  # A sampled 4 px to the left
    to_b = np.broadcast_to(np.float32([4.0, 0.0]), (h, w, 2)).copy()  # B 4 px to the right
    motion = LearnedMotion(to_a=to_a, to_b=to_b, weight_b=np.full((h, w), 0.3, np.float32))
    settled = blend_by_agreement(motion, ground, 1.0 - ground, 0.5)  # nowhere do the frames agree: the mask holds
    np.testing.assert_array_equal(settled.weight_b[:, :3], np.float32(1.0))  # A's sample is outside: B alone
    np.testing.assert_array_equal(settled.weight_b[:, w - 3 :], np.float32(0.0))  # B's is outside: A alone
    np.testing.assert_array_equal(settled.weight_b[:, 5 : w - 5], np.float32(0.3))


def test_where_b_moved_back_has_no_picture_the_network_is_shown_frame_a_there() -> None:
    # The strip a pan brings in: with B's edge smeared across it, the network matched A's picture there against the
    # smear (a real EXR panned 24 px a frame, Tree: 37.3 dB against the flow method's 38.4; with A's pixels, 38.4).
    from dreamplate.interp.rife import _taken_back

    rng = np.random.default_rng(7)
    a, b = rng.random((2, 20, 30, 3), dtype=np.float32)
    moved = _taken_back(a, b, np.float32([-4.0, 3.0]))  # B(x - 4, y + 3) at (x, y)
    np.testing.assert_array_equal(moved[:17, 4:], b[3:, :26])
    np.testing.assert_array_equal(moved[17:], a[17:])
    np.testing.assert_array_equal(moved[:, :4], a[:, :4])


def test_a_shared_shift_taken_out_of_the_pair_is_added_back_to_the_networks_motion(rife_models: list[Path]) -> None:
    # With B moved back by the whole pan, the network sees two identical frames; the motion it gives must come back
    # as the pan's: -t d toward A and (1 - t) d toward B, read t d back.
    from squares import texture

    from dreamplate.interp.retime import linear_motion_signal
    from dreamplate.interp.rife import LearnedEstimator

    d = np.float32([-40.0, 16.0])
    scene = linear_motion_signal(texture(160, 240, 7))
    a, b = scene[24:120, 8:168], scene[8:104, 48:208]  # A(x) = B(x + d): A's picture moves by d
    estimator = LearnedEstimator("rife-hdv3", threads=2)
    motion = estimator.estimate(a, b, 0.5, shift=d)
    inner = (slice(24, -24), slice(48, -48))
    np.testing.assert_allclose(motion.to_a[inner], np.broadcast_to(-0.5 * d, motion.to_a[inner].shape), atol=0.25)
    np.testing.assert_allclose(motion.to_b[inner], np.broadcast_to(0.5 * d, motion.to_b[inner].shape), atol=0.25)


def _ball_pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Issue 19's CG ball: frames 0 and 2 on their union window (80 px apart) and frame 1, the truth between them."""
    from ball import ball_pixels, ball_window

    from dreamplate.ops.plate.reading import place_on_window, union_window

    w0, w1 = ball_window(0.0), ball_window(2.0)
    box = union_window(w0, w1)
    a, b = (place_on_window(ball_pixels(time, window=w), w, box) for time, w in ((0.0, w0), (2.0, w1)))
    return a, b, ball_pixels(1.0, window=box)


def _view_psnr(out: np.ndarray, truth: np.ndarray) -> float:
    view = [np.clip(x, 0.0, None) / (1.0 + np.clip(x, 0.0, None)) for x in (out, truth)]
    return float(10.0 * np.log10(1.0 / np.mean((view[0] - view[1]) ** 2)))


def test_a_pair_moving_far_takes_the_networks_half_size_motion_where_it_explains_it_better(
    rife_models: list[Path],
) -> None:
    """At its working size HDv3 tore issue 19's fast-spinning ball moving 80 px (the net alone 20.5 dB over three
    frames); at half size each block sees twice as far."""
    from dreamplate.interp.retime import linear_motion_signal
    from dreamplate.interp.rife import COARSE_MOTION, LearnedEstimator, interpolate_learned

    a, b, truth = _ball_pair()
    signals = linear_motion_signal(a), linear_motion_signal(b)
    scores = {}
    for coarse_motion in (None, COARSE_MOTION):
        motion = LearnedEstimator("rife-hdv3", threads=2, coarse_motion=coarse_motion).estimate(*signals, 0.5)
        scores[coarse_motion is not None] = _view_psnr(interpolate_learned(motion, a, b), truth)
    assert scores[True] > scores[False] + 1.0, scores  # measured 23.9 and 27.9 dB on this frame


def test_a_pair_with_little_motion_runs_the_network_once(
    rife_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dreamplate.interp.rife import COARSE_MOTION, LearnedEstimator

    frames = [_blob_frame(x, (97, 61)) for x in (30.0, 46.0)]
    signals = [np.clip(np.log2(1.0 + np.dstack([f[c] for c in "RGB"])) / 9.0, 0.0, 1.0) for f in frames]
    plain = LearnedEstimator("rife-hdv3", threads=2).estimate(*signals, 0.5)
    estimator = LearnedEstimator("rife-hdv3", threads=2, coarse_motion=COARSE_MOTION)
    runs = []
    run = estimator.net.run
    monkeypatch.setattr(estimator.net, "run", lambda *args: runs.append(1) or run(*args))  # a cached, shared net
    motion = estimator.estimate(*signals, 0.5)
    assert len(runs) == 1
    np.testing.assert_array_equal(motion.to_a, plain.to_a)
    assert LearnedEstimator("rife-hdv3", threads=2, scale=1.0, coarse_motion=1.0).coarse_motion is None  # scale kept


def test_a_mid_sized_motion_gets_the_half_size_pass_only_when_the_net_is_used_alone(
    rife_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 50 px pan: the fused default leaves it to the flow method (COARSE_MOTION_FUSED), `--no-fusion` runs the
    network at half size too (COARSE_MOTION). The benchmarks' 960x540 pair once paid the pass for 0.03 dB."""
    import cv2

    from dreamplate.interp.retime import _choose_method

    rng = np.random.default_rng(3)
    texture = cv2.resize(rng.random((40, 90, 3), dtype=np.float32), (360, 160), interpolation=cv2.INTER_CUBIC)
    a, b = texture[:, 60:300].clip(0, 1), texture[:, 10:250].clip(0, 1)
    runs = {}
    for fusion in (True, False):
        spec = InterpolateSpec(inputs=["a.exr", "b.exr"], output="m.exr", fusion=fusion, threads=2)
        estimator = _choose_method(spec).learned(spec)
        calls = []
        run = estimator.net.run
        monkeypatch.setattr(estimator.net, "run", lambda *args, run=run, calls=calls: calls.append(1) or run(*args))
        estimator.estimate(a, b, 0.5)
        runs[fusion] = len(calls)
    assert runs == {True: 1, False: 2}
