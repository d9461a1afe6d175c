"""Writing small ncnn `.param`/`.bin` pairs in tests: layers by hand, or a torch net's weights in ncnn's order."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from torch import nn

TAG_FP16 = 0x01306B47


def param_line(kind: str, name: str, inputs: list[str], outputs: list[str], params: str = "") -> str:
    """One `.param` layer line."""
    return " ".join([kind, name, str(len(inputs)), str(len(outputs)), *inputs, *outputs, params]).rstrip()


def write_param(path: Path, lines: list[str], blobs: int | None = None) -> None:
    """The magic, the counts, then `lines`."""
    count = blobs if blobs is not None else len(lines) + 1
    path.write_text("\n".join(["7767517", f"{len(lines)} {count}", *lines]) + "\n", encoding="utf-8")


def fp16_block(values: np.ndarray) -> bytes:
    """Weights as ncnn stores them in fp16: the tag, the halves, padding to 4 bytes."""
    data = np.asarray(values, "<f2").tobytes()
    return struct.pack("<I", TAG_FP16) + data + b"\0" * (-len(data) % 4)


def raw_block(values: np.ndarray) -> bytes:
    """Untagged fp32 values (biases, slopes)."""
    return np.asarray(values, "<f4").tobytes()


def write_net_files(net: nn.Module, param_path: Path, bin_path: Path, *, activation_slope: float | None = None) -> None:
    """`net`'s weights (an `sr_net` network) as an ncnn pair: its weighted layers in order, its other layers counted.

    The blob wiring is a plain chain: the loader reads layer kinds, order and parameters, not the graph.
    `activation_slope` replaces every fused LeakyReLU slope (to write a file that does not fit).
    """
    lines, data, blob = [param_line("Input", "in", [], ["b0"])], bytearray(), 0
    for index, (module, slope) in enumerate(net.slots()):
        source, blob = f"b{blob}", blob + 1
        if isinstance(module, nn.PReLU):
            weight = module.weight.detach().numpy()
            lines.append(param_line("PReLU", f"prelu{index}", [source], [f"b{blob}"], f"0={weight.size}"))
            data += raw_block(weight)
            continue
        weight = module.weight.detach().numpy()
        act = ""
        if slope is not None:
            act = f" 9=2 -23310=1,{activation_slope if activation_slope is not None else slope:e}"
        params = f"0={weight.shape[0]} 1={weight.shape[2]} 4=1 5=1 6={weight.size}{act}"
        lines.append(param_line("Convolution", f"conv{index}", [source], [f"b{blob}"], params))
        data += fp16_block(weight.ravel()) + raw_block(module.bias.detach().numpy())
    for number, ((kind, params), count) in enumerate(net.signature().items()):
        for copy in range(count):
            text = " ".join(f"{_key(key, value)}" for key, value in params)
            source, blob = f"b{blob}", blob + 1
            lines.append(param_line(kind, f"{kind.lower()}{number}_{copy}", [source], [f"b{blob}"], text))
    write_param(param_path, lines, blob + 1)
    bin_path.write_bytes(bytes(data))


def _key(key: int, value: object) -> str:
    if isinstance(value, tuple):
        return f"{-23300 - key}={len(value)}," + ",".join(f"{v:e}" for v in value)
    return f"{key}={value:e}" if isinstance(value, float) else f"{key}={value}"
