"""Reading ncnn nets: the `.param` layer list and the `.bin` weights in ncnn's storage, into numpy arrays.

A `.param` file is text: the magic 7767517, then "layer_count blob_count", then one line per layer: type, name,
input count, output count, the input and output blob names, and `key=value` parameters (an integer or a float; a key
of -23300 - k holds array parameter k as "count,v1,v2,..."). The `.bin` file is the weights of the layers that have
any, in layer order, with nothing between them. A layer's main weights are stored with a 4-byte tag first:
0x01306B47 fp16 (padded to 4 bytes), 0x0002C056 or 0 fp32, 0x000D4B38 int8, any other non-zero tag an 8-bit
quantised table (256 fp32 values, then one byte per weight, padded to 4). Biases and PReLU slopes are raw fp32
with no tag. Only the layer types the pinned nets use carry weights here; any other layer that could carry weights
is refused rather than skipped, so the offsets can never drift silently. The whole file must be read exactly.

Numpy only: the nets are built in torch elsewhere (`dreamplate.enhance.sr_net`) and loaded from these arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dreamplate.errors import ModelError

MAGIC = 7767517
ARRAY_KEY_BASE = -23300
TAG_FP16 = 0x01306B47
TAG_FP32 = 0x0002C056
TAG_INT8 = 0x000D4B38
WEIGHTLESS = frozenset(
    {
        "Input",
        "Split",
        "Concat",
        "Eltwise",
        "BinaryOp",
        "Interp",
        "PixelShuffle",
        "ReLU",
        "Sigmoid",
        "TanH",
        "Clip",
        "Crop",
        "Noop",
        "Reshape",
        "Permute",
        "Flatten",
        "Dropout",
        "UnaryOp",
        "Softmax",
        "Pooling",
    }
)
"""Layer types that never read the `.bin`."""

Param = int | float | tuple[int | float, ...]


@dataclass(frozen=True)
class NcnnLayer:
    """One `.param` line: type, name, input and output blob names, and its parameters by key."""

    type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, Param] = field(default_factory=dict)

    def get(self, key: int, default: Param) -> Param:
        """Parameter `key`, or ncnn's default for it."""
        return self.params.get(key, default)


@dataclass(frozen=True)
class NcnnNet:
    """A read net: its layers in file order, and the weights of those that have any, by layer name.

    Convolution: [weight float32 (out, in, kh, kw), bias float32 (out,)] (no bias when `5=0`);
    PReLU: [slope float32 (n,)].
    """

    layers: list[NcnnLayer]
    weights: dict[str, list[np.ndarray]]

    def weighted(self) -> list[NcnnLayer]:
        """The layers that carry weights, in file order (the order of the `.bin`)."""
        return [layer for layer in self.layers if layer.name in self.weights]


def read_param(path: Path) -> list[NcnnLayer]:
    """The layers of an ncnn `.param` file, in order; ModelError naming the file and line when it is malformed."""
    path = Path(path)
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read the ncnn layer list ({exc})") from exc
    if not lines or lines[0] != [str(MAGIC)]:
        raise ModelError(f"{path}: not an ncnn .param file (no magic {MAGIC} on the first line)")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1])
    except (IndexError, ValueError):
        raise ModelError(f"{path}: line 2 must be 'layer_count blob_count'") from None
    if len(lines) - 2 != layer_count:
        raise ModelError(f"{path}: declares {layer_count} layers, holds {len(lines) - 2}")
    return [_layer(path, number, tokens) for number, tokens in enumerate(lines[2:], start=3)]


def _layer(path: Path, number: int, tokens: list[str]) -> NcnnLayer:
    where = f"{path}: line {number}"
    try:
        kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        blobs = tokens[4 : 4 + n_in + n_out]
        if len(blobs) != n_in + n_out:
            raise ValueError("fewer blob names than counted")
        params: dict[int, Param] = {}
        for token in tokens[4 + n_in + n_out :]:
            key_text, _, value = token.partition("=")
            key = int(key_text)
            if key <= ARRAY_KEY_BASE:
                count, *items = value.split(",")
                if int(count) != len(items):
                    raise ValueError(f"array {key} declares {count} values, has {len(items)}")
                params[ARRAY_KEY_BASE - key] = tuple(_number(item) for item in items)
            else:
                params[key] = _number(value)
    except (IndexError, ValueError) as exc:
        raise ModelError(f"{where}: malformed layer ({exc})") from None
    return NcnnLayer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params)


def _number(text: str) -> int | float:
    """ncnn's rule: a value with '.' or an exponent is a float, else an integer."""
    return float(text) if any(c in text for c in ".eE") else int(text)


def read_net(param_path: Path, bin_path: Path) -> NcnnNet:
    """The layers of `param_path` and their weights from `bin_path`, which must be consumed exactly.

    Raises ModelError naming the file and layer for an unknown weighted layer type, an unsupported storage tag
    (int8), a weight count that does not fit the layer, a short file, or bytes left over.
    """
    layers = read_param(param_path)
    bin_path = Path(bin_path)
    try:
        data = bin_path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{bin_path}: cannot read the ncnn weights ({exc})") from exc
    reader = _BinReader(bin_path, data)
    weights: dict[str, list[np.ndarray]] = {}
    for layer in layers:
        if layer.type == "Convolution":
            weights[layer.name] = _convolution(reader, layer)
        elif layer.type == "PReLU":
            weights[layer.name] = [reader.raw(int(layer.get(0, 0)), layer.name)]
        elif layer.type not in WEIGHTLESS:
            raise ModelError(f"{param_path}: layer {layer.name} is a {layer.type}, which this reader does not know")
    if reader.offset != len(data):
        raise ModelError(f"{bin_path}: {len(data) - reader.offset} bytes left after the last layer; wrong .param?")
    return NcnnNet(layers, weights)


def _convolution(reader: _BinReader, layer: NcnnLayer) -> list[np.ndarray]:
    outputs, size = int(layer.get(0, 0)), int(layer.get(6, 0))
    kernel_w = int(layer.get(1, 0))
    kernel_h = int(layer.get(11, kernel_w))
    if int(layer.get(8, 0)):
        raise ModelError(f"{reader.path}: layer {layer.name} holds int8 scales, which this reader does not load")
    per_input = outputs * kernel_w * kernel_h
    if per_input <= 0 or size % per_input:
        raise ModelError(
            f"{reader.path}: layer {layer.name}: {size} weights do not fit {outputs} x {kernel_h}x{kernel_w}"
        )
    weight = reader.tagged(size, layer.name).reshape(outputs, size // per_input, kernel_h, kernel_w)
    return [weight, reader.raw(outputs, layer.name)] if int(layer.get(5, 0)) else [weight]


@dataclass
class _BinReader:
    path: Path
    data: bytes
    offset: int = 0

    def take(self, count: int, what: str) -> bytes:
        if self.offset + count > len(self.data):
            raise ModelError(f"{self.path}: ends inside the weights of layer {what} (at byte {len(self.data)})")
        chunk = self.data[self.offset : self.offset + count]
        self.offset += count
        return chunk

    def raw(self, count: int, what: str) -> np.ndarray:
        """`count` untagged fp32 values (biases, slopes)."""
        return np.frombuffer(self.take(4 * count, what), "<f4").astype(np.float32)

    def tagged(self, count: int, what: str) -> np.ndarray:
        """`count` weights stored after a 4-byte storage tag, as float32."""
        head = self.take(4, what)
        tag = int.from_bytes(head, "little")
        if tag == TAG_FP16:
            values = np.frombuffer(self.take(_aligned(2 * count), what)[: 2 * count], "<f2")
        elif tag in (TAG_FP32, 0):
            values = np.frombuffer(self.take(4 * count, what), "<f4")
        elif tag == TAG_INT8:
            raise ModelError(f"{self.path}: layer {what} is stored as int8, which this reader does not load")
        else:
            table = np.frombuffer(self.take(256 * 4, what), "<f4")
            index = np.frombuffer(self.take(_aligned(count), what)[:count], np.uint8)
            values = table[index]
        return values.astype(np.float32)


def _aligned(size: int) -> int:
    """`size` rounded up to a multiple of 4 bytes, as ncnn pads its weight blocks."""
    return -(-size // 4) * 4
