"""ONNX export and ONNX Runtime sessions: torch parity at two sizes, graph layout, fp16, provider choice, errors."""

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from dreamplate.errors import ModelError
from dreamplate.interp.rife_net import PAD_MULTIPLE, RifeFlowNet, build_random
from dreamplate.runtime.onnx import PROVIDER_ORDER, export_onnx, make_session

torch.set_num_threads(2)

PARITY = 1e-3  # max abs difference, flow (pixels) and mask, on frames in [0, 1]: the bar
# Output deconvs scaled up so random nets move pixels by tens of pixels and use the whole mask range, as trained
# nets do: with torch's default init flows stay under 2 px and a wrong warp would hardly show.
GAIN = {"hdv3": 20.0, "v4": 10.0}
SIZES = {"hdv3": [(48, 80), (96, 32)], "v4": [(64, 128), (128, 64)]}  # two shapes, neither square


def smooth_frames(n: int, h: int, w: int, shift: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Two N x 3 x H x W float32 frames in [0, 1] of smooth structure, the second moved `shift` px right."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)

    def frame(dx: float) -> np.ndarray:
        xx = x - dx
        planes = [
            [
                0.5 + 0.25 * np.sin(xx / 7 + p) * np.cos(y / 9 - p) + 0.2 * np.sin((xx + y) / 13 + 2 * p)
                for p in (c, c + 1, c + 2)
            ]
            for c in range(n)
        ]
        return np.clip(np.asarray(planes, np.float32), 0.0, 1.0)

    return frame(0.0), frame(shift)


def amplified_net(variant: str) -> RifeFlowNet:
    net = build_random(variant, seed=0)
    with torch.no_grad():
        for name, module in net.named_modules():
            if name.endswith(("conv1.2", "conv2.2", "lastconv.0")):
                module.weight.mul_(GAIN[variant])
                module.bias.mul_(GAIN[variant])
    return net


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, tuple[RifeFlowNet, Path]]:
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for variant in ("hdv3", "v4"):
        net = amplified_net(variant)
        out[variant] = (net, export_onnx(net, folder / f"rife_{variant}.onnx"))
    return out


def torch_outputs(net: RifeFlowNet, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        flow, mask = net(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(t.reshape(-1, 1, 1, 1)))
    return flow.numpy(), mask.numpy()


@pytest.mark.parametrize("variant", ["hdv3", "v4"])
def test_onnx_runtime_matches_torch_at_two_sizes(exported, variant):
    net, path = exported[variant]
    session = make_session(path, threads=2, prefer_gpu=False)
    for batch, (h, w) in zip((1, 2), SIZES[variant], strict=True):
        a, b = smooth_frames(batch, h, w)
        t = np.array([0.3, 0.8][:batch], np.float32)
        flow, mask = session.run(a, b, t)
        ref_flow, ref_mask = torch_outputs(net, a, b, t)
        assert flow.shape == (batch, 4, h, w) and mask.shape == (batch, 1, h, w)
        assert np.abs(flow - ref_flow).max() < PARITY
        assert np.abs(mask - ref_mask).max() < PARITY
        # The comparison means something only if the net really moves pixels and weighs the frames.
        assert np.abs(ref_flow).max() > 5.0
        assert ref_mask.max() - ref_mask.min() > 0.1


def test_exported_graph_has_named_dynamic_io_at_opset_17(exported):
    model = onnx.load(str(exported["v4"][1]))
    assert [i.name for i in model.graph.input] == ["img0", "img1", "timestep"]
    assert [o.name for o in model.graph.output] == ["flow", "mask"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 17
    # Only the inference blocks are exported: the training-only teacher and time estimator are not.
    assert not any(i.name.startswith(("ifnet.teacher", "ifnet.caltime")) for i in model.graph.initializer)


def test_fp16_export_keeps_io_and_the_warp_in_fp32(exported, tmp_path):
    net, _ = exported["hdv3"]
    path = export_onnx(net, tmp_path / "rife_hdv3_fp16.onnx", fp16=True)
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    fp32, fp16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
    assert all(v.type.tensor_type.elem_type == fp32 for v in [*model.graph.input, *model.graph.output])
    types = {v.name: v.type.tensor_type.elem_type for v in model.graph.value_info}
    grid_samples = [n for n in model.graph.node if n.op_type == "GridSample"]
    assert grid_samples and all(types[name] == fp32 for n in grid_samples for name in [*n.input, *n.output])
    conv_weights = {n.input[1] for n in model.graph.node if n.op_type == "Conv"}
    assert {i.data_type for i in model.graph.initializer if i.name in conv_weights} == {fp16}
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file was renamed, not left behind


def test_cpu_session_reports_its_provider_without_warning(exported, caplog):
    with caplog.at_level(logging.INFO, logger="dreamplate.runtime.onnx"):
        session = make_session(exported["hdv3"][1], threads=1, prefer_gpu=False)
    assert session.provider == "CPUExecutionProvider"
    assert session.provider in session.session.get_providers()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.filterwarnings("ignore:Specified provider")  # onnxruntime's own note on the same fallback
def test_fallback_from_an_offered_gpu_provider_warns(exported, monkeypatch, caplog, tmp_path):
    # A runtime that lists TensorRT and CUDA but cannot start them (no GPU here): the session runs on CPU.
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(PROVIDER_ORDER))
    model_path = tmp_path / "rife.onnx"
    model_path.write_bytes(exported["hdv3"][1].read_bytes())
    with caplog.at_level(logging.WARNING, logger="dreamplate.runtime.onnx"):
        session = make_session(model_path, threads=1)
    assert session.provider == "CPUExecutionProvider"
    assert session.wanted == PROVIDER_ORDER
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("TensorrtExecutionProvider was wanted" in m and "runs on CPUExecutionProvider" in m for m in warnings)
    assert (tmp_path / "rife.trt").is_dir()  # TensorRT's engine cache goes beside the model


def test_session_errors_name_the_file(tmp_path, exported):
    with pytest.raises(ModelError, match="missing.onnx: ONNX model not found"):
        make_session(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="bad.onnx: ONNX Runtime cannot load the model"):
        make_session(bad)
    session = make_session(exported["hdv3"][1], threads=1, prefer_gpu=False)
    a, _ = smooth_frames(1, 48, 80)
    with pytest.raises(ModelError, match="rife_hdv3.onnx: frames must be two N x 3 x H x W arrays"):
        session.run(a, a[:, :, :32])


def test_importing_the_runtime_module_loads_no_heavy_library():
    code = "import sys, dreamplate.runtime.onnx; print(sorted({'torch', 'onnx', 'onnxruntime'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_pad_multiples_used_here_are_the_nets(exported):
    for variant, sizes in SIZES.items():
        assert all(h % PAD_MULTIPLE[variant] == 0 and w % PAD_MULTIPLE[variant] == 0 for h, w in sizes)
