"""The Real-ESRGAN networks: shapes, strict ncnn loading, and the pinned weights against ncnn's own runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ncnn_support import write_net_files

from dreamplate.enhance.sr_model import MODELS, param_file
from dreamplate.enhance.sr_net import RRDBNet, SRVGGNetCompact, build_net, load_ncnn
from dreamplate.errors import ModelError
from dreamplate.runtime.weights import PINNED, verified_weights


def _tiny(kind: str, seed: int = 0, **sizes: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    if kind == "rrdbnet":
        return RRDBNet(**{"features": 8, "blocks": 2, "grow": 4, **sizes}).eval()
    return SRVGGNetCompact(**{"features": 6, "convs": 3, **sizes}).eval()


@pytest.mark.parametrize("kind", ["rrdbnet", "srvgg"])
def test_the_nets_upscale_any_size_four_times(kind: str) -> None:
    with torch.no_grad():
        out = _tiny(kind)(torch.rand(2, 3, 10, 14))
    assert out.shape == (2, 3, 40, 56)


def test_the_published_sizes() -> None:
    """RRDBNet x4plus holds 16,697,987 parameters as published; the ncnn files hold exactly these (see below)."""
    assert sum(p.numel() for p in build_net("rrdbnet").parameters()) == 16_697_987
    net = build_net("srvgg")
    assert len(net.convs) == 17 and net.conv_last.out_channels == 48
    with pytest.raises(ModelError, match="no network for variant 'esrgan'"):
        build_net("esrgan")


@pytest.mark.parametrize("kind", ["rrdbnet", "srvgg"])
def test_weights_load_strictly_from_ncnn_files(tmp_path: Path, kind: str) -> None:
    source = _tiny(kind, seed=1)
    write_net_files(source, tmp_path / "n.param", tmp_path / "n.bin")
    loaded = load_ncnn(_tiny(kind, seed=2), tmp_path / "n.param", tmp_path / "n.bin")
    for (name, a), (_, b) in zip(source.state_dict().items(), loaded.state_dict().items(), strict=True):
        # conv weights went through fp16 in the file; biases and slopes are stored in fp32
        expected = a.half().float() if name.endswith("weight") and a.ndim == 4 else a
        torch.testing.assert_close(b, expected, rtol=0, atol=0, msg=name)
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        assert (loaded(x) - source(x)).abs().max() < 1e-2  # only the fp16 rounding of the weights differs


def test_a_file_of_another_depth_is_refused(tmp_path: Path) -> None:
    write_net_files(_tiny("rrdbnet", blocks=1), tmp_path / "n.param", tmp_path / "n.bin")
    with pytest.raises(ModelError, match="n.param: 21 weighted layers, the RRDBNet has 36"):
        load_ncnn(_tiny("rrdbnet"), tmp_path / "n.param", tmp_path / "n.bin")


def test_a_file_of_another_width_is_refused(tmp_path: Path) -> None:
    write_net_files(_tiny("srvgg", features=5), tmp_path / "n.param", tmp_path / "n.bin")
    with pytest.raises(ModelError, match=r"layer conv0 does not fit: weights \(5, 3, 3, 3\), the net's \(6, 3, 3, 3\)"):
        load_ncnn(_tiny("srvgg"), tmp_path / "n.param", tmp_path / "n.bin")


def test_a_different_activation_is_refused(tmp_path: Path) -> None:
    write_net_files(_tiny("rrdbnet"), tmp_path / "n.param", tmp_path / "n.bin", activation_slope=0.1)
    with pytest.raises(ModelError, match="layer conv1 does not fit: LeakyReLU slope 0.1, the net's 0.2"):
        load_ncnn(_tiny("rrdbnet"), tmp_path / "n.param", tmp_path / "n.bin")


def test_a_missing_upsample_is_refused(tmp_path: Path) -> None:
    write_net_files(_tiny("srvgg"), tmp_path / "n.param", tmp_path / "n.bin")
    param = tmp_path / "n.param"
    param.write_text(param.read_text().replace("PixelShuffle ", "Noop "))
    with pytest.raises(ModelError, match="layers differ from the SRVGGNetCompact: missing .*PixelShuffle"):
        load_ncnn(_tiny("srvgg"), param, tmp_path / "n.bin")


@pytest.mark.parametrize("model", sorted(MODELS))
def test_the_pinned_nets_match_ncnns_own_runtime(upscale_models: list[Path], model: str) -> None:
    """The torch net with the pinned weights gives what ncnn itself computes from the same files (fp32 on CPU)."""
    import cv2
    import ncnn

    entry = PINNED[MODELS[model]]
    param, weights = param_file(entry), verified_weights(entry)
    net = load_ncnn(build_net(entry.variant), param, weights)
    small = np.random.default_rng(3).random((6, 9, 3), np.float32)
    picture = np.clip(cv2.resize(small, (36, 24), interpolation=cv2.INTER_CUBIC), 0, 1)  # soft, like a real picture
    x = np.ascontiguousarray(picture.transpose(2, 0, 1))
    with torch.no_grad():
        ours = net(torch.from_numpy(x)[None])[0].numpy()

    reference = ncnn.Net()
    for option in ("use_vulkan_compute", "use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed"):
        setattr(reference.opt, option, False)
    reference.opt.num_threads = 1
    assert reference.load_param(str(param)) == 0 and reference.load_model(str(weights)) == 0
    extractor = reference.create_extractor()
    extractor.input("data", ncnn.Mat(x))
    status, out = extractor.extract("output")
    theirs = np.array(out)
    assert status == 0 and theirs.shape == ours.shape == (3, 96, 144)
    assert np.abs(ours - theirs).max() < 1e-4
    assert 0.2 < ours.mean() < 0.8  # a picture, not zeros: the comparison means something
