"""Seconds per frame, seconds per denoising step and peak memory of the generative pipelines, full next to draft.

    .venv/bin/python benchmarks/bench_gen.py --size tiny                  # CPU, seconds: tiny random models
    .venv/bin/python benchmarks/bench_gen.py --size real --dry-run        # plan and parameter counts, allocates nothing
    .venv/bin/python benchmarks/bench_gen.py --kinds wan-t2v --json out.json   # GPU: real size by default

Each kind is a randomly initialised model (`dreamplate.gen.random_models`) with the published configs ("real") or a
tiny one, built once into `--models-dir` and reused: random weights time the same as trained ones, the pictures are
noise. Per kind: `load_pipeline` for its purpose (wan-t2v: v2v through WanVideoToVideoPipeline; wan-vace: control
through WanVACEPipeline; ltx: v2v through LTXConditionPipeline with a video condition), one short warm-up call, then
the full setting (the family's native size, frame count and `--steps`) and the draft setting (half width and height,
steps // 4, same frames: what `--draft` renders) side by side with their ratio. The guidance scales are the
pipelines' defaults (Wan 5.0, LTX 3.0: classifier-free guidance, two transformer passes per step).
A real build writes the full UMT5-XXL / T5-XXL text encoders: about 14 GB of disk and RAM per kind.

`--op animate|generate|reframe|paths` times the call that operation makes instead of relight's (see OP_PURPOSE;
kinds that cannot serve it are skipped): a row per operation, full next to draft, e.g.
    .venv/bin/python benchmarks/bench_gen.py --op animate --kinds wan-vace ltx --runtime torch

`--runtime torch onnx` (the default: both) times torch eager and ONNX Runtime in the same run, one row per runtime
and provider, then their ratio (torch / onnx: above 1 means ONNX Runtime is faster). ONNX rows use the export
`dreamplate models export` makes (fp32 on the CPU, fp16 on CUDA; made here once when missing, its time shown apart)
with the text encoder and scheduler still torch; on CUDA one row per GPU provider installed (TensorRT, CUDA). On
CUDA peak VRAM is the device's used memory sampled every 5 ms (ONNX Runtime's arena is invisible to torch's
allocator statistics); a TensorRT row's load s includes the engine build when no engine is cached yet.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import resource
import shutil
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from dreamplate.errors import DreamplateError  # noqa: E402
from dreamplate.gen.models import RANDOM_MARKER, resolve_model  # noqa: E402
from dreamplate.gen.pipelines import (  # noqa: E402
    OFFLOAD_MODES,
    PIPELINE_FOR,
    describe_device,
    load_pipeline,
    make_generator,
)
from dreamplate.gen.random_models import build_random_model, component_configs  # noqa: E402
from dreamplate.runtime.model_cache import release_models  # noqa: E402
from dreamplate.runtime.weights import model_dirs  # noqa: E402

KINDS = ("wan-t2v", "wan-vace", "ltx")
RUNTIMES = ("torch", "onnx")
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
PURPOSE = {"wan-t2v": "v2v", "wan-vace": "control", "ltx": "v2v"}
OPS = ("relight", "animate", "generate", "reframe", "paths")
"""`--op`: the call each operation makes (relight: the purposes above; animate: i2v, the still as frame 0; generate:
t2v, no input; reframe: VACE's inpainting mask over a new band, else v2v; paths: VACE's layout control video)."""
OP_PURPOSE = {
    "animate": {"wan-vace": "i2v", "ltx": "i2v"},
    "generate": {"wan-t2v": "t2v", "wan-vace": "t2v", "ltx": "t2v"},
    "reframe": {"wan-t2v": "v2v", "wan-vace": "control", "ltx": "v2v"},
    "paths": {"wan-vace": "control"},
}
"""The kinds each operation runs on (animate needs a first-frame input, paths a control video) and their purpose."""
NATIVE = {"wan": ((832, 480), 81), "ltx": ((768, 512), 121)}  # the published checkpoints' training size and window
TINY = ((32, 32), 9)
GUIDANCE = {"wan": 5.0, "ltx": 3.0}  # the diffusers pipelines' defaults
PROMPT = "warm golden hour light on the street, cinematic film grain"
LTX_CONDITION_STRENGTH = 0.5  # the video condition's weight at frame 0: the same tokens are denoised at any value
BANNER = "random weights: timing only, the pictures are noise"

log = logging.getLogger("bench_gen")


@dataclass(frozen=True)
class Setting:
    """One call's shape: pixels (w, h), frames, steps asked for, and latent tokens per transformer pass."""

    label: str  # "full" | "draft" | "warm-up"
    width: int
    height: int
    frames: int
    steps: int
    tokens: int


@dataclass(frozen=True)
class Plan:
    """What one kind will run: the pipeline classes, parameter counts from the configs, and its settings."""

    kind: str
    family: str
    purpose: str
    checkpoint_class: str
    pipeline_class: str
    params: dict[str, int]  # per component, from the configs on the meta device
    spatial_multiple: int
    temporal_multiple: int
    full: Setting
    draft: Setting
    warmup: Setting


# --- plan (no allocation) ----------------------------------------------------------------------------------------


def meta_pipeline(kind: str, size: str) -> Any:
    """The `kind` pipeline built from `component_configs` on the meta device: shapes and counts, no memory."""
    import torch

    # The one place that maps a kind to its classes; private, but copying it here would let the two drift apart.
    from dreamplate.gen.random_models import _instantiate

    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16 if size == "real" else torch.float32)
    try:
        with torch.device("meta"):
            return _instantiate(kind, component_configs(kind, size), seed=0)
    finally:
        torch.set_default_dtype(previous)


def _compression(pipe: Any, family: str) -> tuple[int, int, int]:
    """(VAE spatial ratio x transformer patch, VAE temporal ratio, pixel multiple the pipeline accepts)."""
    patch = pipe.transformer.config.patch_size
    if family == "wan":
        spatial, temporal = pipe.vae_scale_factor_spatial * int(patch[1]), pipe.vae_scale_factor_temporal
        return spatial, temporal, spatial
    spatial = pipe.vae_spatial_compression_ratio * int(patch)
    # LTXConditionPipeline checks height and width % 32 whatever the VAE's ratio is (as models.resolve_model says).
    return spatial, pipe.vae_temporal_compression_ratio, max(32, spatial)


def purpose_of(kind: str, op: str) -> str | None:
    """The purpose `op` loads `kind` for, or None when `kind` cannot serve it (LTX and Wan T2V draw no paths)."""
    return PURPOSE[kind] if op == "relight" else OP_PURPOSE[op].get(kind)


def make_plan(
    kind: str, size: str, resolution: tuple[int, int] | None, frames: int | None, steps: int, op: str = "relight"
) -> Plan:
    """The full, draft and warm-up settings of `kind`, checked against what its pipeline accepts."""
    family = kind.split("-")[0]
    pipe = meta_pipeline(kind, size)
    patch_px, temporal, multiple = _compression(pipe, family)
    (width, height), window = NATIVE[family] if size == "real" else TINY
    width, height = resolution or (width, height)
    frames = frames or window
    if width % multiple or height % multiple:
        raise SystemExit(f"--resolution {width}x{height}: {kind} needs multiples of {multiple} pixels")
    rope = getattr(pipe.transformer.config, "rope_max_seq_len", None)  # Wan: rotary table length, in patches
    if rope and max(width // patch_px, height // patch_px, (frames - 1) // temporal + 1) > rope:
        raise SystemExit(
            f"--resolution {width}x{height} / --frames {frames}: {size} {kind} covers {rope} patches a side"
        )
    if (frames - 1) % temporal:
        raise SystemExit(f"--frames {frames}: {kind} needs k * {temporal} + 1 frames (e.g. {window})")
    if steps < 1:
        raise SystemExit(f"--steps {steps}: needs at least 1")

    def setting(label: str, w: int, h: int, f: int, s: int) -> Setting:
        tokens = ((f - 1) // temporal + 1) * (h // patch_px) * (w // patch_px)
        return Setting(label, w, h, f, s, tokens)

    def half(px: int) -> int:  # half a side, down to the pipeline's multiple, never below one multiple
        return max(multiple, px // 2 // multiple * multiple)

    params = {
        name: sum(p.numel() for p in module.parameters())
        for name, module in pipe.components.items()
        if hasattr(module, "parameters")
    }
    return Plan(
        kind=kind,
        family=family,
        purpose=purpose_of(kind, op) or "",
        checkpoint_class=type(pipe).__name__,
        pipeline_class=PIPELINE_FOR[(family, type(pipe).__name__)][purpose_of(kind, op) or ""],
        params=params,
        spatial_multiple=multiple,
        temporal_multiple=temporal,
        full=setting("full", width, height, frames, steps),
        draft=setting("draft", half(width), half(height), frames, max(1, steps // 4)),
        # The draft's steps, so a v2v strength below 1 still runs one; the fewest frames the pipeline takes.
        warmup=setting("warm-up", half(width), half(height), temporal + 1, max(1, steps // 4)),
    )


def print_plan(plans: list[Plan], args: argparse.Namespace) -> None:
    """The dry run: what would be built, loaded and timed, with parameter counts and weight sizes."""
    print(f"bench_gen dry run, size {args.size}: configs instantiated on the meta device, nothing allocated or built")
    print(f"{BANNER}; models dir {args.models_dir}")
    print(f"device here: {describe_device(args.device)}; on CUDA: bfloat16, Wan VAE float32; offload {args.offload}")
    if "onnx" in args.runtime:
        print("runtimes: torch eager and ONNX Runtime (export fp32 on the CPU provider; fp16 on CUDA, one row each for "
              "TensorRT and CUDA where installed)")  # fmt: skip
    print(f"{'kind':<9} {'checkpoint -> pipeline (purpose)':<52} {'transformer':>11} {'text enc':>9} {'vae':>7}"
          f" {'total':>8} {'GiB bf16':>9} {'CUDA GiB':>9}  built")  # fmt: skip
    for plan in plans:
        p = plan.params
        total = sum(p.values())
        # On CUDA the Wan VAE stays float32 (pipelines._load); everything else is bf16, as written to disk.
        cuda_bytes = 2 * total + (2 * p.get("vae", 0) if plan.family == "wan" else 0)
        dest = model_dir(args.models_dir, plan.kind, args.size)
        route = f"{plan.checkpoint_class} -> {plan.pipeline_class} ({plan.purpose})"
        print(
            f"{plan.kind:<9} {route:<52} {_count(p.get('transformer', 0)):>11} {_count(p.get('text_encoder', 0)):>9}"
            f" {_count(p.get('vae', 0)):>7} {_count(total):>8} {2 * total / 2**30:9.2f} {cuda_bytes / 2**30:9.2f}"
            f"  {'yes' if is_built(dest, plan.kind, args.size) else 'no'}"
        )
        for s in (plan.full, plan.draft, plan.warmup):
            steps = f"{s.steps} step{'s' if s.steps != 1 else ''}"
            print(f"    {s.label:<8} {s.width}x{s.height}, {s.frames} frames, {steps}, {s.tokens} tokens/pass")
        ratio = plan.full.tokens / plan.draft.tokens
        print(f"    full/draft: {ratio:.1f}x tokens, {plan.full.steps / plan.draft.steps:.1f}x steps")
    disk = sum(2 * sum(plan.params.values()) for plan in plans) / 2**30
    print(f"building every kind listed writes about {disk:.1f} GiB (bf16 safetensors) under {args.models_dir}")


# --- models on disk ----------------------------------------------------------------------------------------------


def default_models_dir() -> Path:
    """Where random models are built once and reused: `random/` in the first local models folder."""
    return model_dirs()[0] / "random"


def model_dir(models_dir: Path, kind: str, size: str) -> Path:
    """The directory of one random model."""
    return models_dir / f"{kind}-{size}"


def is_built(dest: Path, kind: str, size: str) -> bool:
    """Whether `dest` holds a finished random build of `kind` at `size` (the marker is written last)."""
    try:
        marker = json.loads((dest / RANDOM_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("kind") == kind and marker.get("size") == size


def ensure_model(models_dir: Path, kind: str, size: str) -> tuple[Path, float]:
    """The random model's directory, built first if missing (into a temp name, renamed); (path, build seconds)."""
    dest = model_dir(models_dir, kind, size)
    if is_built(dest, kind, size):
        return dest, 0.0
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    print(f"building random {size} {kind} model in {dest} (once; reused by later runs)", flush=True)
    start = time.perf_counter()
    build_random_model(kind.split("-")[0], kind, partial, size=size, seed=0)
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return dest, time.perf_counter() - start


# --- measuring ---------------------------------------------------------------------------------------------------


class StepClock:
    """Timestamps of one call's denoising: the first transformer pass starts it, each step-end callback ends a step.

    On CUDA each mark synchronises first, so a step is charged for its own kernels.
    """

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.start: float | None = None
        self.ends: list[float] = []

    def now(self) -> float:
        """perf_counter, after the GPU has finished what was queued."""
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def before_transformer(self, _module: Any, _args: Any) -> None:
        if self.start is None:
            self.start = self.now()

    def on_step_end(self, _pipe: Any, _step: int, _timestep: Any, _tensors: dict[str, Any]) -> dict[str, Any]:
        self.ends.append(self.now())
        return {}


class VramSampler:
    """The device's used memory (total - free, all allocators: torch's and ONNX Runtime's) sampled on a thread."""

    def __init__(self, period: float = 0.005) -> None:
        self.period, self.peak = period, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import torch

        while not self._stop.is_set():
            free, total = torch.cuda.mem_get_info()
            self.peak = max(self.peak, total - free)
            self._stop.wait(self.period)

    def __enter__(self) -> VramSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def reset_peak(cuda: bool) -> bool:
    """Reset the peak-memory counter: CUDA allocator stats, or the process's peak RSS (Linux clear_refs)."""
    import torch

    gc.collect()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        return True
    try:
        Path("/proc/self/clear_refs").write_text("5")  # "5" resets VmHWM, the peak RSS (Linux 4.0+)
    except OSError:
        return False
    return True


def read_peak(cuda: bool) -> int:
    """Peak bytes since `reset_peak`: torch.cuda.max_memory_allocated, else peak RSS (VmHWM, else ru_maxrss)."""
    import torch

    if cuda:
        return int(torch.cuda.max_memory_allocated())
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def call_inputs(kind: str, setting: Setting, strength: float, guidance: float, op: str = "relight") -> dict[str, Any]:
    """The keyword arguments of one pipeline call for `kind` at `setting` as `op` makes it: a noise plate of `frames`
    frames (relight, reframe, paths), its first frame as the still (animate), or nothing but the prompt (generate)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    shape = (setting.height, setting.width, 3)
    video = [Image.fromarray((rng.random(shape) * 255).astype(np.uint8)) for _ in range(setting.frames)]
    common: dict[str, Any] = {
        "prompt": PROMPT,
        "negative_prompt": "",
        "num_inference_steps": setting.steps,
        "guidance_scale": guidance,
        "height": setting.height,
        "width": setting.width,
        "generator": make_generator(0),
        "output_type": "np",
    }
    if op == "generate":
        return {"num_frames": setting.frames, **common}
    if op in ("animate", "reframe", "paths") and kind == "wan-vace":
        size = (setting.width, setting.height)
        keep, make = Image.new("L", size, 0), Image.new("L", size, 255)
        if op == "animate":  # the still as control frame 0 (kept), the rest made
            video, mask = [video[0]] * setting.frames, [keep] + [make] * (setting.frames - 1)
        elif op == "paths":  # the layout video: frame 0 kept, the rest made following it
            mask = [keep] + [make] * (setting.frames - 1)
        else:  # reframe: a new band (the top and bottom quarters) outpainted, grey in the control video
            band = np.zeros((setting.height, setting.width), np.uint8)
            band[: setting.height // 4], band[-(setting.height // 4) :] = 255, 255
            mask = [Image.fromarray(band)] * setting.frames
            video = [Image.fromarray(np.where(band[..., None] > 0, np.uint8(128), np.asarray(v))) for v in video]
        return {"video": video, "mask": mask, "num_frames": setting.frames, **common}
    if op == "animate":  # LTX: an image condition at frame 0
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        still = LTXVideoCondition(image=video[0], frame_index=0, strength=1.0)
        return {"conditions": [still], "num_frames": setting.frames, **common}
    if kind == "wan-t2v":
        return {"video": video, "strength": strength, **common}
    if kind == "wan-vace":
        mask = [Image.new("L", (setting.width, setting.height), 255)] * setting.frames  # white: follow the control
        return {"video": video, "mask": mask, "num_frames": setting.frames, **common}
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    condition = LTXVideoCondition(video=video, frame_index=0, strength=LTX_CONDITION_STRENGTH)
    return {"conditions": [condition], "num_frames": setting.frames, "denoise_strength": strength, **common}


def timed_call(pipe: Any, kwargs: dict[str, Any], frames: int, cuda: bool) -> dict[str, Any]:
    """Run one call; seconds for the call, per denoising step (median), denoising and the rest, and peak bytes."""
    clock = StepClock(cuda)
    handle = pipe.transformer.register_forward_pre_hook(clock.before_transformer)
    reset_ok = reset_peak(cuda)
    sampler = VramSampler() if cuda else contextlib.nullcontext()
    try:
        with sampler:
            start = clock.now()
            out = pipe(callback_on_step_end=clock.on_step_end, **kwargs)
            seconds = clock.now() - start
    finally:
        handle.remove()
    got = tuple(out.frames.shape)
    if got[:2] != (1, frames):
        raise RuntimeError(f"{type(pipe).__name__}: expected {frames} frames out, got shape {got}")
    marks = [clock.start or start, *clock.ends]
    steps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    denoise = marks[-1] - marks[0]
    return {
        "call_s": seconds,
        "steps_run": len(steps),
        "step_s": statistics.median(steps) if steps else float("nan"),
        "denoise_s": denoise,
        "other_s": seconds - denoise,  # prompt encoding, VAE encode of the plate, VAE decode
        "frame_s": seconds / frames,
        "peak_bytes": sampler.peak if cuda else read_peak(cuda),  # type: ignore[union-attr]
        "peak_since_reset": reset_ok,
        "output_shape": got,
    }


def best_of(pipe: Any, kind: str, setting: Setting, args: argparse.Namespace, cuda: bool) -> dict[str, Any]:
    """The fastest of `--repeats` calls at `setting` (its peak memory is the largest seen)."""
    guidance = args.guidance if args.guidance is not None else GUIDANCE[kind.split("-")[0]]
    runs = [
        timed_call(pipe, call_inputs(kind, setting, args.strength, guidance, args.op), setting.frames, cuda)
        for _ in range(args.repeats)
    ]
    best = dict(min(runs, key=lambda r: r["call_s"]))
    best["peak_bytes"] = max(r["peak_bytes"] for r in runs)
    return {**asdict(setting), "guidance": guidance, **best}


def measure(plan: Plan, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Build or reuse `plan.kind`'s model, then one row per runtime (and ONNX provider): load, warm up, full, draft."""
    path, build_s = ensure_model(args.models_dir, plan.kind, args.size)
    start = time.perf_counter()
    info = resolve_model(path)  # hashes the weights the first time (cached by size and mtime)
    resolve_s = time.perf_counter() - start
    if (info.spatial_multiple, info.temporal_multiple) != (plan.spatial_multiple, plan.temporal_multiple):
        raise RuntimeError(f"{path}: multiples {info.spatial_multiple}/{info.temporal_multiple} differ from the plan")
    rows = []
    for runtime in args.runtime:
        if runtime == "torch":
            rows.append(guarded(plan, "torch", lambda: measure_runtime(plan, args, info, "torch", None, None)))
            continue
        try:
            exported, export_s = onnx_export(info, args)
            providers = onnx_providers(args)
        except (DreamplateError, ImportError) as exc:
            rows.append({"kind": plan.kind, "purpose": plan.purpose, "label": "onnx", "error": str(exc)})
            continue
        for provider in providers:
            label = f"onnx {exported.precision} {provider.removesuffix('ExecutionProvider')}"
            row = guarded(plan, label, lambda p=provider, e=exported: measure_runtime(plan, args, info, "onnx", p, e))
            rows.append(row | {"export_s": export_s})
    for row in rows:
        row |= {"model_dir": str(path), "build_s": build_s, "resolve_s": resolve_s}
    return rows


def guarded(plan: Plan, label: str, measure_row: Any) -> dict[str, Any]:
    """One row's figures, or its error: one runtime out of memory must not lose the other rows' figures."""
    import torch

    try:
        return measure_row()
    except torch.OutOfMemoryError as exc:
        error = f"out of memory ({str(exc).strip().splitlines()[0]}); try --offload model, or a smaller --resolution"
    except DreamplateError as exc:
        error = str(exc)
    release_models("bench_gen: row failed")
    print(f"{plan.kind} {label}: failed: {error}", flush=True)
    return {"kind": plan.kind, "purpose": plan.purpose, "label": label, "runtime": label.split()[0], "error": error}


def onnx_export(info: Any, args: argparse.Namespace) -> tuple[Any, float]:
    """The model's cached export at this device's precision (fp16 CUDA, fp32 CPU), made once if missing."""
    from dreamplate.gen.loader import onnx_precision
    from dreamplate.gen.onnx_export import export_model, find_export
    from dreamplate.gen.pipelines import select_device

    precision = onnx_precision(select_device(args.device)[0])
    exported = find_export(info, precision)
    if exported is not None:
        return exported, 0.0
    print(f"exporting {info.path.name} to ONNX ({precision}, once; reused by later runs)", flush=True)
    start = time.perf_counter()
    exported = export_model(info, precision)
    return exported, time.perf_counter() - start


def onnx_providers(args: argparse.Namespace) -> list[str]:
    """The providers to time: each GPU provider installed on CUDA (TensorRT, CUDA), else the CPU provider."""
    import onnxruntime as ort

    from dreamplate.gen.pipelines import select_device

    if not select_device(args.device)[0].startswith("cuda"):
        return ["CPUExecutionProvider"]
    found = [p for p in GPU_PROVIDERS if p in ort.get_available_providers()]
    if not found:
        log.warning("onnxruntime %s has no GPU provider here: timing the CPU provider", ort.__version__)
    return found or ["CPUExecutionProvider"]


def measure_runtime(
    plan: Plan, args: argparse.Namespace, info: Any, runtime: str, provider: str | None, exported: Any
) -> dict[str, Any]:
    """Load `plan`'s pipeline on `runtime` (ONNX: the torch pipeline less transformer and VAE, plus the sessions on
    `provider`), warm up, time full and draft; the figures as a dict."""
    import torch

    from dreamplate.gen.pipelines import select_device

    device, dtype = select_device(args.device)
    cuda = device.startswith("cuda")
    release_models("bench_gen: next row")  # the previous row must not hold memory or sway "auto" offload
    reset_peak(cuda)
    start = time.perf_counter()
    if runtime == "torch":
        pipe = load_pipeline(info, plan.purpose, device=args.device, offload=args.offload)
    else:
        from dreamplate.gen.onnx_components import onnx_pipeline

        base = load_pipeline(info, plan.purpose, args.device, args.offload, without=("transformer", "vae"))
        pipe = onnx_pipeline(base, exported, providers=(provider,))
        if pipe.transformer.provider != provider:
            raise RuntimeError(f"asked for {provider}, the session runs on {pipe.transformer.provider}")
    if cuda:
        torch.cuda.synchronize()
    load_s = time.perf_counter() - start
    load_peak = read_peak(cuda)
    offload = args.offload if cuda else "none (cpu)"  # load_pipeline offloads only on CUDA
    if cuda and offload == "auto" and runtime == "torch":  # model offload leaves the transformer on the CPU
        offload = "model" if next(pipe.transformer.parameters()).device.type == "cpu" else "none"
    best_of(pipe, plan.kind, plan.warmup, argparse.Namespace(**{**vars(args), "repeats": 1}), cuda)
    full = best_of(pipe, plan.kind, plan.full, args, cuda)
    draft = best_of(pipe, plan.kind, plan.draft, args, cuda)
    del pipe
    release_models("bench_gen: row done")
    if cuda:
        torch.cuda.empty_cache()
    if runtime == "torch":
        label = f"torch {str(dtype).removeprefix('torch.')}"
        label += " (VAE float32)" if cuda and plan.family == "wan" else ""
    else:
        label = f"onnx {exported.precision} {provider.removesuffix('ExecutionProvider')}"
    return {
        "kind": plan.kind,
        "purpose": plan.purpose,
        "pipeline": plan.pipeline_class,
        "runtime": runtime,
        "provider": provider,
        "label": label,
        "export": str(exported.path) if exported is not None else None,
        "weights_bytes": info.size_bytes,
        "params": plan.params,
        "device": device,
        "dtype": str(dtype).removeprefix("torch.") + (" (VAE float32)" if cuda and plan.family == "wan" else ""),
        "offload": offload,
        "load_s": load_s,
        "load_peak_bytes": load_peak,
        "full": full,
        "draft": draft,
    }


# --- report ------------------------------------------------------------------------------------------------------


def _count(n: float) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.1f}k"


def _gib(n: float) -> str:
    return f"{n / 2**30:7.2f} GiB" if n >= 2**30 else f"{n / 2**20:7.0f} MiB"


def print_table(results: list[dict[str, Any]], header: str, cuda: bool) -> None:
    """One table: per kind and runtime a full row, a draft row and their ratio; then torch / ONNX Runtime ratios."""
    peak = "peak VRAM" if cuda else "peak RSS"
    print(header)
    print(f"{'kind':<9} {'runtime':<22} {'setting':<10} {'size':>9} {'frames':>6} {'steps':>5} {'tokens':>7}"
          f" {'load s':>7} {'s/step':>8} {'s/frame':>8} {'call s':>8} {'other s':>8} {peak:>11}")  # fmt: skip
    for r in results:
        if "error" in r:
            print(f"{r['kind']:<9} {r.get('label', ''):<22} failed: {r['error']}")
            continue
        for key in ("full", "draft"):
            s = r[key]
            lead = f"{r['kind']:<9} {r['label']:<22}" if key == "full" else " " * 32
            load = f"{r['load_s']:7.2f}" if key == "full" else " " * 7
            steps = f"{s['steps_run']:>5}"
            print(f"{lead} {key:<10} {s['width']:>4}x{s['height']:<4} {s['frames']:>6} {steps} {s['tokens']:>7}"
                  f" {load} {s['step_s']:8.3f} {s['frame_s']:8.3f} {s['call_s']:8.2f} {s['other_s']:8.2f}"
                  f" {_gib(s['peak_bytes']):>11}")  # fmt: skip
        f, d = r["full"], r["draft"]

        def ratio(key: str, width: int, f: dict = f, d: dict = d) -> str:
            return f"{f[key] / d[key]:{width - 1}.1f}x" if d[key] else " " * (width - 1) + "-"

        print(f"{'':<32} {'full/draft':<10} {'':>9} {'':>6} {ratio('steps_run', 5)} {ratio('tokens', 7)} {'':>7}"
              f" {ratio('step_s', 8)} {ratio('frame_s', 8)} {ratio('call_s', 8)} {ratio('other_s', 8)}"
              f" {ratio('peak_bytes', 11)}")  # fmt: skip
    print_speedups(results)
    resolved = ", ".join(f"{r['kind']} {r['label']} {r['offload']}" for r in results if "offload" in r)
    print(f"offload as loaded: {resolved}")
    exports = {r["export"]: r.get("export_s", 0.0) for r in results if r.get("export")}
    for path, seconds in exports.items():
        print(f"ONNX export: {path} ({f'made in {seconds:.1f} s' if seconds else 'cached'}; not in the times above)")
    print(
        "load s: load_pipeline from a local dir (weights hash not included; ONNX: sessions opened, TensorRT engines "
        "built if not cached); s/step: median per denoising step (both guidance passes); other s: prompt encoding, "
        "VAE encode and decode; call s: the whole job (one pipeline call)"
    )


def print_speedups(results: list[dict[str, Any]]) -> None:
    """torch eager / ONNX Runtime per denoising step and per whole call, for each kind, provider and setting."""
    torch_rows = {r["kind"]: r for r in results if r.get("runtime") == "torch" and "error" not in r}
    pairs = [(torch_rows[r["kind"]], r) for r in results if r.get("runtime") == "onnx" and r["kind"] in torch_rows]
    if not pairs:
        return
    print()
    print(f"{'kind':<9} {'torch / onnx':<22} {'setting':<10} {'s/step torch':>12} {'s/step onnx':>12} {'step x':>7}"
          f" {'call s torch':>12} {'call s onnx':>12} {'call x':>7}")  # fmt: skip
    for t, o in pairs:
        if "error" in o:
            continue
        for key in ("full", "draft"):
            a, b = t[key], o[key]
            print(f"{o['kind']:<9} {o['label']:<22} {key:<10} {a['step_s']:12.4f} {b['step_s']:12.4f}"
                  f" {a['step_s'] / b['step_s']:6.2f}x {a['call_s']:12.3f} {b['call_s']:12.3f}"
                  f" {a['call_s'] / b['call_s']:6.2f}x")  # fmt: skip
    print("x: torch eager time / ONNX Runtime time (above 1: ONNX Runtime is faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("tiny", "real"), help="model size (default: real on CUDA, tiny on CPU)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--frames", type=int, help="frames per call (default: Wan 81, LTX 121; tiny 9)")
    parser.add_argument("--resolution", help="WxH (default: Wan 832x480, LTX 768x512; tiny 32x32)")
    parser.add_argument("--steps", type=int, help="denoising steps of the full setting (default: 30 real, 2 tiny)")
    parser.add_argument("--strength", type=float, default=1.0, help="Wan v2v strength / LTX denoise_strength")
    parser.add_argument("--guidance", type=float, help="guidance scale (default: the pipelines', Wan 5.0, LTX 3.0)")
    parser.add_argument("--repeats", type=int, help="calls per setting, best kept (default: 1 real, 3 tiny)")
    parser.add_argument(
        "--models-dir",
        type=Path,
        help="where models are built once and reused (default: random/ in the first "
        "$DREAMPLATE_MODELS folder, else ~/.cache/dreamplate/models/random)",
    )
    parser.add_argument("--offload", choices=OFFLOAD_MODES, default="auto")
    parser.add_argument("--op", choices=OPS, default="relight", help="the operation whose model call is timed")
    parser.add_argument(
        "--runtime", nargs="+", choices=RUNTIMES, default=list(RUNTIMES), help="runtimes to time (default: both)"
    )
    parser.add_argument("--device", help="cuda, cuda:1 or cpu (default: CUDA when available)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to this JSON file")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and parameter counts, build nothing")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the models and stop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

    import diffusers
    import torch
    import transformers

    # Loading bars and the schedulers' per-call notices would bury the table; errors still show.
    for lib in (diffusers, transformers):
        lib.utils.logging.set_verbosity_error()
        lib.utils.logging.disable_progress_bar()
    cuda_here = torch.cuda.is_available() and (args.device or "cuda").startswith("cuda")
    args.size = args.size or ("real" if cuda_here else "tiny")
    real = args.size == "real"
    args.steps = args.steps or (30 if real else 2)
    args.repeats = args.repeats or (1 if real else 3)
    args.models_dir = (args.models_dir or default_models_dir()).expanduser().resolve()
    resolution = None
    if args.resolution:
        try:
            w, h = (int(v) for v in args.resolution.lower().split("x"))
        except ValueError:
            parser.error(f"--resolution: expected WxH such as 832x480, got {args.resolution!r}")
        resolution = (w, h)
    if not 0 < args.strength <= 1:
        parser.error(f"--strength: expected a value in (0, 1], got {args.strength}")
    kinds = [kind for kind in args.kinds if purpose_of(kind, args.op) is not None]
    for kind in sorted(set(args.kinds) - set(kinds)):
        print(f"{kind}: skipped, it cannot serve {args.op}")
    plans = [make_plan(kind, args.size, resolution, args.frames, args.steps, args.op) for kind in kinds]
    for plan in plans:  # Wan v2v runs int(steps * strength) steps; zero would be an empty call
        if plan.kind == "wan-t2v" and int(plan.draft.steps * args.strength) < 1:
            parser.error(f"--strength {args.strength}: the draft's {plan.draft.steps} steps would run none")
    try:
        run(plans, args)
    except DreamplateError as exc:
        raise SystemExit(f"ERROR: {exc}") from None


def run(plans: list[Plan], args: argparse.Namespace) -> None:
    """Dry run, build only, or measure every plan, printing the table and writing the JSON after each kind."""
    import diffusers
    import torch

    if args.dry_run:
        print_plan(plans, args)
        return
    if args.build_only:
        for plan in plans:
            path, seconds = ensure_model(args.models_dir, plan.kind, args.size)
            done = f"built in {seconds:.0f} s" if seconds else "already built"
            print(f"{plan.kind}: {path} ({done})")
        return
    device_line = describe_device(args.device)
    cuda = device_line.startswith("cuda")
    if args.size == "real" and not cuda:
        log.warning("real-size models on the CPU: expect hours per kind and tens of GB of RAM")
    header = (
        f"bench_gen {args.op}, {date.today()}, {BANNER}\n"
        f"{args.size} models in {args.models_dir}; device {device_line}; "
        f"offload {args.offload}; torch {torch.__version__}, diffusers {diffusers.__version__}; "
        f"strength {args.strength}; best of {args.repeats}; draft = half width and height, steps // 4; "
        f"runtimes {', '.join(args.runtime)}{onnx_version()}"
    )
    results: list[dict[str, Any]] = []
    for plan in plans:
        print(f"{plan.kind}: {plan.pipeline_class} ({plan.purpose}), full {plan.full.width}x{plan.full.height} "
              f"{plan.full.frames} frames {plan.full.steps} steps ...", flush=True)  # fmt: skip
        try:
            results.extend(measure(plan, args))
        except torch.OutOfMemoryError as exc:
            # One kind out of memory must not lose the others' figures; the fix goes with the message.
            first = str(exc).strip().splitlines()[0]
            fix = "try --offload model, or a smaller --resolution / --frames"
            results.append({"kind": plan.kind, "purpose": plan.purpose, "error": f"out of memory ({first}); {fix}"})
            release_models("bench_gen: out of memory")
        except DreamplateError as exc:
            results.append({"kind": plan.kind, "purpose": plan.purpose, "error": str(exc)})
        if "error" in results[-1]:
            print(f"{plan.kind}: failed: {results[-1]['error']}", flush=True)
        if args.json:  # after every kind: a run cut short by a time limit keeps what it measured
            write_json(args.json, results, args, device_line)
    print()
    print_table(results, header, cuda)
    if args.json:
        print(f"figures written to {args.json}")


def onnx_version() -> str:
    """ ", onnxruntime X" when it is importable, else a note that ONNX rows will fail."""
    try:
        import onnxruntime
    except ImportError:
        return " (onnxruntime not installed)"
    return f"; onnxruntime {onnxruntime.__version__}"


def write_json(path: Path, results: list[dict[str, Any]], args: argparse.Namespace, device_line: str) -> None:
    """The figures and the settings that produced them, schema `dreamplate.bench_gen/2` (a row per runtime)."""
    import diffusers
    import torch

    report = {
        "schema": "dreamplate.bench_gen/2",
        "date": str(date.today()),
        "note": BANNER,
        "size": args.size,
        "device": device_line,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "threads": torch.get_num_threads(),
        "host_cpus": os.cpu_count(),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": results,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(path)


if __name__ == "__main__":
    main()
