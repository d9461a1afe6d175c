"""ONNX export of the tiny video models and the ONNX-backed pipeline components, compared with torch on the CPU.

Tolerances: the fp32 graphs compute the same maths as torch in a different order (ONNX Runtime fuses norms and
attention, sums in other orders), so outputs differ by float32 rounding accumulated over a few layers: about 1e-6
of the output's scale. Errors are measured relative to the torch output's largest magnitude and must stay below
1e-4 per call (100x the observed error, 1000x below anything a wrong op, axis or frozen shape gives: those are
O(1)). Over the 2-step pipeline runs the same bound holds per step's latents; frames after the VAE below 1e-3.
"""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dreamplate.errors import ModelError
from dreamplate.gen.models import resolve_model
from dreamplate.gen.onnx_export import ExportedModel, export_model, find_export

KINDS = ("wan-t2v", "wan-vace", "ltx")
CPU = ("CPUExecutionProvider",)
REL_TOL = 1e-4


def _rel_err(onnx_out: torch.Tensor, torch_out: torch.Tensor) -> float:
    """max |a - b| / max |b|: the error relative to the output's scale."""
    return float((onnx_out - torch_out).abs().max() / torch_out.abs().max().clamp_min(1e-12))


@pytest.fixture(scope="module")
def exports(tiny_wan_t2v: Path, tiny_wan_vace: Path, tiny_ltx: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each tiny family exported once (fp32, opset 18) into a private store; kind -> (ModelInfo, ExportedModel)."""
    root = tmp_path_factory.mktemp("onnx_store")
    dirs = {"wan-t2v": tiny_wan_t2v, "wan-vace": tiny_wan_vace, "ltx": tiny_ltx}
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DREAMPLATE_HOME", str(root / "home"))
        mp.setenv("DREAMPLATE_MODELS", str(root / "models"))
        for kind, path in dirs.items():
            info = resolve_model(path)
            started = time.perf_counter()
            exported = export_model(info)
            print(f"{kind}: exported in {time.perf_counter() - started:.1f} s")
            out[kind] = (info, exported)
    return out


def _torch_components(info: Any) -> tuple[Any, Any]:
    from dreamplate.gen.onnx_export import _load_components

    return _load_components(info)


def test_import_loads_no_heavy_module() -> None:
    code = (
        "import sys, dreamplate.gen.onnx_export\n"
        "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'diffusers', 'transformers') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_export_layout_and_manifest(exports: Any) -> None:
    info, exported = exports["wan-t2v"]
    assert exported.path.parent.name == info.weights_sha256[:16]
    assert exported.path.parent.parent.name == "onnx"
    assert set(exported.graphs) == {
        "transformer", "vae_encoder_first", "vae_encoder_step", "vae_decoder_first", "vae_decoder_step",
    }  # fmt: skip
    manifest = json.loads((exported.path / "manifest.json").read_text())
    assert manifest["weights_sha256"] == info.weights_sha256
    assert manifest["opset"] == 18 and manifest["precision"] == "fp32"
    for graph in exported.graphs.values():  # weights in external data, the graph itself small
        assert graph.is_file() and (graph.parent / f"{graph.name}.data").is_file()
    assert set(exports["ltx"][1].graphs) == {"transformer", "vae_encoder", "vae_decoder"}


def _transformer_inputs(kind: str, cfg: Any, frames: int, height: int, width: int, seed: int) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(seed)
    batch, text_len = 2, 6
    if kind.startswith("wan"):
        kwargs = {
            "hidden_states": torch.randn(batch, cfg.in_channels, frames, height, width, generator=gen),
            "timestep": torch.tensor([900.0, 120.0]),
            "encoder_hidden_states": torch.randn(batch, text_len, cfg.text_dim, generator=gen),
        }
        if kind == "wan-vace":
            kwargs["control_hidden_states"] = torch.randn(
                batch, cfg.vace_in_channels, frames, height, width, generator=gen
            )
            kwargs["control_hidden_states_scale"] = torch.tensor([1.0, 0.6])
        return kwargs
    from dreamplate.gen.rope import ltx_video_coords

    tokens = frames * height * width
    mask = torch.ones(batch, text_len)
    mask[0, 4:] = 0
    return {
        "hidden_states": torch.randn(batch, tokens, cfg.in_channels, generator=gen),
        "encoder_hidden_states": torch.randn(batch, text_len, cfg.caption_channels, generator=gen),
        "timestep": torch.rand(batch, tokens, generator=gen) * 1000,
        "encoder_attention_mask": mask,
        "video_coords": ltx_video_coords(batch, frames, height, width) * torch.tensor([8.0, 32.0, 32.0])[:, None],
    }


@pytest.mark.parametrize("kind", KINDS)
def test_transformer_matches_torch_at_two_sizes(exports: Any, kind: str) -> None:
    from dreamplate.gen.onnx_components import OnnxTransformer

    info, exported = exports[kind]
    transformer, _vae = _torch_components(info)
    onnx_tfm = OnnxTransformer(exported, providers=CPU)
    assert onnx_tfm.provider == "CPUExecutionProvider"
    # Sizes other than the export's example (3 x 4 x 6 latent), different from each other in every axis.
    sizes = [(2, 4, 4), (5, 6, 8)] if kind.startswith("wan") else [(2, 2, 3), (4, 3, 5)]
    for seed, (frames, height, width) in enumerate(sizes):
        kwargs = _transformer_inputs(kind, transformer.config, frames, height, width, seed)
        with torch.no_grad():
            expected = transformer(**kwargs, return_dict=False)[0]
        got = onnx_tfm(**kwargs, return_dict=False)[0]
        assert got.shape == expected.shape
        assert _rel_err(got, expected) < REL_TOL, (kind, frames, height, width, _rel_err(got, expected))


@pytest.mark.parametrize("kind", KINDS)
def test_vae_matches_torch(exports: Any, kind: str) -> None:
    from dreamplate.gen.onnx_components import OnnxVae

    info, exported = exports[kind]
    _transformer, vae = _torch_components(info)
    onnx_vae = OnnxVae(exported, providers=CPU)
    gen = torch.Generator().manual_seed(3)
    for frames, height, width in [(5, 16, 32), (9, 32, 16)] if kind.startswith("wan") else [(9, 32, 32), (5, 64, 32)]:
        video = torch.rand(1, 3, frames, height, width, generator=gen) * 2 - 1
        with torch.no_grad():
            expected = vae.encode(video).latent_dist
        got = onnx_vae.encode(video).latent_dist
        assert _rel_err(got.mean, expected.mean) < REL_TOL
        assert _rel_err(got.std, expected.std) < REL_TOL
        latents = expected.mean
        with torch.no_grad():
            expected_frames = vae.decode(latents, return_dict=False)[0]
        got_frames = onnx_vae.decode(latents).sample
        assert got_frames.shape == expected_frames.shape
        assert _rel_err(got_frames, expected_frames) < REL_TOL


def _pil_frames(count: int, size: int, seed: int) -> list[Any]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)) for _ in range(count)]


def _run(pipe: Any, kind: str) -> tuple[list[torch.Tensor], np.ndarray]:
    from dreamplate.gen.pipelines import make_generator

    steps: list[torch.Tensor] = []

    def capture(_pipe: Any, _step: int, _t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        steps.append(tensors["latents"].detach().clone())
        return {}

    common = {
        "prompt": "warm light on the sea",
        "negative_prompt": "dark",
        "num_inference_steps": 2,
        "guidance_scale": 3.0,
        "generator": make_generator(7),
        "output_type": "np",
        "callback_on_step_end": capture,
        "callback_on_step_end_tensor_inputs": ["latents"],
        "height": 32,
        "width": 32,
    }
    if kind == "wan-t2v":
        common["num_inference_steps"] = 3  # strength 0.7 of 3 steps: 2 denoising steps run
        out = pipe(video=_pil_frames(5, 32, 1), strength=0.7, **common)
    elif kind == "wan-vace":
        out = pipe(video=_pil_frames(5, 32, 2), num_frames=5, **common)
    else:
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        cond = LTXVideoCondition(image=_pil_frames(1, 32, 3)[0], frame_index=0)
        out = pipe(conditions=[cond], num_frames=9, **common)
    return steps, np.asarray(out.frames)


@pytest.mark.parametrize("kind", KINDS)
def test_two_step_pipeline_matches_torch(exports: Any, kind: str) -> None:
    from dreamplate.gen.onnx_components import OnnxTransformer, OnnxVae, onnx_pipeline
    from dreamplate.gen.pipelines import load_pipeline

    info, exported = exports[kind]
    purpose = {"wan-t2v": "v2v", "wan-vace": "control", "ltx": "keyframes"}[kind]
    pipe = load_pipeline(info, purpose, device="cpu")
    swapped = onnx_pipeline(pipe, exported, providers=CPU)
    assert isinstance(swapped.transformer, OnnxTransformer) and isinstance(swapped.vae, OnnxVae)
    assert not isinstance(pipe.transformer, OnnxTransformer)  # the warm torch pipeline is left alone
    torch_steps, torch_frames = _run(pipe, kind)
    onnx_steps, onnx_frames = _run(swapped, kind)
    assert len(onnx_steps) == len(torch_steps) == 2
    for got, expected in zip(onnx_steps, torch_steps, strict=True):
        assert _rel_err(got, expected) < REL_TOL
    assert onnx_frames.shape == torch_frames.shape
    assert float(np.abs(onnx_frames - torch_frames).max()) < 1e-3


def test_cached_export_is_not_redone(exports: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import dreamplate.gen.onnx_export as onnx_export

    info, exported = exports["ltx"]
    monkeypatch.setenv("DREAMPLATE_MODELS", str(exported.path.parents[2]))

    def no_export(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("export redone although cached")

    monkeypatch.setattr(onnx_export, "_export_all", no_export)
    again = export_model(info)
    assert again.path == exported.path and again.graphs == exported.graphs


def test_export_is_reproducible_and_corruption_is_caught(
    exports: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    info, exported = exports["ltx"]
    second = export_model(info, dest=tmp_path / "store")
    for name, graph in exported.graphs.items():
        assert graph.read_bytes() == second.graphs[name].read_bytes(), name
        data = f"{graph.name}.data"
        assert (graph.parent / data).read_bytes() == (second.graphs[name].parent / data).read_bytes(), name

    data_file = second.graphs["vae_decoder"].parent / "vae_decoder.onnx.data"
    blob = bytearray(data_file.read_bytes())
    blob[100] ^= 0xFF
    data_file.write_bytes(bytes(blob))
    assert find_export(info, dest=tmp_path / "store") is None
    assert "vae_decoder.onnx.data: sha256" in caplog.text
    redone = export_model(info, dest=tmp_path / "store")
    assert data_file.read_bytes() == (exported.path / "vae_decoder.onnx.data").read_bytes()
    assert isinstance(redone, ExportedModel)

    second.graphs["transformer"].unlink()
    assert find_export(info, dest=tmp_path / "store") is None
    assert "transformer.onnx: missing" in caplog.text


def test_bad_settings_are_refused(exports: Any) -> None:
    info, _exported = exports["ltx"]
    with pytest.raises(ModelError, match="precision: expected one of fp32, fp16, got 'bf16'"):
        export_model(info, precision="bf16")
    with pytest.raises(ModelError, match="opset: expected 17 to 21, got 11"):
        export_model(info, opset=11)


def test_fp16_export_passes_the_checker(tiny_ltx: Path, tmp_path: Path) -> None:
    """fp16 is for GPU providers; here only that it exports, keeps float32 I/O and opens in ONNX Runtime."""
    import onnx

    info = resolve_model(tiny_ltx)
    exported = export_model(info, precision="fp16", dest=tmp_path / "store")
    graph = onnx.load(str(exported.graphs["transformer"]), load_external_data=False)
    assert graph.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.graph.initializer)
