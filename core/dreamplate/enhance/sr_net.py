"""The Real-ESRGAN networks in torch, written from the published architectures, and their strict ncnn loading.

- RRDBNet (ESRGAN / Real-ESRGAN x4plus, Wang et al. 2018 and 2021): a 3x3 conv to 64 features, 23 residual-in-
  residual dense blocks (each three dense blocks of five 3x3 convs growing by 32 channels, LeakyReLU 0.2, residuals
  scaled by 0.2), a trunk conv added back, then two nearest 2x upsamples each followed by a conv and LeakyReLU, a conv
  and LeakyReLU at full size and a last conv to RGB. At 4x it takes the picture as it is (no pixel unshuffle).
- SRVGGNetCompact (Real-ESRGAN animevideov3): a 3x3 conv and PReLU, 16 more conv + PReLU pairs at 64 features, a
  conv to 3 x 4 x 4 channels, pixel shuffle to 4x, plus the nearest-upsampled input (the net learns a residual).

Both map RGB in [0, 1] (N x 3 x H x W, float32) to RGB at 4x (N x 3 x 4H x 4W), nominally [0, 1], any H and W.
`load_ncnn` fills a net from an ncnn `.param`/`.bin` pair strictly: every weighted layer of the file matched to a
layer of the net in order, of the same kind, shape, kernel, stride, padding and fused activation, and the file's
other layers (upsamples, residual scales, concatenations) the ones the architecture has; anything else is refused.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812 - torch's own convention

from dreamplate.errors import ModelError
from dreamplate.runtime.ncnn import NcnnLayer, NcnnNet, read_net

SCALE = 4
"""Both pinned nets upscale 4x; 2x is their output reduced (see `dreamplate.enhance.sr_model`)."""
LEAKY_SLOPE = 0.2
RESIDUAL_SCALE = 0.2

Slot = tuple[nn.Module, float | None]
"""A weighted layer in ncnn's order: the module and its fused LeakyReLU slope (None: no activation)."""
Signature = Counter
"""The weightless layers a file must hold: (type, sorted params) -> count."""


def _conv(channels_in: int, channels_out: int) -> nn.Conv2d:
    return nn.Conv2d(channels_in, channels_out, 3, 1, 1)


class DenseBlock(nn.Module):
    """Five 3x3 convs, each seeing the block input and every earlier output; the last one's output, scaled, added."""

    def __init__(self, features: int = 64, grow: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList([_conv(features + i * grow, grow) for i in range(4)])
        self.last = _conv(features + 4 * grow, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for conv in self.convs:
            seen.append(F.leaky_relu(conv(torch.cat(seen, 1)), LEAKY_SLOPE))
        return self.last(torch.cat(seen, 1)) * RESIDUAL_SCALE + x

    def slots(self) -> list[Slot]:
        return [(conv, LEAKY_SLOPE) for conv in self.convs] + [(self.last, None)]


class RRDB(nn.Module):
    """Three dense blocks in a row, their result scaled and added to the input (residual in residual)."""

    def __init__(self, features: int = 64, grow: int = 32) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(features, grow) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x) * RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    """Real-ESRGAN x4plus: RGB [0, 1] N x 3 x H x W -> N x 3 x 4H x 4W."""

    def __init__(self, features: int = 64, blocks: int = 23, grow: int = 32) -> None:
        super().__init__()
        self.features, self.block_count = features, blocks
        self.conv_first = _conv(3, features)
        self.body = nn.Sequential(*(RRDB(features, grow) for _ in range(blocks)))
        self.conv_body = _conv(features, features)
        self.conv_up1 = _conv(features, features)
        self.conv_up2 = _conv(features, features)
        self.conv_hr = _conv(features, features)
        self.conv_last = _conv(features, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = F.leaky_relu(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")), LEAKY_SLOPE)
        feat = F.leaky_relu(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")), LEAKY_SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), LEAKY_SLOPE))

    def slots(self) -> list[Slot]:
        slots: list[Slot] = [(self.conv_first, None)]
        for rrdb in self.body:
            for block in rrdb.blocks:
                slots += block.slots()
        slots.append((self.conv_body, None))
        slots += [(conv, LEAKY_SLOPE) for conv in (self.conv_up1, self.conv_up2, self.conv_hr)]
        return slots + [(self.conv_last, None)]

    def signature(self) -> Signature:
        dense = 3 * self.block_count
        return Counter(
            {
                ("Concat", ()): 4 * dense,
                ("Eltwise", ((0, 1), (1, (RESIDUAL_SCALE, 1.0)))): dense + self.block_count,
                ("BinaryOp", ()): 1,
                ("Interp", ((0, 1), (1, 2.0), (2, 2.0))): 2,
            }
        )


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN animevideov3: RGB [0, 1] N x 3 x H x W -> N x 3 x 4H x 4W."""

    def __init__(self, features: int = 64, convs: int = 16) -> None:
        super().__init__()
        self.convs = nn.ModuleList([_conv(3, features)] + [_conv(features, features) for _ in range(convs)])
        self.acts = nn.ModuleList([nn.PReLU(features) for _ in range(convs + 1)])
        self.conv_last = _conv(features, 3 * SCALE * SCALE)
        self.shuffle = nn.PixelShuffle(SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for conv, act in zip(self.convs, self.acts, strict=True):
            out = act(conv(out))
        out = self.shuffle(self.conv_last(out))
        return out + F.interpolate(x, scale_factor=float(SCALE), mode="nearest")

    def slots(self) -> list[Slot]:
        slots: list[Slot] = []
        for conv, act in zip(self.convs, self.acts, strict=True):
            slots += [(conv, None), (act, None)]
        return slots + [(self.conv_last, None)]

    def signature(self) -> Signature:
        return Counter(
            {
                ("PixelShuffle", ((0, SCALE),)): 1,
                ("Interp", ((0, 1), (1, float(SCALE)), (2, float(SCALE)))): 1,
                ("BinaryOp", ()): 1,
            }
        )


ARCHITECTURES = {"rrdbnet": RRDBNet, "srvgg": SRVGGNetCompact}
"""`PinnedWeights.variant` -> the network class, built with the published sizes."""


def build_net(variant: str) -> RRDBNet | SRVGGNetCompact:
    """The architecture of a pinned variant with its published sizes, weights uninitialised."""
    if variant not in ARCHITECTURES:
        raise ModelError(f"upscale: no network for variant {variant!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[variant]()


def load_ncnn(net: RRDBNet | SRVGGNetCompact, param_path: Path, bin_path: Path) -> RRDBNet | SRVGGNetCompact:
    """`net` with the weights of an ncnn pair, in eval mode; ModelError naming the first layer that does not fit."""
    ncnn = read_net(param_path, bin_path)
    layers = ncnn.weighted()
    slots = net.slots()
    where = Path(param_path).name
    if len(layers) != len(slots):
        raise ModelError(f"{where}: {len(layers)} weighted layers, the {type(net).__name__} has {len(slots)}")
    found = Counter(_structure_key(layer) for layer in ncnn.layers if layer.type not in ("Input", "Split"))
    found = Counter({key: n for key, n in found.items() if key[0] not in ("Convolution", "PReLU")})
    if found != net.signature():
        missing = net.signature() - found
        extra = found - net.signature()
        raise ModelError(
            f"{where}: layers differ from the {type(net).__name__}: missing {dict(missing)}, unexpected {dict(extra)}"
        )
    with torch.no_grad():
        for layer, (module, slope) in zip(layers, slots, strict=True):
            _fill(ncnn, layer, module, slope, where)
    return net.eval()


def _structure_key(layer: NcnnLayer) -> tuple:
    return layer.type, tuple(sorted(layer.params.items()))


def _fill(ncnn: NcnnNet, layer: NcnnLayer, module: nn.Module, slope: float | None, where: str) -> None:
    """Copy one layer's weights into `module` after checking kind, shape and hyperparameters."""
    arrays = ncnn.weights[layer.name]
    if isinstance(module, nn.PReLU):
        if layer.type != "PReLU" or arrays[0].shape != tuple(module.weight.shape):
            raise ModelError(f"{where}: layer {layer.name} ({layer.type} {arrays[0].shape}) is not {module}")
        module.weight.copy_(torch.from_numpy(arrays[0]))
        return
    assert isinstance(module, nn.Conv2d)
    activation = int(layer.get(9, 0))
    expected_slope = layer.get(10, (0.0,))[0] if activation == 2 else None
    hyper = (int(layer.get(3, 1)), int(layer.get(2, 1)), int(layer.get(4, 0)), len(arrays) == 2)
    wanted = (module.stride[0], module.dilation[0], module.padding[0], module.bias is not None)
    problems = []
    if layer.type != "Convolution":
        problems.append(f"is a {layer.type}")
    if arrays[0].shape != tuple(module.weight.shape):
        problems.append(f"weights {arrays[0].shape}, the net's {tuple(module.weight.shape)}")
    if hyper != wanted:
        problems.append(f"stride/dilation/pad/bias {hyper}, the net's {wanted}")
    if activation not in (0, 2) or (expected_slope is None) != (slope is None):
        problems.append(f"activation {activation}, the net's {'LeakyReLU' if slope else 'none'}")
    elif slope is not None and not np.isclose(expected_slope, slope):
        problems.append(f"LeakyReLU slope {expected_slope}, the net's {slope}")
    if problems:
        raise ModelError(f"{where}: layer {layer.name} does not fit: {'; '.join(problems)}")
    module.weight.copy_(torch.from_numpy(arrays[0]))
    if module.bias is not None:
        module.bias.copy_(torch.from_numpy(arrays[1]))
