"""HED in torch: output shapes on odd sizes, and the Keras h5 loading, strict both ways, on tiny synthetic files."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from dreamplate.analyse.hed_net import STAGES, HedNet, keras_state_dict, load_hed
from dreamplate.errors import ModelError

TINY = ((3, 4, 2), (4, 6, 2), (6, 8, 3), (8, 8, 3), (8, 8, 3))
"""VGG16-HED's layout (conv layers per stage) at a few channels: the same loading code, kilobytes of weights."""


def _write_keras_h5(net: HedNet, path: Path, drop: str | None = None, extra: str | None = None) -> None:
    """Write a TINY `net` as Keras 3 saves HED: block<i>/layers/conv2d[_k]/vars/{0,1}, dsn<i>/vars, fuse/vars."""
    state = {k: v.detach().numpy() for k, v in net.state_dict().items()}

    def kernel(value: np.ndarray) -> np.ndarray:
        return value.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> Keras (kh, kw, in, out)

    arrays: dict[str, np.ndarray] = {}
    for index, (_, _, layers) in enumerate(TINY):
        offset = 1 if index else 0
        for layer in range(layers):
            name = "conv2d" if layer == 0 else f"conv2d_{layer}"
            position = offset + 2 * layer
            arrays[f"block{index + 1}/layers/{name}/vars/0"] = kernel(state[f"stages.{index}.{position}.weight"])
            arrays[f"block{index + 1}/layers/{name}/vars/1"] = state[f"stages.{index}.{position}.bias"]
        arrays[f"dsn{index + 1}/vars/0"] = kernel(state[f"sides.{index}.weight"])
        arrays[f"dsn{index + 1}/vars/1"] = state[f"sides.{index}.bias"]
    arrays["fuse/vars/0"] = kernel(state["fuse.weight"])
    arrays["fuse/vars/1"] = state["fuse.bias"]
    if drop is not None:
        del arrays[drop]
    if extra is not None:
        arrays[extra] = np.zeros(3, np.float32)
    with h5py.File(path, "w") as handle:
        for key, value in arrays.items():
            handle.create_dataset(key, data=value)
        handle.create_group("block2/layers/max_pooling2d/vars")  # Keras keeps empty groups for weightless layers


def _random_tiny(seed: int = 0) -> HedNet:
    torch.manual_seed(seed)
    net = HedNet(TINY)
    with torch.no_grad():
        for param in net.parameters():
            param.normal_(0.0, 0.2)
    return net.eval()


def test_the_published_layout_is_vgg16_with_five_sides_and_a_fusion() -> None:
    net = HedNet()
    convs = [m for m in net.stages.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs][:3] == [(3, 64), (64, 64), (64, 128)]
    assert len(convs) == 13 and all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert [s.in_channels for s in net.sides] == [64, 128, 256, 512, 512]
    assert net.fuse.in_channels == 5 and net.fuse.kernel_size == (1, 1)
    params = sum(p.numel() for p in net.parameters())
    assert params == 14_716_171  # VGG16's conv layers (14,714,688) + 5 side outputs + the fusion: the h5's 58.9 MB
    assert STAGES[0] == (3, 64, 2)


def test_every_side_output_comes_back_at_the_input_size_on_odd_sizes() -> None:
    net = _random_tiny()
    image = torch.rand((2, 3, 37, 53), generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        sides = net.side_logits(image)
        fused = net(image)
    assert [tuple(s.shape) for s in sides] == [(2, 1, 37, 53)] * 5
    assert tuple(fused.shape) == (2, 1, 37, 53)
    assert float(fused.min()) >= 0.0 and float(fused.max()) <= 1.0
    # Each 2x2 pooling keeps a last odd row and column (Keras 'same'): 37 x 53 -> 19 x 27 -> 10 x 14 -> 5 x 7 -> 3 x 4.
    x = image
    for stage in net.stages:
        x = stage(x)
    assert tuple(x.shape[-2:]) == (3, 4)


def test_a_keras_h5_loads_strictly_into_the_same_network(tmp_path: Path) -> None:
    net = _random_tiny()
    _write_keras_h5(net, tmp_path / "tiny.weights.h5")
    loaded = load_hed(tmp_path / "tiny.weights.h5", TINY)
    image = torch.rand((1, 3, 20, 28), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        np.testing.assert_array_equal(loaded(image).numpy(), net(image).numpy())


def test_a_missing_array_is_refused_by_name(tmp_path: Path) -> None:
    _write_keras_h5(_random_tiny(), tmp_path / "short.h5", drop="dsn3/vars/1")
    with pytest.raises(ModelError, match="dsn3/vars/1 is missing"):
        load_hed(tmp_path / "short.h5", TINY)


def test_an_array_with_no_place_is_refused(tmp_path: Path) -> None:
    _write_keras_h5(_random_tiny(), tmp_path / "long.h5", extra="head/vars/0")
    with pytest.raises(ModelError, match="head/vars/0 have no place in HED"):
        load_hed(tmp_path / "long.h5", TINY)


def test_weights_of_another_width_are_refused(tmp_path: Path) -> None:
    _write_keras_h5(_random_tiny(), tmp_path / "tiny.h5")
    with pytest.raises(ModelError, match="stages.0.0.weight has shape"):
        load_hed(tmp_path / "tiny.h5")  # the tiny file into the full-width net


def test_a_stage_with_the_wrong_layer_count_is_refused() -> None:
    arrays = {"block1/layers/conv2d/vars/0": np.zeros((3, 3, 3, 4), np.float32)}
    with pytest.raises(ModelError, match="block1 has 1 conv layers, HED's VGG16 has 2"):
        keras_state_dict(arrays, "x.h5", TINY)


def test_an_unreadable_file_is_one_model_error(tmp_path: Path) -> None:
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(ModelError, match="bad.h5: not a readable HDF5 weights file"):
        load_hed(tmp_path / "bad.h5", TINY)
