"""ONNX Runtime stand-ins for a diffusers video pipeline's transformer and VAE, and the swap that installs them.

`onnx_pipeline(pipe, exported)` returns a new pipeline of the same class whose `transformer` and `vae` run the
graphs written by `dreamplate.gen.onnx_export`; scheduler, text encoders, latents preparation and callbacks stay
diffusers' own. The stand-ins take the arguments diffusers passes and return what it expects, and carry the
attributes the pipelines read (`config`, `dtype`, `device`, VAE compression ratios, latents mean/std,
`cache_context`). The pipeline given is not changed: `load_pipeline` keeps it warm for torch runs.

Providers TensorRT > CUDA > CPU, as `dreamplate.runtime.onnx.open_session` picks them. On CUDA the sessions run with
IO binding on torch CUDA tensors, so latents stay on the GPU between steps; that path only runs on a GPU machine.
TensorRT builds fp16 engines, cached beside the export (`<graph>.trt/`), with one dynamic-shape profile spanning the
draft (480x272) and full (832x480) resolutions. torch is imported at module import (the stand-ins are torch
modules); onnxruntime and diffusers inside functions.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from dreamplate.errors import ModelError
from dreamplate.gen.onnx_export import ExportedModel
from dreamplate.gen.rope import ltx_rope_tables, wan_rope_tables

log = logging.getLogger(__name__)

DRAFT_SIZE = (480, 272)
FULL_SIZE = (832, 480)
"""Pixel sizes (w, h) the TensorRT shape profile spans: dreamplate's draft and full renders."""
PROFILE_FRAMES = {"wan": 81, "ltx": 121}
"""Frames per call at full size (the families' windows); the draft profile uses 9."""
PROFILE_TEXT_LEN = {"wan": 512, "ltx": 128}
"""Prompt tokens the pipelines pad to (their `max_sequence_length` defaults)."""


# --- sessions ----------------------------------------------------------------------------------------------------


class _Graph:
    """One ONNX Runtime session: numpy feeds on CPU, IO binding on torch CUDA tensors on a GPU provider."""

    def __init__(self, exported: ExportedModel, name: str, providers: tuple[str, ...] | None, trt: dict[str, str]):
        from dreamplate.runtime.onnx import open_session

        path = exported.graphs[name]
        self.name = name
        self.inputs = exported.inputs(name)
        self.outputs = list(exported.manifest["graphs"][name]["outputs"])
        self.session, self.provider, _ = open_session(
            path, providers=providers, cache_dir=path.with_suffix(".trt"), trt_options=trt
        )
        self.on_gpu = self.provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider")

    def run(self, feeds: dict[str, torch.Tensor], device: torch.device) -> list[torch.Tensor]:
        """Run on float32 torch tensors; outputs come back as float32 tensors on `device`."""
        if self.on_gpu and device.type == "cuda":
            return self._run_bound(feeds, device)
        arrays = {k: np.ascontiguousarray(v.detach().to("cpu", torch.float32).numpy()) for k, v in feeds.items()}
        try:
            outs = self.session.run(self.outputs, arrays)
        except Exception as exc:  # onnxruntime raises its own unrelated types; the shapes are what helps
            shapes = {k: tuple(v.shape) for k, v in arrays.items()}
            raise ModelError(f"ONNX {self.name}: run failed for inputs {shapes}: {str(exc).splitlines()[0]}") from exc
        return [torch.from_numpy(o).to(device) for o in outs]

    def _run_bound(self, feeds: dict[str, torch.Tensor], device: torch.device) -> list[torch.Tensor]:
        """IO binding on CUDA: inputs and outputs stay in torch's GPU memory, no copy through the host.

        GPU machines only (the CPU build of onnxruntime has no CUDA provider): not exercised by the CPU tests.
        """
        binding = self.session.io_binding()
        index = device.index or 0
        kept = []
        for name, tensor in feeds.items():
            tensor = tensor.to(device=device, dtype=torch.float32).contiguous()
            kept.append(tensor)  # the binding holds a raw pointer: keep the tensor alive until the run ends
            binding.bind_input(name, "cuda", index, np.float32, tuple(tensor.shape), tensor.data_ptr())
        for name in self.outputs:
            binding.bind_output(name, "cuda", index)
        torch.cuda.current_stream(device).synchronize()  # the feeds were written on torch's stream
        self.session.run_with_iobinding(binding)
        outs = []
        for value in binding.get_outputs():
            outs.append(_ortvalue_to_torch(value, device))
        return outs


def _ortvalue_to_torch(value: Any, device: torch.device) -> torch.Tensor:
    """An OrtValue on CUDA as a torch tensor, through DLPack (no copy) where the runtime offers it."""
    with contextlib.suppress(AttributeError, RuntimeError):
        return torch.from_dlpack(value.to_dlpack())
    return torch.from_numpy(value.numpy()).to(device)


def _trt_profile(exported: ExportedModel, graph: str) -> dict[str, str]:
    """TensorRT shapes for the transformer: min batch 1 at the draft size, opt = max batch 2 (CFG) at the full size.

    VAE graphs get no explicit profile: TensorRT builds one from the shapes it first sees (cached per shape).
    """
    if graph != "transformer":
        return {}
    family, attrs = exported.family, exported.vae_attrs
    down = attrs.get("temperal_downsample", [False, True, True])
    spatial = int(attrs.get("spatial_compression_ratio") or 2 ** len(down))
    temporal = int(attrs.get("temporal_compression_ratio") or 2 ** sum(bool(d) for d in down))
    cfg = exported.manifest["transformer_config"]
    levels = {}
    for level, (w, h), frames, batch in (("min", DRAFT_SIZE, 9, 1), ("opt", FULL_SIZE, PROFILE_FRAMES[family], 2)):
        dims = _transformer_dims(family, cfg, batch, (frames - 1) // temporal + 1, h // spatial, w // spatial)
        levels[level] = ",".join(
            f"{name}:{'x'.join(str(d) for d in dims[name])}" for name in exported.inputs(graph) if name in dims
        )
    return {
        "trt_profile_min_shapes": levels["min"],
        "trt_profile_opt_shapes": levels["opt"],
        "trt_profile_max_shapes": levels["opt"],
    }


def _transformer_dims(family: str, cfg: dict[str, Any], batch: int, f: int, h: int, w: int) -> dict[str, list[int]]:
    """Input shapes of the transformer graph for latents B x C x f x h x w."""
    text = PROFILE_TEXT_LEN[family]
    if family == "wan":
        pt, ph, pw = cfg["patch_size"]
        tokens = (f // pt) * (h // ph) * (w // pw)
        dims = {
            "hidden_states": [batch, cfg["in_channels"], f, h, w],
            "timestep": [batch],
            "encoder_hidden_states": [batch, text, cfg["text_dim"]],
            "rope_cos": [1, tokens, 1, cfg["attention_head_dim"]],
            "rope_sin": [1, tokens, 1, cfg["attention_head_dim"]],
        }
        if cfg.get("vace_layers"):
            dims["control_hidden_states"] = [batch, cfg["vace_in_channels"], f, h, w]
            dims["control_hidden_states_scale"] = [len(cfg["vace_layers"])]
        return dims
    tokens = f * h * w
    inner = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    return {
        "hidden_states": [batch, tokens, cfg["in_channels"]],
        "encoder_hidden_states": [batch, text, cfg["caption_channels"]],
        "timestep": [batch, tokens],
        "encoder_attention_mask": [batch, text],
        "rope_cos": [batch, tokens, inner],
        "rope_sin": [batch, tokens, inner],
    }


# --- stand-ins ---------------------------------------------------------------------------------------------------


class _OnnxModule(torch.nn.Module):
    """What every stand-in shares: a device the pipeline can move, a float32 dtype, a frozen config."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        from diffusers.configuration_utils import FrozenDict

        self._config = FrozenDict(config)
        self._device = torch.device("cpu")

    @property
    def config(self) -> Any:
        return self._config

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        # The graphs take and return float32 (fp16 exports convert inside), so the pipelines feed float32.
        return torch.float32

    def to(self, *args: Any, **kwargs: Any) -> _OnnxModule:  # type: ignore[override]
        """Record the device the pipeline moves this to (the sessions already run on their provider)."""
        device, _dtype, _non_blocking, _fmt = torch._C._nn._parse_to(*args, **kwargs)
        if device is not None:
            self._device = torch.device(device)
        return self


class OnnxTransformer(_OnnxModule):
    """The denoiser as an ONNX Runtime session, called exactly as diffusers calls its transformer."""

    def __init__(self, exported: ExportedModel, providers: tuple[str, ...] | None = None) -> None:
        super().__init__(exported.manifest["transformer_config"])
        self.family = exported.family
        self.graph = _Graph(exported, "transformer", providers, _trt_profile(exported, "transformer"))
        self.provider = self.graph.provider

    @contextlib.contextmanager
    def cache_context(self, name: str) -> Iterator[None]:
        """diffusers' cache hooks (first-block cache etc.) do not apply to a fixed graph: a no-op context."""
        yield

    def forward(self, hidden_states: torch.Tensor, *args: Any, return_dict: bool = True, **kwargs: Any) -> Any:
        """Same arguments as the diffusers transformer; `attention_kwargs` (LoRA scale) cannot apply and is refused."""
        if kwargs.pop("attention_kwargs", None):
            raise ModelError("ONNX transformer: attention_kwargs (LoRA scale) are baked at export; use runtime torch")
        device = hidden_states.device
        if self.family == "wan":
            names = ["timestep", "encoder_hidden_states", "encoder_hidden_states_image"]
            kwargs |= dict(zip(names, args, strict=False))
            cos, sin = wan_rope_tables(self.config, hidden_states.shape)
            feeds = {
                "hidden_states": hidden_states,
                "timestep": kwargs["timestep"].reshape(-1).expand(hidden_states.shape[0]),
                "encoder_hidden_states": kwargs["encoder_hidden_states"],
                "rope_cos": cos,
                "rope_sin": sin,
            }
            for name in ("encoder_hidden_states_image", "control_hidden_states", "control_hidden_states_scale"):
                if name in self.graph.inputs:
                    value = kwargs.get(name)
                    if value is None and name == "control_hidden_states_scale":
                        value = torch.ones(len(self.config["vace_layers"]))
                    if value is None:
                        raise ModelError(f"ONNX transformer: this export needs {name}, the pipeline gave none")
                    if name == "encoder_hidden_states_image" and self.config.get("pos_embed_seq_len"):
                        value = value.reshape(-1, 2, *value.shape[1:])  # FLF2V: 2 x batch rows -> batch x 2 (export)
                    feeds[name] = value
        else:
            names = ["encoder_hidden_states", "timestep", "encoder_attention_mask", "num_frames", "height", "width"]
            kwargs |= dict(zip(names, args, strict=False))
            batch = hidden_states.shape[0]
            cos, sin = ltx_rope_tables(
                self.config,
                hidden_states,
                kwargs.get("video_coords"),
                kwargs.get("num_frames"),
                kwargs.get("height"),
                kwargs.get("width"),
                kwargs.get("rope_interpolation_scale"),
            )
            mask = kwargs.get("encoder_attention_mask")
            if mask is None:
                mask = torch.ones(kwargs["encoder_hidden_states"].shape[:2])
            feeds = {
                "hidden_states": hidden_states,
                "encoder_hidden_states": kwargs["encoder_hidden_states"],
                "timestep": kwargs["timestep"].reshape(batch, -1),
                "encoder_attention_mask": mask.float(),
                "rope_cos": cos.expand(batch, -1, -1),
                "rope_sin": sin.expand(batch, -1, -1),
            }
        (sample,) = self.graph.run(feeds, device)
        sample = sample.to(hidden_states.dtype)
        if not return_dict:
            return (sample,)
        from diffusers.models.modeling_outputs import Transformer2DModelOutput

        return Transformer2DModelOutput(sample=sample)


class OnnxVae(_OnnxModule):
    """The VAE as ONNX Runtime sessions: `encode(x).latent_dist` and `decode(z).sample`, diffusers' semantics.

    Runs whole clips (no tiling or slicing: `enable_tiling` and `enable_slicing` are accepted and do nothing, so full
    resolution needs the memory of an untiled decode). Wan's causal VAE runs its chunk loop here (see onnx_export).
    """

    def __init__(self, exported: ExportedModel, providers: tuple[str, ...] | None = None) -> None:
        super().__init__(exported.manifest["vae_config"])
        self.family = exported.family
        attrs = exported.vae_attrs
        self.spatial_compression_ratio = attrs.get("spatial_compression_ratio")
        self.temporal_compression_ratio = attrs.get("temporal_compression_ratio")
        if "temperal_downsample" in attrs:
            self.temperal_downsample = list(attrs["temperal_downsample"])
        for name in ("latents_mean", "latents_std"):
            if name in attrs and self.family == "ltx":
                setattr(self, name, torch.tensor(attrs[name], dtype=torch.float32))
        self.use_tiling = self.use_slicing = False
        names = [g for g in exported.graphs if g.startswith("vae_")]
        self.graphs = {g: _Graph(exported, g, providers, {}) for g in names}
        self.provider = next(iter(self.graphs.values())).provider

    def enable_tiling(self, *args: Any, **kwargs: Any) -> None:
        """Accepted for load_pipeline's sake; the ONNX VAE runs untiled."""

    def enable_slicing(self) -> None:
        """Accepted for load_pipeline's sake; the ONNX VAE runs untiled."""

    def encode(self, x: torch.Tensor, return_dict: bool = True) -> Any:
        """Pixels B x 3 x F x H x W in [-1, 1] -> AutoencoderKLOutput whose `latent_dist` is diffusers' Gaussian."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
        from diffusers.models.modeling_outputs import AutoencoderKLOutput

        if self.family == "wan":
            moments = self._wan_loop(
                "encoder", x, [x[:, :, :1]] + [x[:, :, i : i + 4] for i in range(1, x.shape[2], 4)]
            )
        else:
            (moments,) = self.graphs["vae_encoder"].run({"sample": x}, x.device)
        dist = DiagonalGaussianDistribution(moments.to(x.dtype))
        return AutoencoderKLOutput(latent_dist=dist) if return_dict else (dist,)

    def decode(self, z: torch.Tensor, temb: torch.Tensor | None = None, return_dict: bool = True) -> Any:
        """Latents B x C x f x h x w -> DecoderOutput with `sample` B x 3 x F x H x W (Wan: clamped to [-1, 1])."""
        from diffusers.models.autoencoders.vae import DecoderOutput

        if self.family == "wan":
            sample = self._wan_loop("decoder", z, [z[:, :, i : i + 1] for i in range(z.shape[2])])
        else:
            feeds = {"latents": z}
            if "temb" in self.graphs["vae_decoder"].inputs:
                if temb is None:
                    raise ModelError("ONNX VAE: this LTX VAE is timestep-conditioned; decode needs temb")
                feeds["temb"] = temb.reshape(-1).expand(z.shape[0])
            (sample,) = self.graphs["vae_decoder"].run(feeds, z.device)
        sample = sample.to(z.dtype)
        return DecoderOutput(sample=sample) if return_dict else (sample,)

    def _wan_loop(self, part: str, x: torch.Tensor, chunks: list[torch.Tensor]) -> torch.Tensor:
        """diffusers' `_encode` / `_decode` loop over chunks, the cache passed from one graph call to the next."""
        x_name = "sample" if part == "encoder" else "latents"
        if part == "encoder" and (x.shape[2] - 1) % 4:
            raise ModelError(f"ONNX VAE: Wan encodes 4k+1 frames, got {x.shape[2]}")
        outs, caches = [], []
        for i, chunk in enumerate(chunks):
            graph = self.graphs[f"vae_{part}_{'first' if i == 0 else 'step'}"]
            feeds = {x_name: chunk} | {f"cache_in_{j}": c for j, c in enumerate(caches)}
            out, *caches = graph.run(feeds, x.device)
            outs.append(out)
        return torch.cat(outs, dim=2)


def onnx_pipeline(pipe: Any, exported: ExportedModel, providers: tuple[str, ...] | None = None) -> Any:
    """A copy of diffusers pipeline `pipe` whose transformer and VAE run `exported` on ONNX Runtime.

    The other components (text encoder, tokenizer, scheduler, image encoder) are shared with `pipe`, which is left as
    it was. `providers` narrows the provider order (e.g. `("CPUExecutionProvider",)`); the provider in use is logged
    and readable as `result.transformer.provider`. Raises ModelError when `exported` is of another model class.
    """
    components = dict(pipe.components)
    tfm = components.get("transformer")
    tfm_class = type(tfm).__name__ if tfm is not None else ""
    if tfm_class and tfm_class != exported.manifest["transformer_class"]:
        raise ModelError(f"ONNX export {exported.path} is of another transformer class than {tfm_class}")
    components["transformer"] = OnnxTransformer(exported, providers)
    components["vae"] = OnnxVae(exported, providers)
    swapped = type(pipe)(**components)
    swapped.set_progress_bar_config(disable=True)
    device = getattr(pipe, "_execution_device", None) or torch.device("cpu")
    components["transformer"].to(device)
    components["vae"].to(device)
    log.info(
        "%s on ONNX Runtime: transformer %s, VAE %s (%s, %s)",
        type(pipe).__name__,
        components["transformer"].provider,
        components["vae"].provider,
        exported.precision,
        exported.path,
    )
    return swapped
