"""ONNX Runtime stand-ins for a diffusers video pipeline's transformer and VAE, and the swap that installs them.

`onnx_pipeline(pipe, exported)` returns a new pipeline of the same class whose `transformer` and `vae` run the
graphs written by `dreamplate.gen.onnx_export`; scheduler, text encoders, latents preparation and callbacks stay
diffusers' own. The stand-ins take the arguments diffusers passes and return what it expects, and carry the
attributes the pipelines read (`config`, `dtype`, `device`, VAE compression ratios, latents mean/std,
`cache_context`). The pipeline given is not changed: `load_pipeline` keeps it warm for torch runs.

Providers TensorRT > CUDA > CPU, as `dreamplate.runtime.onnx.open_session` picks them. On CUDA the sessions run with
IO binding on torch CUDA tensors, so latents stay on the GPU between steps; that path only runs on a GPU machine.
TensorRT builds fp16 engines with a shape profile derived from each job (`trt_profile`: its size, aspect, window
and guidance batch), cached beside the export by what they were built for (`<graph>.trt/<engine key>/`).
torch is imported at module import (the stand-ins are torch modules); onnxruntime and diffusers inside functions.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from dreamplate.errors import ModelError
from dreamplate.gen.onnx_export import ExportedModel
from dreamplate.gen.rope import ltx_rope_tables, wan_rope_tables

log = logging.getLogger(__name__)

# --- sessions ----------------------------------------------------------------------------------------------------


class _Graph:
    """One ONNX Runtime session: numpy feeds on CPU, IO binding on torch CUDA tensors on a GPU provider."""

    def __init__(
        self,
        exported: ExportedModel,
        name: str,
        providers: tuple[str, ...] | None,
        trt: dict[str, str],
        engine_key: str = "",
    ):
        from dreamplate.runtime.onnx import open_session

        path = exported.graphs[name]
        self.name = name
        self.inputs = exported.inputs(name)
        self.outputs = list(exported.manifest["graphs"][name]["outputs"])
        cache_dir = path.with_suffix(".trt") / engine_key if engine_key else path.with_suffix(".trt")
        self.session, self.provider, _ = open_session(path, providers=providers, cache_dir=cache_dir, trt_options=trt)
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


BATCHLESS_INPUTS = frozenset({"control_hidden_states_scale"})
"""Transformer inputs without a batch axis (VACE's per-layer scales)."""
TRT_MAX_ELEMENTS = 2**31 - 1
"""TensorRT indexes a tensor with 32-bit integers: no binding may hold more elements."""


def trt_profile(shapes: dict[str, tuple[int, ...]]) -> dict[str, str]:
    """TensorRT shape-profile options for one job, from the transformer inputs' shapes as the job feeds them.

    opt = max = the job's shapes (its size, aspect, window and the batch its guidance gives: LTX runs both CFG halves
    in one batch of 2, Wan calls twice with 1); min = the same with batch 1, so a guidance-free call of the same shot
    reuses the engine. A fixed profile spanning "draft to full" built no engine for a portrait frame, a size beyond
    the full one or a window shorter than the draft's; one profile per job builds for any of them (minutes, once:
    the engines are cached by `trt_engine_key`). ModelError, saying why and what to change, for shapes TensorRT
    cannot take (a binding over `TRT_MAX_ELEMENTS`).
    """
    for name, shape in shapes.items():
        elements = int(np.prod(shape)) if shape else 1
        if elements > TRT_MAX_ELEMENTS:
            raise ModelError(
                f"TensorRT: transformer input {name} {'x'.join(map(str, shape))} has {elements:,} elements, over "
                f"TensorRT's {TRT_MAX_ELEMENTS:,} per tensor; use a smaller --size or a shorter --window"
            )

    def spec(batch_one: bool) -> str:
        parts = []
        for name, shape in shapes.items():
            dims = list(shape)
            if batch_one and dims and name not in BATCHLESS_INPUTS:
                dims[0] = 1
            parts.append(f"{name}:{'x'.join(str(d) for d in dims)}")
        return ",".join(parts)

    return {
        "trt_profile_min_shapes": spec(batch_one=True),
        "trt_profile_opt_shapes": spec(batch_one=False),
        "trt_profile_max_shapes": spec(batch_one=False),
    }


def trt_engine_key(profile: dict[str, str]) -> str:
    """The engine cache folder of one profile: the hidden states' shape to read, and a hash of the whole profile."""
    import hashlib

    opt = profile["trt_profile_opt_shapes"]
    hidden = next((p.split(":", 1)[1] for p in opt.split(",") if p.startswith("hidden_states:")), "")
    digest = hashlib.sha256(json.dumps(profile, sort_keys=True).encode()).hexdigest()[:12]
    return f"{hidden}-{digest}" if hidden else digest


def _wants_tensorrt(providers: tuple[str, ...] | None) -> bool:
    """Whether a session asked for `providers` would run on TensorRT (it is wanted first and installed)."""
    import onnxruntime as ort

    from dreamplate.runtime.onnx import PROVIDER_ORDER

    wanted = [p for p in (providers or PROVIDER_ORDER) if p in ort.get_available_providers()]
    return bool(wanted) and wanted[0] == "TensorrtExecutionProvider"


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
        self.exported, self.providers = exported, providers
        self.engines: dict[str, _Graph] = {}
        """TensorRT: one session per job profile (`trt_profile`), opened on the first call of that shape."""
        if _wants_tensorrt(providers):
            self.graph: _Graph | None = None
            self.provider = "TensorrtExecutionProvider"
        else:
            self.graph = _Graph(exported, "transformer", providers, {})
            self.provider = self.graph.provider

    def _graph_for(self, feeds: dict[str, torch.Tensor]) -> _Graph:
        """The session for these feeds: the one session, or on TensorRT the engine built for this job's shapes."""
        if self.graph is not None:
            return self.graph
        profile = trt_profile({name: tuple(value.shape) for name, value in feeds.items()})
        key = trt_engine_key(profile)
        if key not in self.engines:
            log.info("TensorRT: transformer engine for %s (cached in %s)", profile["trt_profile_opt_shapes"], key)
            self.engines[key] = _Graph(self.exported, "transformer", self.providers, profile, engine_key=key)
        return self.engines[key]

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
                if name in self.exported.inputs("transformer"):
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
        feeds = {name: feeds[name] for name in self.exported.inputs("transformer")}  # the graph's order
        (sample,) = self._graph_for(feeds).run(feeds, device)
        sample = sample.to(hidden_states.dtype)
        if not return_dict:
            return (sample,)
        from diffusers.models.modeling_outputs import Transformer2DModelOutput

        return Transformer2DModelOutput(sample=sample)


class OnnxVae(_OnnxModule):
    """The VAE as ONNX Runtime sessions: `encode(x).latent_dist` and `decode(z).sample`, diffusers' semantics.

    Tiling is diffusers' own: with `enable_tiling` (which `onnx_pipeline` calls, as `load_pipeline` does for torch)
    frames larger than a tile run as overlapping spatial tiles of the export-time tile sizes, blended as the torch VAE
    blends them. An untiled ONNX decode against a tiled torch one differs by the seams, and Wan's causal cache carries
    them into every later frame (issue 21). Slicing (one batch item at a time) changes no value and is not done.
    Wan's causal VAE runs its chunk loop here (see onnx_export).
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
        for name, value in attrs.get("tiling", {}).items():
            setattr(self, name, int(value))
        names = [g for g in exported.graphs if g.startswith("vae_")]
        self.graphs = {g: _Graph(exported, g, providers, {}) for g in names}
        self.provider = next(iter(self.graphs.values())).provider

    def enable_tiling(self, **sizes: int | None) -> None:
        """Tile as the torch VAE does; `sizes` are diffusers' `tile_sample_min_height`, `..._stride_width` etc."""
        for name, value in sizes.items():
            if value is not None:
                setattr(self, name, int(value))
        self.use_tiling = True

    def enable_slicing(self) -> None:
        """Accepted for load_pipeline's sake: slicing changes memory, not values, and the graphs take any batch."""

    def encode(self, x: torch.Tensor, return_dict: bool = True) -> Any:
        """Pixels B x 3 x F x H x W in [-1, 1] -> AutoencoderKLOutput whose `latent_dist` is diffusers' Gaussian."""
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
        from diffusers.models.modeling_outputs import AutoencoderKLOutput

        if self._tiles(x.shape, self.tile_sample_min_height, self.tile_sample_min_width):
            s = self.spatial_compression_ratio
            moments = self._tiled(
                x, self._encode_whole, self.tile_sample_min_height, self.tile_sample_min_width,
                self.tile_sample_stride_height, self.tile_sample_stride_width,
                (self.tile_sample_min_height // s - self.tile_sample_stride_height // s,
                 self.tile_sample_min_width // s - self.tile_sample_stride_width // s),
                (self.tile_sample_stride_height // s, self.tile_sample_stride_width // s),
                (x.shape[3] // s, x.shape[4] // s),
            )  # fmt: skip
        else:
            moments = self._encode_whole(x)
        dist = DiagonalGaussianDistribution(moments.to(x.dtype))
        return AutoencoderKLOutput(latent_dist=dist) if return_dict else (dist,)

    def decode(self, z: torch.Tensor, temb: torch.Tensor | None = None, return_dict: bool = True) -> Any:
        """Latents B x C x f x h x w -> DecoderOutput with `sample` B x 3 x F x H x W (Wan: clamped to [-1, 1])."""
        from diffusers.models.autoencoders.vae import DecoderOutput

        s = self.spatial_compression_ratio
        if self._tiles(z.shape, self.tile_sample_min_height // s, self.tile_sample_min_width // s):
            sample = self._tiled(
                z, lambda tile: self._decode_whole(tile, temb), self.tile_sample_min_height // s,
                self.tile_sample_min_width // s, self.tile_sample_stride_height // s,
                self.tile_sample_stride_width // s,
                (self.tile_sample_min_height - self.tile_sample_stride_height,
                 self.tile_sample_min_width - self.tile_sample_stride_width),
                (self.tile_sample_stride_height, self.tile_sample_stride_width),
                (z.shape[3] * s, z.shape[4] * s),
            )  # fmt: skip
        else:
            sample = self._decode_whole(z, temb)
        if self.family == "wan":  # after the blend, as diffusers clamps (the graphs return the decoder's raw output)
            sample = torch.clamp(sample, -1.0, 1.0)
        sample = sample.to(z.dtype)
        return DecoderOutput(sample=sample) if return_dict else (sample,)

    def _tiles(self, shape: torch.Size, min_height: int, min_width: int) -> bool:
        """Whether diffusers' VAE would tile an input of `shape` (B x C x F x H x W) with these tile sizes."""
        return self.use_tiling and (shape[4] > min_width or shape[3] > min_height)

    @staticmethod
    def _tiled(
        x: torch.Tensor,
        run: Any,
        tile_h: int,
        tile_w: int,
        stride_h: int,
        stride_w: int,
        blend: tuple[int, int],
        keep: tuple[int, int],
        out_size: tuple[int, int],
    ) -> torch.Tensor:
        """diffusers' `tiled_encode` / `tiled_decode` (Wan and LTX share the scheme): tiles of `tile_h` x `tile_w`
        every `stride_h` / `stride_w` of the input, each run whole by `run`, blended with the tile above and on the
        left over `blend` output pixels, cropped to `keep`, assembled and cropped to `out_size`."""
        rows = [
            [run(x[:, :, :, i : i + tile_h, j : j + tile_w]) for j in range(0, x.shape[4], stride_w)]
            for i in range(0, x.shape[3], stride_h)
        ]
        assembled = []
        for i, row in enumerate(rows):
            kept = []
            for j, tile in enumerate(row):
                if i > 0:
                    tile = _blend(rows[i - 1][j], tile, blend[0], dim=3)
                if j > 0:
                    tile = _blend(row[j - 1], tile, blend[1], dim=4)
                row[j] = tile
                kept.append(tile[:, :, :, : keep[0], : keep[1]])
            assembled.append(torch.cat(kept, dim=4))
        return torch.cat(assembled, dim=3)[:, :, :, : out_size[0], : out_size[1]]

    def _encode_whole(self, x: torch.Tensor) -> torch.Tensor:
        """Latent moments of a whole (untiled) clip or tile."""
        if self.family == "wan":
            return self._wan_loop("encoder", x, [x[:, :, :1]] + [x[:, :, i : i + 4] for i in range(1, x.shape[2], 4)])
        (moments,) = self.graphs["vae_encoder"].run({"sample": x}, x.device)
        return moments

    def _decode_whole(self, z: torch.Tensor, temb: torch.Tensor | None) -> torch.Tensor:
        """The decoder's output for a whole (untiled) latent clip or tile, before any clamp."""
        if self.family == "wan":
            return self._wan_loop("decoder", z, [z[:, :, i : i + 1] for i in range(z.shape[2])])
        feeds = {"latents": z}
        if "temb" in self.graphs["vae_decoder"].inputs:
            if temb is None:
                raise ModelError("ONNX VAE: this LTX VAE is timestep-conditioned; decode needs temb")
            feeds["temb"] = temb.reshape(-1).expand(z.shape[0])
        (sample,) = self.graphs["vae_decoder"].run(feeds, z.device)
        return sample

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


def _blend(a: torch.Tensor, b: torch.Tensor, extent: int, dim: int) -> torch.Tensor:
    """diffusers' `blend_v` (dim 3) / `blend_h` (dim 4): the first `extent` rows of `b` fade in from `a`'s last."""
    extent = min(a.shape[dim], b.shape[dim], extent)
    if extent <= 0:
        return b
    shape = [1] * b.dim()
    shape[dim] = extent
    weight = (torch.arange(extent, dtype=torch.float64) / extent).to(b.dtype).reshape(shape)
    b = b.clone()
    head = b.narrow(dim, 0, extent)
    head.copy_(a.narrow(dim, a.shape[dim] - extent, extent) * (1 - weight) + head * weight)
    return b


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
    components["vae"].enable_tiling()  # as load_pipeline sets the torch VAE: the same tiles, the same seams
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
