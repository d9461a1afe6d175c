"""Load Wan / LTX-Video diffusers pipelines from local directories for one purpose, on the best device, kept warm.

Purposes and the diffusers class that serves each (see `PIPELINE_FOR`): "v2v" (relight/restyle: Wan
WanVideoToVideoPipeline built from a T2V checkpoint's components; LTX LTXConditionPipeline with a video condition),
"flf2v" (first/last frame: Wan WanImageToVideoPipeline with `last_image`; VACE with masks; LTX conditions at frame 0
and the last frame), "control" (WanVACEPipeline: control video + masks), "keyframes" (LTX conditions at any frame;
VACE with keyframes placed in the control video and masked), "i2v" (a shot starting on a still: Wan
image-to-video, VACE's first control frame, an LTX condition at frame 0) and "t2v" (from the prompt alone: WanPipeline,
VACE without a control video, LTX without conditions). torch and diffusers are imported inside functions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from dreamplate.errors import ModelError
from dreamplate.gen.models import ModelInfo
from dreamplate.runtime.model_cache import cached_model

log = logging.getLogger(__name__)

OFFLOAD_MODES = ("auto", "none", "model", "sequential")

# (family, checkpoint class) -> {purpose: diffusers class that serves it from the same components}
PIPELINE_FOR: dict[tuple[str, str], dict[str, str]] = {
    ("wan", "WanPipeline"): {"v2v": "WanVideoToVideoPipeline", "t2v": "WanPipeline"},
    ("wan", "WanVideoToVideoPipeline"): {"v2v": "WanVideoToVideoPipeline", "t2v": "WanPipeline"},
    ("wan", "WanImageToVideoPipeline"): {p: "WanImageToVideoPipeline" for p in ("flf2v", "i2v")},
    ("wan", "WanVACEPipeline"): {p: "WanVACEPipeline" for p in ("control", "flf2v", "keyframes", "i2v", "t2v")},
}
for _cls in ("LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"):
    PIPELINE_FOR[("ltx", _cls)] = {p: "LTXConditionPipeline" for p in ("v2v", "flf2v", "keyframes", "i2v", "t2v")}

_HEADROOM = 1.2
"""Free VRAM must exceed the weights' size by this factor to keep the whole pipeline on the GPU ("auto")."""


def pipeline_class_for(info: ModelInfo, purpose: str) -> str:
    """The diffusers class name that serves `purpose` with `info`'s components; ModelError saying what it can do."""
    served = PIPELINE_FOR.get((info.family, info.pipeline_class), {})
    if purpose not in served:
        label = info.name or str(info.path)
        can = ", ".join(sorted(served)) or "nothing dreamplate uses"
        what = f"model {label} ({info.family}, {info.pipeline_class})"
        raise ModelError(f"{what} cannot do {purpose!r}; it can do: {can}")
    return served[purpose]


def select_device(device: str | None = None) -> tuple[str, Any]:
    """(device, torch dtype): CUDA with bf16 (fp16 where bf16 is unsupported) when available, else CPU fp32."""
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ModelError(f"device {device}: CUDA is not available on this machine; use --device cpu")
        return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return device, torch.float32


def describe_device(device: str | None = None) -> str:
    """One line for logs: the device, its memory and the dtype pipelines will use there."""
    import torch

    device, dtype = select_device(device)
    dtype_name = str(dtype).removeprefix("torch.")
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        free, total = torch.cuda.mem_get_info(index)
        name = torch.cuda.get_device_name(index)
        return f"{device} {name} ({free / 2**30:.1f} of {total / 2**30:.1f} GiB free), {dtype_name}"
    return f"cpu ({torch.get_num_threads()} threads), {dtype_name}"


def make_generator(seed: int) -> Any:
    """A CPU torch.Generator seeded with `seed`: diffusers draws noise on the CPU then, so a seed means one result."""
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))


def load_pipeline(
    info: ModelInfo, purpose: str, device: str | None = None, offload: str = "auto", without: tuple[str, ...] = ()
) -> Any:
    """The diffusers pipeline serving `purpose` from `info`'s directory, loaded once and kept warm.

    `offload`: "auto" (CPU offload on CUDA when free VRAM is below the model's size x1.2), "none", "model"
    (enable_model_cpu_offload), "sequential" (enable_sequential_cpu_offload: slowest, least VRAM). VAE tiling and
    slicing are on where the VAE has them. `without`: components left unloaded (None), e.g. ("transformer", "vae")
    when ONNX Runtime runs those, so their torch weights never take memory. Raises ModelError for a purpose the model
    cannot serve.
    """
    class_name = pipeline_class_for(info, purpose)
    if offload not in OFFLOAD_MODES:
        raise ModelError(f"offload: expected one of {', '.join(OFFLOAD_MODES)}, got {offload!r}")
    device, dtype = select_device(device)
    without = tuple(sorted(without))
    key = (str(info.path), info.weights_sha256, purpose, device, str(dtype), offload) + ((without,) if without else ())
    return cached_model(key, lambda: _load(info, class_name, device, dtype, offload, without))


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """diffusers' and transformers' tqdm bars ("Loading pipeline components", "Loading weights") off while loading:
    they would break the CLI's own progress bar. The previous setting is restored afterwards."""
    from diffusers.utils import logging as diffusers_logging

    modules = [diffusers_logging]
    with contextlib.suppress(ImportError):
        from transformers.utils import logging as transformers_logging

        modules.append(transformers_logging)
    enabled = [m.is_progress_bar_enabled() for m in modules]
    for module in modules:
        module.disable_progress_bar()
    try:
        yield
    finally:
        for module, was in zip(modules, enabled, strict=True):
            if was:
                module.enable_progress_bar()


def _load(info: ModelInfo, class_name: str, device: str, dtype: Any, offload: str, without: tuple[str, ...]) -> Any:
    import diffusers
    import torch

    pipeline_cls = getattr(diffusers, class_name)
    from dreamplate.gen.load_plan import component_dtypes

    # Per-component dtypes (Wan's VAE in fp32 on the GPU, a big text encoder in bf16 on the CPU), memory checked.
    torch_dtype = component_dtypes(info, device, dtype, without)
    log.info("loading %s from %s for %s on %s", class_name, info.path, device, str(dtype).removeprefix("torch."))
    kwargs: dict[str, Any] = {"local_files_only": True, "use_safetensors": True, "dtype": torch_dtype}
    kwargs |= dict.fromkeys(without)
    try:
        with quiet_loading():
            pipe = pipeline_cls.from_pretrained(info.path, **kwargs)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{info.path}: cannot load as {class_name}: {first}") from exc
    pipe.set_progress_bar_config(disable=True)
    vae = getattr(pipe, "vae", None)
    for method in ("enable_tiling", "enable_slicing"):
        if vae is not None and hasattr(vae, method):
            getattr(vae, method)()
    if device.startswith("cuda"):
        mode = offload
        if mode == "auto":
            index = torch.device(device).index or 0
            free, _total = torch.cuda.mem_get_info(index)
            mode = "model" if free < info.size_bytes * _HEADROOM else "none"
            log.info("%.1f GiB VRAM free, %.1f GiB of weights: offload %s", free / 2**30, info.size_bytes / 2**30, mode)
        if mode == "model":
            pipe.enable_model_cpu_offload(device=device)
        elif mode == "sequential":
            pipe.enable_sequential_cpu_offload(device=device)
        else:
            pipe.to(device)
    else:
        pipe.to(device)
    return pipe
