"""RIFE networks in torch: shapes, architecture symmetries, hdv3's time adaptation, strict loading, real weights."""

from pathlib import Path

import numpy as np
import pytest
import torch

from dreamplate.errors import ModelError
from dreamplate.interp.rife_net import PAD_MULTIPLE, RifeFlowNet, build_random, load_rife
from dreamplate.interp.warp import remap
from dreamplate.runtime.weights import PINNED, verified_weights

torch.set_num_threads(2)


def smooth_frames(n: int, h: int, w: int, shift: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two N x 3 x H x W frames in [0, 1] of smooth structure, the second moved `shift` px right."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, (n, 3))

    def frame(dx: float) -> np.ndarray:
        xx = x - dx
        planes = [
            [0.5 + 0.25 * np.sin(xx / 7 + p) * np.cos(y / 9 - p) + 0.2 * np.sin((xx + y) / 13 + 2 * p) for p in row]
            for row in phases
        ]
        return np.clip(np.asarray(planes, np.float32), 0.0, 1.0)

    return torch.from_numpy(frame(0.0)), torch.from_numpy(frame(shift))


def times(n: int, t: float) -> torch.Tensor:
    return torch.full((n, 1, 1, 1), t)


def run(net: RifeFlowNet, a: torch.Tensor, b: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return net(a, b, times(a.shape[0], t))


@pytest.fixture(scope="module")
def nets() -> dict[str, RifeFlowNet]:
    return {variant: build_random(variant, seed=0) for variant in ("hdv3", "v4")}


def test_pad_multiple_is_largest_scale_times_block_stride():
    assert PAD_MULTIPLE == {"hdv3": 16, "v4": 64}


@pytest.mark.parametrize("variant", ["hdv3", "v4"])
def test_outputs_have_stated_shapes_and_ranges(nets, variant):
    m = PAD_MULTIPLE[variant]
    a, b = smooth_frames(2, m, 2 * m)
    flow, mask = run(nets[variant], a, b, 0.3)
    assert flow.shape == (2, 4, m, 2 * m) and flow.dtype == torch.float32
    assert mask.shape == (2, 1, m, 2 * m)
    assert torch.isfinite(flow).all()
    assert float(mask.min()) > 0.0 and float(mask.max()) < 1.0


def test_hdv3_identical_frames_give_symmetric_flows_and_even_mask(nets):
    # Forward and mirrored runs see the same input, so their average is symmetric whatever the weights.
    a, _ = smooth_frames(1, 32, 48)
    flow, mask = run(nets["hdv3"], a, a.clone(), 0.5)
    assert torch.allclose(flow[:, :2], flow[:, 2:4], atol=1e-5)
    assert torch.allclose(mask, torch.full_like(mask, 0.5), atol=1e-6)


def test_hdv3_swapping_frames_and_time_swaps_flows_and_inverts_mask(nets):
    a, b = smooth_frames(1, 32, 48)
    flow, mask = run(nets["hdv3"], a, b, 0.3)
    flow_swapped, mask_swapped = run(nets["hdv3"], b, a, 0.7)
    assert torch.allclose(flow_swapped, torch.cat((flow[:, 2:4], flow[:, :2]), 1), atol=1e-4)
    assert torch.allclose(mask_swapped, 1.0 - mask, atol=1e-5)


def test_hdv3_scales_its_half_time_flows_linearly_and_weights_the_nearer_frame(nets):
    a, b = smooth_frames(1, 32, 48)
    flow_half, mask_half = run(nets["hdv3"], a, b, 0.5)
    flow, mask = run(nets["hdv3"], a, b, 0.25)
    assert torch.allclose(flow[:, :2], 0.5 * flow_half[:, :2], atol=1e-5)
    assert torch.allclose(flow[:, 2:4], 1.5 * flow_half[:, 2:4], atol=1e-5)
    # Super SloMo weighting: odds of frame 0 multiplied by (1 - t) / t = 3.
    odds = mask / (1 - mask)
    assert torch.allclose(odds, 3.0 * mask_half / (1 - mask_half), rtol=1e-4)
    flow_zero, mask_zero = run(nets["hdv3"], a, b, 0.0)
    assert float(flow_zero[:, :2].abs().max()) == 0.0
    assert float(mask_zero.min()) > 0.999


def test_v4_takes_the_time_step_as_input(nets):
    a, b = smooth_frames(1, 64, 64)
    flow_early, _ = run(nets["v4"], a, b, 0.2)
    flow_late, _ = run(nets["v4"], a, b, 0.8)
    assert float((flow_early - flow_late).abs().max()) > 1e-3


def test_build_random_is_seeded_and_leaves_the_global_generator_alone():
    state = torch.random.get_rng_state()
    first = build_random("v4", seed=3).state_dict()
    assert torch.equal(torch.random.get_rng_state(), state)
    again = build_random("v4", seed=3).state_dict()
    other = build_random("v4", seed=4).state_dict()
    key = "ifnet.block0.conv0.0.0.weight"
    assert torch.equal(first[key], again[key]) and not torch.equal(first[key], other[key])


def test_load_rife_strips_the_module_prefix_and_loads_strictly(nets, tmp_path):
    path = tmp_path / "flownet.pkl"
    torch.save({f"module.{k}": v for k, v in nets["hdv3"].ifnet.state_dict().items()}, path)
    loaded = load_rife("hdv3", path)
    a, b = smooth_frames(1, 32, 48)
    assert torch.equal(run(loaded, a, b, 0.5)[0], run(nets["hdv3"], a, b, 0.5)[0])


def test_load_rife_with_the_other_variants_weights_names_file_and_keys(nets, tmp_path):
    path = tmp_path / "hd.pkl"
    torch.save(nets["hdv3"].ifnet.state_dict(), path)
    with pytest.raises(
        ModelError, match=r"hd\.pkl: not RIFE v4 weights: 186 missing \(block0\.convblock\.0\.beta.*148 unexpected"
    ):
        load_rife("v4", path)


def test_load_rife_with_a_wrong_shape_names_the_tensor(nets, tmp_path):
    state = nets["v4"].ifnet.state_dict()
    state["encode.cnn0.bias"] = torch.zeros(17)
    path = tmp_path / "v4.pkl"
    torch.save(state, path)
    with pytest.raises(ModelError, match=r"v4\.pkl: RIFE v4 weights do not match: size mismatch for encode\.cnn0"):
        load_rife("v4", path)


def test_load_rife_refuses_unreadable_files_and_unknown_variants(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="broken.pkl: cannot load RIFE hdv3 weights"):
        load_rife("hdv3", path)
    with pytest.raises(ModelError, match="unknown variant 'v9'"):
        RifeFlowNet("v9")


# --- the published weights, where this machine has them --------------------------------------------------------


def real_weights(variant: str) -> Path:
    """The published weights of `variant` from the model store (the `rife_models` fixture points at it)."""
    return verified_weights(PINNED[f"rife-{variant}"])


def read_rgb(path: Path) -> np.ndarray:
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, f"{path}: cannot read"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def to_batch(img: np.ndarray, multiple: int) -> torch.Tensor:
    h, w = img.shape[:2]
    padded = np.pad(img, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")
    return torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)[None]))


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    diff = np.rint(np.clip(pred, 0, 1) * 255) - np.rint(gt * 255)
    return float(10 * np.log10(255.0**2 / np.mean(diff * diff)))


@pytest.mark.parametrize("variant", ["hdv3", "v4"])
def test_published_weights_load_strictly_and_keep_still_frames_still(variant, shared_data, rife_models):
    net = load_rife(variant, real_weights(variant))
    frame = read_rgb(shared_data / "interp" / "middlebury_others" / "input" / "RubberWhale" / "frame10.png")
    crop = to_batch(frame[:128, :192], PAD_MULTIPLE[variant])
    flow, _ = run(net, crop, crop.clone(), 0.5)
    # Measured: mean 0.005 px, max 0.11 px (hdv3) and 0.07 px (v4).
    assert float(flow.abs().mean()) < 0.02  # pixels
    assert float(flow.abs().max()) < 0.25


@pytest.mark.parametrize("variant", ["hdv3", "v4"])
def test_published_weights_beat_a_plain_average(variant, shared_data, rife_models):
    net = load_rife(variant, real_weights(variant))
    root = shared_data / "interp" / "middlebury_others"
    a, b = (read_rgb(root / "input" / "Urban2" / f"frame1{i}.png") for i in (0, 1))
    gt = read_rgb(root / "gt" / "Urban2" / "frame10i11.png")
    h, w = a.shape[:2]
    m = PAD_MULTIPLE[variant]
    flow, mask = (x[0].numpy() for x in run(net, to_batch(a, m), to_batch(b, m), 0.5))
    to_a = np.ascontiguousarray(flow[:2, :h, :w].transpose(1, 2, 0))
    to_b = np.ascontiguousarray(flow[2:4, :h, :w].transpose(1, 2, 0))
    weight_a = mask[0, :h, :w, None]
    middle = weight_a * remap(a, to_a, nearest=False) + (1 - weight_a) * remap(b, to_b, nearest=False)
    assert psnr(middle, gt) > psnr(0.5 * (a + b), gt) + 3.0
