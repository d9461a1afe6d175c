"""One call of a diffusers video pipeline: its arguments, per-step progress, cooperative cancel, out-of-memory.

Every generative op calls its pipeline through `call_pipeline`, so a cancel between denoising steps and an
allocation failure (torch's or ONNX Runtime's) end the same way whatever the op: `Cancelled`, or a `ModelError`
that says what to change. torch, PIL and diffusers are imported inside the functions that need them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from dreamplate.errors import Cancelled, JobError, ModelError
from dreamplate.gen.models import ModelInfo

log = logging.getLogger(__name__)

StepCallback = Callable[[int, int], None]
"""(step done, steps total) inside one pipeline call."""

SEQUENCE_LENGTH = {"wan": 512, "ltx": 128}
"""Text tokens the families were trained with; capped by the tokenizer's own limit."""
OOM_FIX = "try --draft, a smaller --size, a shorter --window, or --offload model / sequential"
OOM_MARKERS = ("out of memory", "failed to allocate memory", "can't allocate memory", "cudaerrormemoryallocation")
"""Text of allocation failures: torch (CUDA, CPU allocator) and ONNX Runtime (BFC arena, CUDA provider)."""


def sequence_length(pipe: Any, family: str) -> int:
    """max_sequence_length for the text encoder: the family's trained length, capped by the tokenizer's limit."""
    limit = SEQUENCE_LENGTH[family]
    tokenizer = getattr(pipe, "tokenizer", None)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < limit:
        limit = tok_max
    return limit


def to_pil(frames: np.ndarray) -> list[Any]:
    """Model-space frames (T, h, w, 3) in [0, 1] -> 8-bit PIL images, as the pipelines' processors expect."""
    from PIL import Image

    codes = np.rint(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
    return [Image.fromarray(frame) for frame in codes]


def out_of_memory(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is an allocation failure: torch's or ONNX Runtime's (CPU arena or CUDA)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).lower()
        if any(marker in text for marker in OOM_MARKERS):
            return True
        seen = seen.__cause__
    return False


def denoising_steps(kwargs: dict[str, Any]) -> int:
    """The steps a call runs: an img2img `strength` (Wan video-to-video) runs only the last int(steps x strength)
    of `num_inference_steps`, as diffusers' `get_timesteps` does; the progress total counts those."""
    steps = int(kwargs.get("num_inference_steps", 0))
    strength = kwargs.get("strength")
    if strength is not None and kwargs.get("video") is not None:
        return min(int(steps * float(strength)), steps)
    return steps


def call_pipeline(
    pipe: Any,
    kwargs: dict[str, Any],
    what: str,
    cancelled: Callable[[], bool] | None = None,
    on_step: StepCallback | None = None,
) -> np.ndarray:
    """Run `pipe(**kwargs)` with per-step progress and cooperative cancel; frames (N, h, w, 3) float32 in [0, 1].

    A cancel sets the pipeline's interrupt flag between denoising steps and raises Cancelled once the call returns.
    Out-of-memory becomes a ModelError that says what to change; nothing has been written by then.
    """
    import torch

    steps = denoising_steps(kwargs)
    state = {"cancel": False}

    def step_end(p: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        if on_step is not None:
            on_step(step + 1, steps)
        if cancelled is not None and cancelled():
            state["cancel"] = True
            p._interrupt = True  # diffusers' cooperative stop: remaining steps are skipped
        return {}

    started = time.perf_counter()
    try:
        with torch.inference_mode():
            out = pipe(**kwargs, output_type="np", callback_on_step_end=step_end)
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"{what}: out of memory on the device; {OOM_FIX}") from exc
    except Exception as exc:  # onnxruntime's errors are their own types (RuntimeException, Fail), not RuntimeError
        if out_of_memory(exc):
            raise ModelError(f"{what}: out of memory; {OOM_FIX}") from exc
        raise
    if state["cancel"]:
        raise Cancelled(f"{what}: cancelled between denoising steps")
    frames = np.asarray(out.frames, dtype=np.float32)[0]
    log.debug("%s: %d frames in %.2f s", what, len(frames), time.perf_counter() - started)
    return frames


def v2v_inputs(info: ModelInfo, frames: list[Any], strength: float, steps: int) -> dict[str, Any]:
    """Pipeline arguments for video-to-video at `strength`: Wan's img2img strength, or LTX's video condition.

    LTX-Video takes the plate as a video condition at frame 0 with condition strength 1 - strength (untuned).
    """
    if info.family == "wan":
        if int(steps * strength) < 1:
            raise JobError(f"--strength {strength:g} with {steps} steps leaves no denoising step; raise --steps")
        return {"video": frames, "strength": strength}
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    condition = LTXVideoCondition(video=frames, frame_index=0, strength=1.0 - strength)
    return {"conditions": [condition], "num_frames": len(frames)}
