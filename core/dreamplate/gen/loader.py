"""Which runtime runs a video model (torch or ONNX Runtime), and the pipeline loaded only when a frame needs it.

`LazyPipeline` is the one place the runtime is decided, so relight, sketch and keyframes all get the same choice;
a run whose frames are all finished never loads a model. torch, onnxruntime and the ONNX export modules are
imported inside the functions that use them.
"""

from __future__ import annotations

import logging
from typing import Any

from dreamplate.errors import ModelError
from dreamplate.gen.models import ModelInfo

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx")


def onnx_precision(device: str) -> str:
    """The export precision ONNX Runtime runs on `device`: fp16 on CUDA (TensorRT/CUDA kernels), fp32 on the CPU
    (the CPU provider lacks many fp16 kernels)."""
    return "fp16" if device.startswith("cuda") else "fp32"


def choose_runtime(info: ModelInfo, runtime: str, device: str) -> tuple[str, str]:
    """("torch" | "onnx", why) for `runtime` on the resolved `device`; nothing is loaded or exported here.

    `auto` takes ONNX Runtime only where it is importable and a valid export of this model at this device's precision
    is already cached, so an auto run never starts a long export; `onnx` needs onnxruntime (ModelError otherwise).
    """
    if runtime not in RUNTIMES:
        raise ModelError(f"runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "torch":
        return "torch", "asked for (--runtime torch)"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if runtime == "onnx":
            raise ModelError(
                "--runtime onnx: onnxruntime is not installed; install it or use --runtime torch"
            ) from None
        return "torch", "onnxruntime is not installed"
    if runtime == "onnx":
        return "onnx", "asked for (--runtime onnx)"
    from dreamplate.gen.onnx_export import find_export

    precision = onnx_precision(device)
    exported = find_export(info, precision)
    if exported is None:
        name = info.name or str(info.path)
        return "torch", f"no cached {precision} ONNX export of {name} (make one: dreamplate models export {name})"
    return "onnx", f"cached {precision} ONNX export {exported.path}"


class LazyPipeline:
    """A pipeline loaded on first use, so a run whose frames are all finished never loads a model.

    The one place the runtime is decided (`runtime`: auto, torch or onnx, see `choose_runtime`), so relight, sketch
    and keyframes all get it; `label` names what ran the model for provenance once loaded.
    """

    def __init__(self, info: ModelInfo, purpose: str, device: str | None, offload: str, runtime: str = "auto") -> None:
        self.info, self.purpose, self.device, self.offload, self.runtime = info, purpose, device, offload, runtime
        self._pipe: Any = None
        self.label = ""

    def get(self) -> Any:
        if self._pipe is None:
            self._pipe, self.label = self._load()
        return self._pipe

    def _load(self) -> tuple[Any, str]:
        from dreamplate.gen.pipelines import load_pipeline, select_device

        device, dtype = select_device(self.device)
        chosen, why = choose_runtime(self.info, self.runtime, device)
        log.info("runtime: %s (%s)", "ONNX Runtime" if chosen == "onnx" else "torch", why)
        if chosen == "torch":
            import torch

            pipe = load_pipeline(self.info, self.purpose, device=self.device, offload=self.offload)
            return pipe, f"{device} {str(dtype).removeprefix('torch.')} (torch {torch.__version__})"
        from dreamplate.runtime.model_cache import cached_model

        exported = self._export(onnx_precision(device))
        key = ("onnx", str(self.info.path), self.info.weights_sha256, self.purpose, device, self.offload, exported.path)
        pipe = cached_model(key, lambda: self._onnx_pipeline(exported))
        return pipe, onnx_label(pipe, exported)

    def _export(self, precision: str) -> Any:
        from dreamplate.gen.onnx_export import export_dir, export_model, find_export

        exported = find_export(self.info, precision)
        if exported is None:
            log.info(
                "no %s ONNX export of %s yet: exporting it once to %s (minutes for a real model)",
                precision,
                self.info.name or self.info.path,
                export_dir(self.info, precision),
            )
            exported = export_model(self.info, precision)
        return exported

    def _onnx_pipeline(self, exported: Any) -> Any:
        from dreamplate.gen.onnx_components import onnx_pipeline
        from dreamplate.gen.pipelines import load_pipeline

        # The torch transformer and VAE are never loaded: ONNX Runtime runs them.
        base = load_pipeline(
            self.info, self.purpose, device=self.device, offload=self.offload, without=("transformer", "vae")
        )
        return onnx_pipeline(base, exported)


def onnx_label(pipe: Any, exported: Any) -> str:
    """What ran the model, for provenance, device first as the torch label: the provider(s), the runtime's version,
    the precision and which export (weights hash / settings key)."""
    import onnxruntime

    providers = pipe.transformer.provider
    if pipe.vae.provider != providers:
        providers += f" (VAE {pipe.vae.provider})"
    key = f"{exported.path.parent.name}/{exported.path.name}"
    return f"{providers} (onnxruntime {onnxruntime.__version__}, {exported.precision} export {key})"
