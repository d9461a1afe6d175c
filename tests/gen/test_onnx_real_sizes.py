"""Issue 21's real-size mechanisms at tiny sizes: fp16 export without a whole-graph pass, memory and dtypes per
component, TensorRT profiles and engine keys from the job, the exporter's log volume, and the smaller fixes."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from dreamplate.errors import ModelError
from dreamplate.gen.models import resolve_model


def _wan_shapes(batch: int, frames: int, width: int, height: int) -> dict[str, tuple[int, ...]]:
    """Wan 1.3B transformer inputs for a job at `width` x `height` pixels and `frames` pixel frames."""
    f, h, w = (frames - 1) // 4 + 1, height // 8, width // 8
    tokens = f * (h // 2) * (w // 2)
    return {
        "hidden_states": (batch, 16, f, h, w),
        "timestep": (batch,),
        "encoder_hidden_states": (batch, 512, 4096),
        "rope_cos": (1, tokens, 1, 128),
        "rope_sin": (1, tokens, 1, 128),
    }


def test_trt_profile_is_the_jobs_shape_for_portrait_large_and_short_windows() -> None:
    from dreamplate.gen.onnx_components import trt_engine_key, trt_profile

    jobs = {
        "portrait": _wan_shapes(1, 81, 480, 832),
        "larger than full": _wan_shapes(1, 81, 1280, 720),
        "short window": _wan_shapes(1, 5, 832, 480),
    }
    keys = set()
    for shapes in jobs.values():
        profile = trt_profile(shapes)
        opt = dict(p.split(":") for p in profile["trt_profile_opt_shapes"].split(","))
        assert opt["hidden_states"] == "x".join(map(str, shapes["hidden_states"]))
        assert profile["trt_profile_max_shapes"] == profile["trt_profile_opt_shapes"]
        keys.add(trt_engine_key(profile))
    assert len(keys) == 3  # an engine per job shape, never one shared fixed maximum
    portrait = trt_profile(jobs["portrait"])
    assert "hidden_states:1x16x21x104x60" in portrait["trt_profile_opt_shapes"]
    assert trt_engine_key(portrait) == trt_engine_key(trt_profile(jobs["portrait"]))  # stable: the cache is found
    assert trt_engine_key(portrait).startswith("1x16x21x104x60-")


def test_trt_profile_min_batch_is_one_and_guidance_batch_is_kept() -> None:
    from dreamplate.gen.onnx_components import trt_profile

    shapes = {
        "hidden_states": (2, 6000, 128),
        "control_hidden_states_scale": (6,),
        "encoder_attention_mask": (2, 128),
    }
    profile = trt_profile(shapes)
    assert profile["trt_profile_min_shapes"] == (
        "hidden_states:1x6000x128,control_hidden_states_scale:6,encoder_attention_mask:1x128"
    )
    assert profile["trt_profile_opt_shapes"].startswith("hidden_states:2x6000x128")


def test_trt_profile_says_why_a_shape_cannot_build() -> None:
    from dreamplate.gen.onnx_components import trt_profile

    with pytest.raises(ModelError, match=r"over TensorRT's 2,147,483,647 per tensor; use a smaller --size"):
        trt_profile({"hidden_states": (1, 16, 1000, 1000, 1000)})


def test_fp16_export_never_runs_whole_graph_shape_inference(
    tiny_ltx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-memory pass serialises the graph, which protobuf cannot above 2 GiB (`EncodeError` at real size):
    here it raises at any size, and the fp16 export must not need it."""
    import onnx
    import onnx.shape_inference
    import onnxruntime.transformers.float16 as float16

    def whole_graph(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("in-memory shape inference: fails above 2 GiB")

    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", whole_graph)
    monkeypatch.setattr(float16, "infer_shapes", whole_graph)
    from dreamplate.gen.onnx_export import export_model

    exported = export_model(resolve_model(tiny_ltx), precision="fp16", dest=tmp_path / "store")
    graph = onnx.load(str(exported.graphs["transformer"]), load_external_data=False)
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.graph.initializer)
    assert (exported.graphs["transformer"].parent / "transformer.onnx.data").stat().st_size > 0


def test_exporter_loggers_are_capped_unless_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    from dreamplate.runtime.onnx import quiet_exporter_logs

    root = logging.getLogger()
    for name in ("onnxscript", "onnx_ir", "torch.onnx"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    monkeypatch.setattr(root, "level", logging.DEBUG)
    quiet_exporter_logs()
    assert logging.getLogger("onnxscript").level == logging.NOTSET  # -v: they log as they like
    monkeypatch.setattr(root, "level", logging.INFO)
    quiet_exporter_logs()
    assert not logging.getLogger("onnxscript.optimizer").isEnabledFor(logging.INFO)
    assert not logging.getLogger("onnx_ir.passes").isEnabledFor(logging.INFO)
    assert not logging.getLogger("torch.onnx._internal").isEnabledFor(logging.WARNING)
    assert root.level == logging.INFO and logging.getLogger("dreamplate").isEnabledFor(logging.INFO)


def test_random_model_files_are_readable_per_umask(tmp_path: Path) -> None:
    from dreamplate.gen.random_models import build_random_model

    previous = os.umask(0o022)
    try:
        dest = build_random_model("ltx", "ltx", tmp_path / "m", size="tiny")
    finally:
        os.umask(previous)
    weights = sorted(dest.rglob("*.safetensors"))
    assert weights
    for path in weights:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_big_text_encoder_loads_in_bf16_on_cpu_and_is_logged(
    tiny_wan_t2v: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    from dreamplate.gen import load_plan as loader

    info = resolve_model(tiny_wan_t2v)
    assert loader.component_dtypes(info, "cpu", torch.float32) == torch.float32  # tiny encoder: fp32
    monkeypatch.setattr(loader, "CPU_BF16_TEXT_OVER", 0)
    caplog.set_level(logging.INFO)
    dtypes = loader.component_dtypes(info, "cpu", torch.float32)
    assert dtypes == {"default": torch.float32, "text_encoder": torch.bfloat16}
    assert "text encoder in bf16 on the CPU" in caplog.text


def test_load_that_cannot_fit_fails_in_one_line_before_loading(
    tiny_wan_t2v: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from dreamplate.gen import load_plan as loader
    from dreamplate.runtime import memory

    info = resolve_model(tiny_wan_t2v)
    monkeypatch.setattr(memory, "available_bytes", lambda device="cpu": 1000)
    with pytest.raises(ModelError) as caught:
        loader.component_dtypes(info, "cpu", torch.float32)
    message = str(caught.value)
    assert "\n" not in message and "GiB of RAM" in message and "0.0 GiB is free" in message
    assert loader.MEMORY_FIX in message
    transformer_only = memory.load_bytes(info.path / "transformer", 4)
    assert transformer_only == memory.load_bytes(info.path / "transformer")  # tiny weights are stored in fp32
    assert memory.load_bytes(info.path / "transformer", 2) * 2 == transformer_only


def test_progress_total_counts_the_steps_strength_leaves() -> None:
    from dreamplate.gen.pipeline_call import denoising_steps

    assert denoising_steps({"num_inference_steps": 2, "strength": 0.6, "video": ["frame"]}) == 1
    assert denoising_steps({"num_inference_steps": 30, "strength": 0.5, "video": ["frame"]}) == 15
    assert denoising_steps({"num_inference_steps": 30, "conditions": []}) == 30


def test_provenance_window_is_what_ran(tiny_wan_t2v: Path) -> None:
    from dreamplate.gen.model_run import prepare_model
    from dreamplate.gen.spec import RelightSpec

    info = resolve_model(tiny_wan_t2v)
    spec = RelightSpec(
        inputs=["p.####.exr"], output="o.####.exr", model=str(tiny_wan_t2v), prompt="light", window=81, overlap=20
    )
    model = prepare_model(spec, info, "v2v", (32, 32))
    assert model.ran_windows(model.windows(9)) == {"window": 9, "overlap": 0}
    spec = RelightSpec(
        inputs=["p.####.exr"], output="o.####.exr", model=str(tiny_wan_t2v), prompt="light", window=9, overlap=2
    )
    model = prepare_model(spec, info, "v2v", (32, 32))
    assert model.ran_windows(model.windows(21)) == {"window": 9, "overlap": 2}  # starts 0, 7, 12


def test_real_size_builds_tokenise_through_sentencepiece() -> None:
    from dreamplate.gen.random_models import sentencepiece_tokenizer

    tokenizer = sentencepiece_tokenizer()
    ids = tokenizer("warm golden light on the sea").input_ids
    assert ids[-1] == tokenizer.eos_token_id == 1 and tokenizer.pad_token_id == 0
    assert len(set(ids[:-1])) > 3 and tokenizer.unk_token_id not in ids  # real pieces, not unknowns
    assert len(tokenizer) > 50  # a trained unigram vocabulary (81 pieces), not a handful of specials
