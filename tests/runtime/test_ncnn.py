"""The ncnn reader: `.param` layers and parameters, `.bin` weights in each storage, read exactly or refused."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from ncnn_support import fp16_block, param_line, raw_block, write_param

from dreamplate.errors import ModelError
from dreamplate.runtime.ncnn import read_net, read_param

RNG = np.random.default_rng(7)
W1 = RNG.normal(size=(4, 3, 3, 3)).astype(np.float16).astype(np.float32)  # exactly representable in fp16
B1 = RNG.normal(size=4).astype(np.float32)
SLOPE = RNG.uniform(0, 0.3, size=4).astype(np.float32)
W2 = RNG.normal(size=(48, 4, 1, 1)).astype(np.float32)


def _write(folder: Path, second_weights: bytes | None = None, extra: bytes = b"") -> tuple[Path, Path]:
    """Conv (fp16, LeakyReLU fused) -> PReLU -> 1x1 conv (fp32, no bias) -> pixel shuffle, + the upsampled input."""
    lines = [
        param_line("Input", "input", [], ["data"]),
        param_line("Split", "split", ["data"], ["d0", "d1"]),
        param_line("Convolution", "conv0", ["d0"], ["c0"], "0=4 1=3 4=1 5=1 6=108 9=2 -23310=1,2.000000e-01"),
        param_line("PReLU", "prelu0", ["c0"], ["p0"], "0=4"),
        param_line("Convolution", "conv1", ["p0"], ["c1"], "0=48 1=1 5=0 6=192"),
        param_line("PixelShuffle", "shuffle", ["c1"], ["s"], "0=4"),
        param_line("Interp", "up", ["d1"], ["u"], "0=1 1=4.000000e+00 2=4.000000e+00"),
        param_line("BinaryOp", "add", ["s", "u"], ["output"]),
    ]
    param, weights = folder / "net.param", folder / "net.bin"
    write_param(param, lines, 9)
    second = second_weights if second_weights is not None else struct.pack("<I", 0) + raw_block(W2.ravel())
    weights.write_bytes(fp16_block(W1.ravel()) + raw_block(B1) + raw_block(SLOPE) + second + extra)
    return param, weights


def test_layers_and_parameters_are_read(tmp_path: Path) -> None:
    param, _ = _write(tmp_path)
    layers = read_param(param)
    assert [layer.type for layer in layers][:3] == ["Input", "Split", "Convolution"]
    conv = layers[2]
    assert conv.inputs == ("d0",) and conv.outputs == ("c0",)
    assert conv.params == {0: 4, 1: 3, 4: 1, 5: 1, 6: 108, 9: 2, 10: (0.2,)}  # -23310 is array parameter 10
    assert layers[6].params == {0: 1, 1: 4.0, 2: 4.0} and isinstance(layers[6].params[1], float)
    assert layers[7].outputs == ("output",) and layers[7].params == {}


def test_weights_in_each_storage_come_back_exactly(tmp_path: Path) -> None:
    net = read_net(*_write(tmp_path))
    assert [layer.name for layer in net.weighted()] == ["conv0", "prelu0", "conv1"]
    weight, bias = net.weights["conv0"]
    np.testing.assert_array_equal(weight, W1)  # fp16, tagged 0x01306B47
    np.testing.assert_array_equal(bias, B1)  # raw fp32
    np.testing.assert_array_equal(net.weights["prelu0"][0], SLOPE)
    (second,) = net.weights["conv1"]  # 5=0: no bias stored
    np.testing.assert_array_equal(second, W2)  # tag 0: raw fp32
    assert all(a.dtype == np.float32 for arrays in net.weights.values() for a in arrays)


def test_a_quantised_table_is_decoded(tmp_path: Path) -> None:
    table = np.linspace(-1, 1, 256, dtype=np.float32)
    index = RNG.integers(0, 256, size=192).astype(np.uint8)
    tagged = bytes([1, 2, 3, 4]) + raw_block(table) + index.tobytes()  # 192 bytes: already a multiple of 4
    net = read_net(*_write(tmp_path, second_weights=tagged))
    np.testing.assert_array_equal(net.weights["conv1"][0].ravel(), table[index])


def test_the_published_fp32_tag_is_raw_fp32(tmp_path: Path) -> None:
    net = read_net(*_write(tmp_path, second_weights=struct.pack("<I", 0x0002C056) + raw_block(W2.ravel())))
    np.testing.assert_array_equal(net.weights["conv1"][0], W2)


def test_int8_weights_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="layer conv1 is stored as int8"):
        read_net(*_write(tmp_path, second_weights=struct.pack("<I", 0x000D4B38) + bytes(192)))


def test_a_short_file_names_the_layer(tmp_path: Path) -> None:
    param, weights = _write(tmp_path)
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(ModelError, match="net.bin: ends inside the weights of layer conv1"):
        read_net(param, weights)


def test_bytes_left_over_mean_the_wrong_param(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="net.bin: 4 bytes left after the last layer"):
        read_net(*_write(tmp_path, extra=b"\0\0\0\0"))


def test_an_unknown_layer_type_is_refused_not_skipped(tmp_path: Path) -> None:
    param, weights = _write(tmp_path)
    param.write_text(param.read_text().replace("PReLU ", "Deconvolution "))
    with pytest.raises(ModelError, match="layer prelu0 is a Deconvolution, which this reader does not know"):
        read_net(param, weights)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7767518\n1 1\nInput in 0 1 data\n", "no magic 7767517"),
        ("7767517\n2 2\nInput in 0 1 data\n", "declares 2 layers, holds 1"),
        ("7767517\n1 2\nConvolution c 1 1 data\n", "line 3: malformed layer"),
        ("7767517\n1 2\nConcat c 1 1 a b -23301=3,1,2\n", "line 3: malformed layer"),
    ],
)
def test_malformed_param_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.param"
    path.write_text(text)
    with pytest.raises(ModelError, match=message):
        read_param(path)
