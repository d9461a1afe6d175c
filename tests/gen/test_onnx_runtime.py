"""`runtime="onnx"` against `runtime="torch"` for relight and keyframes on the tiny models, on the CPU (fp32 export).

Tolerances, and why:
- Latents after each denoising step: max |onnx - torch| / max |torch| < 1e-4. The fp32 graphs do torch's maths in
  another order (fused norms and attention, other summation orders), which costs float32 rounding, about 1e-6 of the
  scale per transformer call; over the tiny models' 2 steps it stays near that. 1e-4 is 100x the observed error and
  far below what a wrong op, axis or frozen shape gives (O(1)). Same bound as test_onnx_export's per-call parity.
- Frames the pipeline returns (VAE output in [0, 1]): max abs difference < 1e-3 (as test_onnx_export), an eighth of an
  8-bit code; the VAE adds its own reordering to the latents' difference.
- Written frames (half EXR, decoded to scene-linear against the plate): relative 4e-3, absolute 1e-3. A difference of
  1e-5 in the model frame can move a half value across a rounding boundary, one half ulp (2^-10 = 9.8e-4 relative);
  the scene-linear decode (log-like) scales a model-space difference up by its slope. Measured: one half ulp.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from plates import write_plate
from typer.testing import CliRunner

from dreamplate.errors import Cancelled, ModelError
from dreamplate.gen import keyframes, pipeline_call, relight
from dreamplate.gen.keyframes import run_keyframes
from dreamplate.gen.loader import choose_runtime
from dreamplate.gen.models import resolve_model
from dreamplate.gen.onnx_export import export_model
from dreamplate.gen.pipeline_call import OOM_FIX, out_of_memory
from dreamplate.gen.relight import run_relight
from dreamplate.gen.spec import KeyframesSpec, RelightSpec
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "warm sunset light", "steps": 2, "device": "cpu"}
LATENT_REL_TOL = 1e-4
FRAME_ABS_TOL = 1e-3
WRITTEN_RTOL, WRITTEN_ATOL = 4e-3, 1e-3


@pytest.fixture(scope="module")
def store(tiny_wan_t2v: Path, tiny_ltx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private models folder holding the fp32 exports of tiny wan-t2v and LTX-Video (made once, seconds)."""
    root = tmp_path_factory.mktemp("onnx_runtime_store")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMPLATE_MODELS", str(root))
        for path in (tiny_wan_t2v, tiny_ltx):
            export_model(resolve_model(path))
    return root


@pytest.fixture
def use_store(store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DREAMPLATE_MODELS", str(store))
    return store


class _Recorder:
    """A pipeline proxy recording the latents after each step (through call_pipeline's own step callback) and the
    frames the call returns."""

    def __init__(self, pipe: Any, latents: list[torch.Tensor]) -> None:
        self.pipe, self.latents = pipe, latents

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)

    def __call__(self, **kwargs: Any) -> Any:
        inner = kwargs["callback_on_step_end"]

        def record(p: Any, step: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            self.latents.append(tensors["latents"].detach().float().clone())
            return inner(p, step, t, tensors)

        return self.pipe(**{**kwargs, "callback_on_step_end": record})


def _capture(monkeypatch: pytest.MonkeyPatch, module: Any) -> tuple[list[torch.Tensor], list[np.ndarray]]:
    """Hook `module.call_pipeline`: every step's latents and every call's frames, in order."""
    latents: list[torch.Tensor] = []
    frames: list[np.ndarray] = []
    real = pipeline_call.call_pipeline

    def hooked(pipe: Any, kwargs: dict[str, Any], *args: Any, **kw: Any) -> np.ndarray:
        out = real(_Recorder(pipe, latents), kwargs, *args, **kw)
        frames.append(out)
        return out

    monkeypatch.setattr(module, "call_pipeline", hooked)
    return latents, frames


def _rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _rgb(path: Path) -> np.ndarray:
    image = read_exr(path)
    return np.stack([image.channels[c] for c in "RGB"], axis=-1).astype(np.float32)


def _assert_same(runs: dict[str, Any], written: dict[str, list[Path]]) -> None:
    (t_lat, t_frames), (o_lat, o_frames) = runs["torch"], runs["onnx"]
    assert len(o_lat) == len(t_lat) > 0 and len(o_frames) == len(t_frames) > 0
    lat_err = max(_rel_err(got, expected) for got, expected in zip(o_lat, t_lat, strict=True))
    frame_err = max(float(np.abs(got - expected).max()) for got, expected in zip(o_frames, t_frames, strict=True))
    assert lat_err < LATENT_REL_TOL and frame_err < FRAME_ABS_TOL
    assert [p.name for p in written["onnx"]] == [p.name for p in written["torch"]]
    written_err = 0.0
    for got_path, expected_path in zip(written["onnx"], written["torch"], strict=True):
        got, expected = _rgb(got_path), _rgb(expected_path)
        np.testing.assert_allclose(got, expected, rtol=WRITTEN_RTOL, atol=WRITTEN_ATOL)
        written_err = max(written_err, float((np.abs(got - expected) / np.maximum(np.abs(expected), 1e-3)).max()))
    print(f"parity: latents rel {lat_err:.1e}, model frames abs {frame_err:.1e}, written rel {written_err:.1e}")


@pytest.mark.parametrize("kind", ["wan-t2v", "ltx"])
def test_relight_onnx_matches_torch_per_step_and_in_the_frames(
    kind: str, use_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    model = request.getfixturevalue("tiny_wan_t2v" if kind == "wan-t2v" else "tiny_ltx")
    plate = write_plate(tmp_path / "in", range(1001, 1010), SIZE)  # 9 frames in two windows of 5: chunking too
    runs, written, provs = {}, {}, {}
    for runtime in ("torch", "onnx"):
        latents, frames = _capture(monkeypatch, relight)
        spec = RelightSpec(
            inputs=[plate], output=str(tmp_path / runtime / "o.####.exr"), model=str(model), strength=0.6,
            window=5, overlap=1, runtime=runtime, **FAST,
        )  # fmt: skip
        result = run_relight(spec)
        runs[runtime], written[runtime] = (latents, frames), result.written
        provs[runtime] = Provenance.from_attributes(read_exr(result.written[0]).attributes)
    assert len(runs["onnx"][1]) == 2  # two windows ran on each runtime
    _assert_same(runs, written)
    assert provs["torch"].runtime.startswith("cpu float32 (torch ")
    onnx_runtime = provs["onnx"].runtime
    assert onnx_runtime.startswith("CPUExecutionProvider (onnxruntime ") and "fp32 export" in onnx_runtime
    assert provs["onnx"].parameters == provs["torch"].parameters  # the runtime is not a setting
    assert "runtime" not in provs["onnx"].parameters


def test_keyframes_onnx_matches_torch(
    use_store: Path, tiny_ltx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plate(tmp_path / "keys", range(1, 3), SIZE)
    keys = {1001: str(tmp_path / "keys" / "plate.0001.exr"), 1009: str(tmp_path / "keys" / "plate.0002.exr")}
    runs, written = {}, {}
    for runtime in ("torch", "onnx"):
        latents, frames = _capture(monkeypatch, keyframes)
        spec = KeyframesSpec(
            keys=keys, output=str(tmp_path / runtime / "o.####.exr"), model=str(tiny_ltx), runtime=runtime, **FAST
        )
        runs[runtime], written[runtime] = (latents, frames), run_keyframes(spec).written
    _assert_same(runs, written)
    prov = Provenance.from_attributes(read_exr(written["onnx"][3]).attributes)
    assert "CPUExecutionProvider" in prov.runtime and prov.method == "keyframes LTXConditionPipeline"


def test_same_seed_same_frames_on_onnx(use_store: Path, tiny_wan_t2v: Path, tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    outs = []
    for name in ("a", "b"):
        spec = RelightSpec(inputs=[plate], output=str(tmp_path / name / "o.####.exr"), model=str(tiny_wan_t2v),
                           runtime="onnx", seed=5, **FAST)  # fmt: skip
        outs.append([_rgb(p) for p in run_relight(spec).written])
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(a, b, rtol=WRITTEN_RTOL, atol=WRITTEN_ATOL)


def test_auto_takes_onnx_only_where_an_export_is_cached(
    use_store: Path, tiny_wan_t2v: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    info = resolve_model(tiny_wan_t2v)
    chosen, why = choose_runtime(info, "auto", "cpu")
    assert chosen == "onnx" and "cached fp32 ONNX export" in why
    assert choose_runtime(info, "torch", "cpu")[0] == "torch"
    chosen, why = choose_runtime(info, "auto", "cuda")  # the fp16 export is not there
    assert chosen == "torch" and "no cached fp16 ONNX export" in why

    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    caplog.set_level(logging.INFO, logger="dreamplate.gen.loader")
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "a" / "o.####.exr"), model=str(tiny_wan_t2v), **FAST)
    result = run_relight(spec)
    assert "runtime: ONNX Runtime (cached fp32 ONNX export" in caplog.text
    assert "CPUExecutionProvider" in Provenance.from_attributes(read_exr(result.written[0]).attributes).runtime

    monkeypatch.setenv("DREAMPLATE_MODELS", str(tmp_path / "empty"))
    caplog.clear()
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "b" / "o.####.exr"), model=str(tiny_wan_t2v), **FAST)
    result = run_relight(spec)
    assert "runtime: torch (no cached fp32 ONNX export" in caplog.text
    assert "(torch " in Provenance.from_attributes(read_exr(result.written[0]).attributes).runtime
    assert not (tmp_path / "empty" / "onnx").exists()  # auto never exports


def test_without_onnxruntime(tiny_wan_t2v: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = resolve_model(tiny_wan_t2v)
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # import fails
    assert choose_runtime(info, "auto", "cpu") == ("torch", "onnxruntime is not installed")
    with pytest.raises(ModelError, match="--runtime onnx: onnxruntime is not installed"):
        choose_runtime(info, "onnx", "cpu")


def test_onnx_exports_once_when_missing(
    tiny_ltx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("DREAMPLATE_MODELS", str(tmp_path / "models"))
    caplog.set_level(logging.INFO, logger="dreamplate.gen.loader")
    write_plate(tmp_path / "keys", range(1, 3), SIZE)
    keys = {1: str(tmp_path / "keys" / "plate.0001.exr"), 5: str(tmp_path / "keys" / "plate.0002.exr")}
    spec = KeyframesSpec(keys=keys, output=str(tmp_path / "o" / "o.####.exr"), model=str(tiny_ltx), runtime="onnx",
                         **FAST)  # fmt: skip
    run_keyframes(spec)
    assert "no fp32 ONNX export of" in caplog.text and str(tmp_path / "models" / "onnx") in caplog.text
    assert list((tmp_path / "models" / "onnx").glob("*/*/manifest.json"))


def test_strength_zero_needs_no_model_and_no_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMPLATE_MODELS", str(tmp_path / "models"))
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "o.####.exr"), strength=0.0, runtime="onnx")
    result = run_relight(spec)
    assert len(result.written) == 3 and result.method.startswith("passthrough")
    assert not (tmp_path / "models").exists()


def test_cancel_between_steps_on_onnx(use_store: Path, tiny_wan_t2v: Path, tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    messages: list[str] = []
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), model=str(tiny_wan_t2v),
                       runtime="onnx", strength=1.0, **{**FAST, "steps": 4})  # fmt: skip
    with pytest.raises(Cancelled, match="cancelled between denoising steps"):
        run_relight(
            spec, progress=lambda d, t, m: messages.append(m), cancelled=lambda: "step 1/4" in " ".join(messages)
        )
    assert [m for m in messages if "step" in m] == ["window 1/1: step 1/4"]  # the callback fired, then it stopped
    assert not list((tmp_path / "o").glob("*.exr"))


def test_onnx_runtime_out_of_memory_is_the_same_model_error(
    use_store: Path, tiny_wan_t2v: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime
    from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException

    def no_memory(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeException(
            "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running MatMul node. "
            "Status Message: bfc_arena.cc:376 Failed to allocate memory for requested buffer of size 2147483648"
        )

    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), model=str(tiny_wan_t2v),
                       runtime="onnx", **FAST)  # fmt: skip
    monkeypatch.setattr(onnxruntime.InferenceSession, "run", no_memory)
    with pytest.raises(ModelError, match=f"relight window 0: out of memory; {OOM_FIX}"):
        run_relight(spec)
    assert out_of_memory(RuntimeException("CUDA failure 2: out of memory ; GPU=0"))
    assert not out_of_memory(RuntimeException("[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions"))


def test_cli_relight_runtime_onnx(use_store: Path, tiny_wan_t2v: Path, tmp_path: Path) -> None:
    from dreamplate.cli import app

    plate = write_plate(tmp_path / "in", range(1001, 1006), SIZE)
    out = tmp_path / "out" / "o.####.exr"
    args = ["relight", plate, "-o", out, "--model", tiny_wan_t2v, "--prompt", "warm", "--steps", "2", "--device", "cpu"]
    result = CliRunner().invoke(app, [str(a) for a in [*args, "--runtime", "onnx"]])
    assert result.exit_code == 0, result.output
    prov = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.1001.exr").attributes)
    assert prov.runtime.startswith("CPUExecutionProvider (onnxruntime ")
    bad = CliRunner().invoke(app, [str(a) for a in [*args, "--runtime", "tensorrt"]])
    assert bad.exit_code != 0 and "runtime" in bad.output
