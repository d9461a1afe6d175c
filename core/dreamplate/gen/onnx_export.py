"""Export a video model's denoiser and VAE to ONNX, once per weights and settings, for ONNX Runtime / TensorRT.

What is exported, per family (graph names are the keys of `ExportedModel.graphs`):
- "transformer": the denoiser. Rotary tables are graph inputs (`rope_cos`, `rope_sin`), computed in torch by
  `dreamplate.gen.rope` from the latent shape: Wan's rope slices precomputed float64 tables by the latent size and LTX's
  builds them from Python ints (frames, height, width) or `video_coords`, both of which a trace would freeze to the
  example's size, and TensorRT has no float64. Batch, frames, height, width and token counts are dynamic axes.
- LTX VAE: "vae_encoder" (pixels -> latent moments) and "vae_decoder" (latents -> pixels, clamped as diffusers does
  not; the pipeline postprocesses), whole clips with dynamic batch/frames/height/width.
- Wan VAE: the Wan VAE is causal and runs clip by clip in diffusers (encoder: 1 frame, then 4 frames at a time;
  decoder: 1 latent frame at a time), carrying a cache of the last frames of every causal conv. A trace of that loop
  would freeze the frame count, so each chunk is a graph whose cache goes in and out as tensors:
  "vae_encoder_first" / "vae_encoder_step" and "vae_decoder_first" / "vae_decoder_step"; `OnnxVae` runs the loop.
  Caches are padded to 2 frames with leading zeros, which equals the causal zero padding the first chunk sees, and
  the decoder's "Rep" marker (first chunk: no temporal upsampling yet) becomes a zero cache for the same reason.

Exporter: the TorchScript exporter (`torch.onnx.export(dynamo=False)`) at opset 18 first; the dynamo exporter with
dynamic shapes where it fails. Graph optimisation: ONNX Runtime's basic (provider-independent) level is applied
offline and saved (`SessionOptions.optimized_model_filepath`); the extended/layout levels depend on the provider and
run when a session opens. `onnxruntime.transformers`' optimizer is not used: its fusions target BERT/UNet/DiT graphs
and do not match these. Weights always go to one external-data file per graph (`<graph>.onnx.data`), so models over
2 GiB need no other path and the `.onnx` graph itself stays small and byte-comparable.

Exports live in `model_dirs()[0] / "onnx" / <weights_sha256[:16]> / <settings key>/` with `manifest.json` holding
each file's sha256; a corrupt or missing file is found by that hash and the export redone. Standard library only at
import: torch, onnx and onnxruntime load inside the functions that export.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dreamplate.errors import ModelError
from dreamplate.gen.models import ModelInfo
from dreamplate.runtime.onnx import export_dynamo, export_graph, to_fp16
from dreamplate.runtime.weights import model_dirs, sha256_file

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

EXPORT_FORMAT = 2
"""dreamplate's export layout version: bump it when graphs, names or inputs change, so old exports are redone."""
SCHEMA = "dreamplate.onnx_export/1"
MANIFEST_NAME = "manifest.json"
DEFAULT_OPSET = 18
PRECISIONS = ("fp32", "fp16")

FP32_OPS = ("LayerNormalization", "SimplifiedLayerNormalization", "ReduceMean", "Pow", "Sqrt", "Exp", "Softmax")
"""Kept in fp32 by the fp16 conversion: norms and softmax statistics overflow or lose precision in half."""

DYNAMO_FIRST = {("wan", "transformer")}
"""(family, graph) exported with the dynamo exporter first: Wan's attention writes its rotary output with in-place
slice assignment (`out[..., 0::2] = ...`), which the TorchScript exporter turns into an Expand to the example's
fixed shape (it runs only at the traced size); dynamo functionalises it with symbolic shapes."""

# Verified files this process: (path, size, mtime_ns) -> sha256, so a warm worker does not rehash gigabytes per job.
_verified: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class ExportedModel:
    """A model's ONNX export on disk: graph name -> `.onnx` path, and the manifest that describes them."""

    path: Path
    family: str
    pipeline_class: str
    weights_sha256: str
    precision: str
    opset: int
    exporter: str
    graphs: dict[str, Path]
    manifest: dict[str, Any] = field(repr=False)

    @property
    def vae_attrs(self) -> dict[str, Any]:
        """Attributes of the torch VAE the pipelines read (compression ratios, latents mean/std), as exported."""
        return dict(self.manifest.get("vae_attrs", {}))

    def inputs(self, graph: str) -> list[str]:
        """Input names of `graph`, in order."""
        return list(self.manifest["graphs"][graph]["inputs"])


# --- public API --------------------------------------------------------------------------------------------------


def settings_key(precision: str, opset: int) -> str:
    """The folder name of one export's settings: precision, opset, exporter (torch) version and format number."""
    torch_version = _version("torch")
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", f"{precision}-opset{opset}-torch{torch_version}-f{EXPORT_FORMAT}")


def export_dir(info: ModelInfo, precision: str = "fp32", opset: int = DEFAULT_OPSET, dest: Path | None = None) -> Path:
    """Where the export of `info` with these settings lives (it may not exist yet)."""
    root = Path(dest) if dest is not None else model_dirs()[0] / "onnx"
    return root / info.weights_sha256[:16] / settings_key(precision, opset)


def find_export(
    info: ModelInfo, precision: str = "fp32", opset: int = DEFAULT_OPSET, dest: Path | None = None
) -> ExportedModel | None:
    """The valid cached export of `info` with these settings, or None (missing, stale or corrupt: logged)."""
    _check_settings(precision, opset)
    folder = export_dir(info, precision, opset, dest)
    if not folder.is_dir():
        return None
    problem = verify_export(folder, info.weights_sha256)
    if problem:
        log.warning("%s: cached ONNX export unusable (%s)", folder, problem)
        return None
    return _load_manifest(folder)


def export_model(
    info: ModelInfo,
    precision: str = "fp32",
    opset: int = DEFAULT_OPSET,
    dest: Path | None = None,
    force: bool = False,
) -> ExportedModel:
    """Export `info`'s transformer and VAE to ONNX, or return the cached export made with the same settings.

    `precision` "fp32" or "fp16" (graph inside in half, fp32 at its inputs and outputs and for `FP32_OPS`: for GPU
    providers; ONNX Runtime's CPU provider lacks many fp16 kernels). `dest` replaces the store root
    (`model_dirs()[0] / "onnx"`). A cached export is checked against its manifest's sha256s; a corrupt or missing file
    is logged and the export redone. `force` re-exports anyway. Raises ModelError when the export fails.
    """
    _check_settings(precision, opset)
    folder = export_dir(info, precision, opset, dest)
    if not force:
        cached = find_export(info, precision, opset, dest)
        if cached is not None:
            log.info("ONNX export of %s cached: %s", info.name or info.path, folder)
            return cached
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.partial"
    tmp.mkdir()
    started = time.perf_counter()
    try:
        manifest = _export_all(info, precision, opset, tmp)
        _write_manifest(tmp / MANIFEST_NAME, manifest)
        _replace_dir(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    log.info(
        "exported %s to ONNX (%s, opset %d, %s) in %.1f s: %s, %.1f MiB",
        info.name or info.path,
        precision,
        opset,
        manifest["exporter"],
        time.perf_counter() - started,
        folder,
        size / 2**20,
    )
    return _load_manifest(folder)


def verify_export(folder: Path, weights_sha256: str | None = None) -> str:
    """'' when `folder` holds a complete export matching its manifest (and `weights_sha256`), else the problem."""
    manifest_path = Path(folder) / MANIFEST_NAME
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        return f"{manifest_path.name}: unreadable ({exc})"
    if manifest.get("schema") != SCHEMA or manifest.get("format") != EXPORT_FORMAT:
        found = f"{manifest.get('schema')} format {manifest.get('format')}"
        return f"manifest is {found}, expected {SCHEMA} format {EXPORT_FORMAT}"
    if weights_sha256 is not None and manifest.get("weights_sha256") != weights_sha256:
        return "exported from other weights"
    for name, expected in manifest.get("files", {}).items():
        path = Path(folder) / name
        if not path.is_file():
            return f"{name}: missing"
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        digest = _verified.get(key) or sha256_file(path)
        if digest != expected:
            return f"{name}: sha256 {digest[:12]}... does not match the manifest's {str(expected)[:12]}..."
        _verified[key] = digest
    return ""


# --- export ------------------------------------------------------------------------------------------------------


def _export_all(info: ModelInfo, precision: str, opset: int, out_dir: Path) -> dict[str, Any]:
    """Export every graph of `info` into `out_dir`; returns the manifest (without the file hashes' order issues)."""
    import torch

    transformer, vae = _load_components(info)
    graphs: dict[str, dict[str, Any]] = {}
    exporters: set[str] = set()
    with torch.no_grad():
        for name, module, example, inputs, outputs, axes in _graph_specs(info, transformer, vae):
            dynamo_first = (info.family, name) in DYNAMO_FIRST
            how = _export_graph(module, example, out_dir, name, inputs, outputs, axes, opset, precision, dynamo_first)
            exporters.add(how)
            graphs[name] = {"file": f"{name}.onnx", "inputs": inputs, "outputs": outputs}
    files = {p.name: sha256_file(p) for p in sorted(out_dir.iterdir()) if p.is_file() and p.name != MANIFEST_NAME}
    return {
        "schema": SCHEMA,
        "format": EXPORT_FORMAT,
        "model": str(info.path),
        "family": info.family,
        "pipeline_class": info.pipeline_class,
        "weights_sha256": info.weights_sha256,
        "precision": precision,
        "opset": opset,
        "exporter": " + ".join(sorted(exporters)),
        "versions": {pkg: _version(pkg) for pkg in ("torch", "onnx", "onnxruntime", "diffusers")},
        "ort_optimization": "basic (offline)",
        "graphs": graphs,
        "transformer_class": type(transformer).__name__,
        "vae_class": type(vae).__name__,
        "transformer_config": _plain(dict(transformer.config)),
        "vae_config": _plain(dict(vae.config)),
        "vae_attrs": _vae_attrs(info, vae),
        "files": files,
    }


def _load_components(info: ModelInfo) -> tuple[Any, Any]:
    """The transformer and VAE of `info` in fp32 on the CPU (the export's reference), classes from model_index.json."""
    import diffusers
    import torch

    index = json.loads((info.path / "model_index.json").read_text())
    loaded = []
    for component in ("transformer", "vae"):
        spec = index.get(component)
        if not isinstance(spec, list) or len(spec) != 2 or not hasattr(diffusers, str(spec[1])):
            raise ModelError(f"{info.path}: model_index.json has no diffusers {component} class ({spec})")
        cls = getattr(diffusers, str(spec[1]))
        try:
            module = cls.from_pretrained(
                info.path / component, local_files_only=True, use_safetensors=True, torch_dtype=torch.float32
            )
        except (OSError, ValueError) as exc:
            raise ModelError(f"{info.path / component}: cannot load for export: {exc}") from exc
        loaded.append(module.eval())
    return loaded[0], loaded[1]


def _vae_attrs(info: ModelInfo, vae: Any) -> dict[str, Any]:
    """What the pipelines read from the VAE besides its config."""
    attrs: dict[str, Any] = {}
    for name in ("spatial_compression_ratio", "temporal_compression_ratio", "temperal_downsample"):
        if hasattr(vae, name):
            attrs[name] = _plain(getattr(vae, name))
    for name in ("latents_mean", "latents_std"):  # LTX keeps them as buffers, Wan in its config
        value = getattr(vae, name, None) if info.family == "ltx" else None
        if value is not None and hasattr(value, "tolist"):
            attrs[name] = [float(v) for v in value.flatten().tolist()]
    # diffusers' tile sizes (set in the VAE's __init__, not its config): OnnxVae tiles exactly as the torch VAE does.
    attrs["tiling"] = {name: int(value) for name, value in vars(vae).items() if name.startswith("tile_sample_")}
    if info.family == "wan":
        attrs["encoder_caches"] = int(vae._cached_conv_counts["encoder"])
        attrs["decoder_caches"] = int(vae._cached_conv_counts["decoder"])
    return attrs


GraphSpec = tuple[str, "torch.nn.Module", tuple, list[str], list[str], dict[str, dict[int, str]]]


def _graph_specs(info: ModelInfo, transformer: Any, vae: Any) -> list[GraphSpec]:
    """(name, module, example inputs, input names, output names, dynamic axes) of every graph of `info`."""
    specs = [_transformer_spec(info, transformer)]
    specs += _wan_vae_specs(vae) if info.family == "wan" else _ltx_vae_specs(vae)
    return specs


def _transformer_spec(info: ModelInfo, transformer: Any) -> GraphSpec:
    """The denoiser behind a wrapper whose rope returns the tables given as inputs (see the module docstring)."""
    import torch

    from dreamplate.gen.rope import ltx_rope_tables, ltx_video_coords, wan_rope_tables

    cfg = transformer.config
    gen = torch.Generator().manual_seed(0)
    # Sizes that differ from each other so no dimension can be mistaken for another and frozen into the graph.
    batch, text_len = 2, 7
    if info.family == "wan":
        frames, height, width = 3, 4 * cfg.patch_size[1], 6 * cfg.patch_size[2]
        hidden = torch.randn(batch, cfg.in_channels, frames, height, width, generator=gen)
        cos, sin = wan_rope_tables(cfg, hidden.shape)
        example: list[Any] = [
            hidden,
            torch.tensor([500.0, 250.0]),
            torch.randn(batch, text_len, cfg.text_dim),
            cos,
            sin,
        ]
        inputs = ["hidden_states", "timestep", "encoder_hidden_states", "rope_cos", "rope_sin"]
        axes = {
            "hidden_states": {0: "batch", 2: "frames", 3: "height", 4: "width"},
            "timestep": {0: "batch"},
            "encoder_hidden_states": {0: "batch", 1: "text_len"},
            "rope_cos": {1: "tokens"},
            "rope_sin": {1: "tokens"},
            "sample": {0: "batch", 2: "frames", 3: "height", 4: "width"},
        }
        if cfg.get("image_dim") is not None:
            # diffusers' Wan attention splits image from text tokens at a hard-coded 512 text tokens, so the text
            # length is fixed at 512 in these graphs (the pipelines pad prompts to 512).
            example[2] = torch.randn(batch, 512, cfg.text_dim, generator=gen)
            axes["encoder_hidden_states"] = {0: "batch"}
            inputs.append("encoder_hidden_states_image")
            if cfg.get("pos_embed_seq_len"):
                # FLF2V: the pipeline passes first and last frame's CLIP tokens as 2 x batch rows of half the learned
                # position embedding's length, which the embedder views to batch rows (`view(-1, ...)`: an unbacked
                # size for torch.export). The graph takes them as batch x 2 x tokens x dim, flattened inside, so the
                # batch is the hidden states' own; OnnxTransformer reshapes the pipeline's rows to that.
                example.append(torch.randn(batch, 2, cfg.pos_embed_seq_len // 2, cfg.image_dim, generator=gen))
                axes["encoder_hidden_states_image"] = {0: "batch"}
            else:
                example.append(torch.randn(batch, 5, cfg.image_dim, generator=gen))
                axes["encoder_hidden_states_image"] = {0: "batch", 1: "image_len"}
        if cfg.get("vace_layers") is not None:
            example.append(torch.randn(batch, cfg.vace_in_channels, frames, height, width, generator=gen))
            example.append(torch.linspace(0.5, 1.0, len(cfg.vace_layers)))
            inputs += ["control_hidden_states", "control_hidden_states_scale"]
            axes["control_hidden_states"] = {0: "batch", 2: "frames", 3: "height", 4: "width"}
    else:
        frames, height, width = 3, 4, 6
        tokens = frames * height * width
        hidden = torch.randn(batch, tokens, cfg.in_channels, generator=gen)
        coords = ltx_video_coords(batch, frames, height, width)
        cos, sin = ltx_rope_tables(cfg, hidden, coords)
        mask = torch.ones(batch, text_len)
        mask[1, 5:] = 0
        timestep = torch.rand(batch, tokens, generator=gen) * 1000
        example = [hidden, torch.randn(batch, text_len, cfg.caption_channels), timestep, mask, cos, sin]
        inputs = [
            "hidden_states",
            "encoder_hidden_states",
            "timestep",
            "encoder_attention_mask",
            "rope_cos",
            "rope_sin",
        ]
        axes = {
            "hidden_states": {0: "batch", 1: "tokens"},
            "encoder_hidden_states": {0: "batch", 1: "text_len"},
            "timestep": {0: "batch", 1: "timestep_len"},
            "encoder_attention_mask": {0: "batch", 1: "text_len"},
            "rope_cos": {0: "batch", 1: "tokens"},
            "rope_sin": {0: "batch", 1: "tokens"},
            "sample": {0: "batch", 1: "tokens"},
        }
    module = _transformer_wrapper(transformer, inputs)
    return "transformer", module, tuple(example), inputs, ["sample"], axes


def _transformer_wrapper(transformer: Any, inputs: list[str]) -> torch.nn.Module:
    """The transformer with its rope module swapped for one that returns the `rope_cos`/`rope_sin` inputs."""
    import copy

    import torch

    class TableRope(torch.nn.Module):
        """Returns the rotary tables set for this call: they are graph inputs, not computed from shapes."""

        def __init__(self) -> None:
            super().__init__()
            self.tables: tuple[Any, Any] | None = None

        def forward(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            assert self.tables is not None
            return self.tables

    class TransformerGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = copy.copy(transformer)  # shallow: shares weights, own rope slot
            self.inner._modules = dict(transformer._modules)
            self.inner.rope = TableRope()

        def forward(self, *args: Any) -> Any:
            kwargs = dict(zip(inputs, args, strict=True))
            image = kwargs.get("encoder_hidden_states_image")
            if image is not None and image.dim() == 4:  # FLF2V's batch x 2 x tokens x dim (see _transformer_spec)
                kwargs["encoder_hidden_states_image"] = image.flatten(0, 1)
            self.inner.rope.tables = (kwargs.pop("rope_cos"), kwargs.pop("rope_sin"))
            try:
                return self.inner(**kwargs, return_dict=False)[0]
            finally:
                self.inner.rope.tables = None

    return TransformerGraph().eval()


def _ltx_vae_specs(vae: Any) -> list[GraphSpec]:
    """LTX's VAE encoder and decoder, whole clips (no tiling: the ONNX graphs take the whole latent)."""
    import torch

    cfg = vae.config
    gen = torch.Generator().manual_seed(1)
    s, t = vae.spatial_compression_ratio, vae.temporal_compression_ratio
    pixels = torch.rand(1, cfg.in_channels, 2 * t + 1, 3 * s, 2 * s, generator=gen) * 2 - 1
    latents = torch.randn(1, cfg.latent_channels, 3, 3, 2, generator=gen)
    conditioned = bool(cfg.timestep_conditioning)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = vae.encoder

        def forward(self, sample: Any) -> Any:
            return self.encoder(sample)

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = vae.decoder

        def forward(self, latents: Any, temb: Any = None) -> Any:
            return self.decoder(latents, temb)

    video = {0: "batch", 2: "frames", 3: "height", 4: "width"}
    dec_inputs = ["latents", "temb"] if conditioned else ["latents"]
    dec_example = (latents, torch.tensor([0.05])) if conditioned else (latents,)
    dec_axes = {"latents": video, "sample": video} | ({"temb": {0: "batch"}} if conditioned else {})
    return [
        ("vae_encoder", Encoder().eval(), (pixels,), ["sample"], ["moments"], {"sample": video, "moments": video}),
        ("vae_decoder", Decoder().eval(), dec_example, dec_inputs, ["sample"], dec_axes),
    ]


def _wan_vae_specs(vae: Any) -> list[GraphSpec]:
    """Wan's causal VAE as first-chunk and next-chunk graphs with explicit caches (see the module docstring)."""
    import torch

    counts = vae._cached_conv_counts
    gen = torch.Generator().manual_seed(1)
    s = vae.spatial_compression_ratio if hasattr(vae, "spatial_compression_ratio") else 8
    height, width = 3 * s, 2 * s
    specs: list[GraphSpec] = []
    for part in ("encoder", "decoder"):
        n = int(counts[part])
        first = _WanChunk(vae, part, n, first=True).eval()
        step = _WanChunk(vae, part, n, first=False).eval()
        if part == "encoder":
            x0 = torch.rand(1, 3, 1, height, width, generator=gen) * 2 - 1
            x1 = torch.rand(1, 3, 4, height, width, generator=gen) * 2 - 1
        else:
            x0 = torch.randn(1, vae.config.z_dim, 1, height // s, width // s, generator=gen)
            x1 = torch.randn(1, vae.config.z_dim, 1, height // s, width // s, generator=gen)
        x_name, out_name = ("sample", "moments") if part == "encoder" else ("latents", "sample")
        caches = list(first(x0)[1:])
        n = len(caches)
        cache_in = [f"cache_in_{i}" for i in range(n)]
        cache_out = [f"cache_out_{i}" for i in range(n)]
        spatial = {0: "batch", 3: "height", 4: "width"}
        axes: dict[str, dict[int, str]] = {x_name: spatial, out_name: spatial}
        for i in range(n):
            axes[cache_in[i]] = {0: "batch", 3: f"cache_{i}_height", 4: f"cache_{i}_width"}
            axes[cache_out[i]] = {0: "batch", 3: f"cache_{i}_height", 4: f"cache_{i}_width"}
        specs.append((f"vae_{part}_first", first, (x0,), [x_name], [out_name, *cache_out], axes))
        specs.append((f"vae_{part}_step", step, (x1, *caches), [x_name, *cache_in], [out_name, *cache_out], axes))
    return specs


def _wan_chunk_class() -> type:
    import torch

    class WanChunk(torch.nn.Module):
        """One chunk of Wan's causal VAE loop, caches in and out as tensors of 2 frames.

        Encoder: `quant_conv(encoder(x))` on 1 frame (first) or 4 frames (step): the latent moments of the chunk.
        Decoder: `decoder(post_quant_conv(z))` on one latent frame, unclamped: diffusers clamps after blending the
        tiles of a tiled decode, so `OnnxVae` clamps. The 1x1x1 convs act frame by frame, so chunk by chunk equals
        diffusers' whole-clip `_encode` / `_decode`.
        """

        def __init__(self, vae: Any, part: str, n_caches: int, first: bool) -> None:
            super().__init__()
            self.part, self.n_caches, self.first = part, n_caches, first
            self.net = vae.encoder if part == "encoder" else vae.decoder
            self.conv = vae.quant_conv if part == "encoder" else vae.post_quant_conv
            self._rep_inputs: dict[int, Any] = {}
            self._hooks = []
            for module in self.net.modules():
                if getattr(module, "mode", None) == "upsample3d":
                    self._hooks.append(module.register_forward_pre_hook(self._record, with_kwargs=True))

        def _record(self, module: Any, args: tuple, kwargs: dict) -> None:
            """Remember each temporal upsampler's input by its cache index: its "Rep" cache becomes zeros of it."""
            x = args[0] if args else kwargs["x"]
            feat_idx = kwargs.get("feat_idx", args[2] if len(args) > 2 else None)
            if feat_idx is not None:
                self._rep_inputs[int(feat_idx[0])] = x

        def forward(self, x: Any, *caches: Any) -> tuple:
            feat_cache: list[Any] = [None] * self.n_caches
            if not self.first:
                feat_cache[: len(caches)] = caches
            self._rep_inputs = {}
            feat_idx = [0]
            if self.part == "encoder":
                out = self.conv(self.net(x, feat_cache=feat_cache, feat_idx=feat_idx))
            else:
                kwargs = {"first_chunk": True} if self.first else {}
                out = self.net(self.conv(x), feat_cache=feat_cache, feat_idx=feat_idx, **kwargs)
            # `_cached_conv_counts` counts every causal conv; only the first feat_idx[0] of them keep a cache.
            fixed = []
            for i, cache in enumerate(feat_cache[: feat_idx[0]]):
                if isinstance(cache, str) or cache is None:  # "Rep": causal zero padding, as zeros of its input
                    ref = self._rep_inputs[i][:, :, :1]
                    cache = torch.cat([ref * 0, ref * 0], dim=2)
                elif cache.shape[2] < 2:
                    cache = torch.cat([torch.zeros_like(cache[:, :, :1]), cache[:, :, -1:]], dim=2)
                fixed.append(cache)
            return (out, *fixed)

    return WanChunk


def _WanChunk(vae: Any, part: str, n: int, first: bool) -> Any:  # noqa: N802 - a class built on first use
    return _wan_chunk_class()(vae, part, n, first)


def _export_graph(
    module: Any,
    example: tuple,
    out_dir: Path,
    name: str,
    inputs: list[str],
    outputs: list[str],
    axes: dict[str, dict[int, str]],
    opset: int,
    precision: str,
    dynamo_first: bool = False,
) -> str:
    """Export one graph to `out_dir/<name>.onnx` + `.onnx.data`, fp16-convert and ORT-optimise it; the exporter used."""
    import onnx

    raw_dir = out_dir / f"_raw_{name}"
    raw_dir.mkdir()
    raw = raw_dir / f"{name}.onnx"
    try:
        if dynamo_first:
            how = export_dynamo(module, example, raw, inputs, outputs, axes, opset, external_data=True)
        else:
            _register_symbolics(opset)
            how = export_graph(module, example, raw, inputs, outputs, axes, opset, external_data=True)
        # From the file, never through an in-memory whole-graph pass: a real-size graph is over protobuf's 2 GiB.
        model = to_fp16(raw, FP32_OPS) if precision == "fp16" else onnx.load(str(raw))
        staged = out_dir / f"_staged_{name}.onnx"
        _save_external(model, staged, f"_staged_{name}.onnx.data")
        del model
        final = out_dir / f"{name}.onnx"
        if not _ort_optimise(staged, final):
            _save_external(onnx.load(str(staged)), final, f"{name}.onnx.data")
        try:
            onnx.checker.check_model(str(final))
        except onnx.checker.ValidationError as exc:
            raise ModelError(f"{name}: exported ONNX graph fails the checker: {str(exc).splitlines()[0]}") from exc
    finally:
        shutil.rmtree(raw_dir, ignore_errors=True)
        for leftover in out_dir.glob(f"_staged_{name}.onnx*"):
            leftover.unlink()
    return how


def _register_symbolics(opset: int) -> None:
    """Teach the TorchScript exporter `aten::rms_norm` (ONNX has RMSNormalization only from opset 23).

    Wan's q/k norms are `torch.nn.RMSNorm`; the decomposition x / sqrt(mean(x^2) + eps) * weight is what torch
    computes, and ONNX Runtime fuses it back to SimplifiedLayerNormalization.
    """
    import torch
    from torch.onnx import symbolic_helper

    def rms_norm(g: Any, x: Any, normalized_shape: Any, weight: Any, eps: Any) -> Any:
        dims = symbolic_helper._maybe_get_const(normalized_shape, "is")
        eps_value = symbolic_helper._maybe_get_const(eps, "f")
        eps_value = 1e-6 if eps_value is None or not isinstance(eps_value, float) else eps_value
        axes = g.op("Constant", value_t=torch.tensor([-i for i in range(len(dims), 0, -1)], dtype=torch.int64))
        mean = g.op("ReduceMean", g.op("Mul", x, x), axes, keepdims_i=1)
        denom = g.op("Sqrt", g.op("Add", mean, g.op("Constant", value_t=torch.tensor(eps_value, dtype=torch.float32))))
        out = g.op("Div", x, denom)
        if not symbolic_helper._is_none(weight):
            out = g.op("Mul", out, weight)
        return out

    def upsample_nearest_exact(g: Any, x: Any, output_size: Any, scale_factors: Any) -> Any:
        # torch's nearest-exact takes src = floor((dst + 0.5) / scale), which is ONNX's half_pixel transform with
        # round_prefer_ceil rounding (round_prefer_ceil(y - 0.5) = floor(y)).
        empty = g.op("Constant", value_t=torch.tensor([], dtype=torch.float32))
        scales = symbolic_helper._maybe_get_const(scale_factors, "fs")
        if not symbolic_helper._is_none(scale_factors) and isinstance(scales, list):
            scale_t = g.op("Constant", value_t=torch.tensor([1.0, 1.0, *scales], dtype=torch.float32))
            return g.op(
                "Resize", x, empty, scale_t, mode_s="nearest",
                coordinate_transformation_mode_s="half_pixel", nearest_mode_s="round_prefer_ceil",
            )  # fmt: skip
        leading = g.op("Slice", g.op("Shape", x), *[g.op("Constant", value_t=torch.tensor([v])) for v in (0, 2)])
        size = g.op("Cast", output_size, to_i=7) if not isinstance(output_size, list) else output_size
        sizes = g.op("Concat", leading, size, axis_i=0)
        return g.op(
            "Resize", x, empty, empty, sizes, mode_s="nearest",
            coordinate_transformation_mode_s="half_pixel", nearest_mode_s="round_prefer_ceil",
        )  # fmt: skip

    def movedim(g: Any, x: Any, source: Any, destination: Any) -> Any:
        # The stock symbolic leaves a negative axis in Transpose's perm (LTX's VAE norms: movedim(1, -1)).
        rank = symbolic_helper._get_tensor_rank(x)
        src = symbolic_helper._maybe_get_const(source, "i") % rank
        dst = symbolic_helper._maybe_get_const(destination, "i") % rank
        perm = [d for d in range(rank) if d != src]
        perm.insert(dst, src)
        return g.op("Transpose", x, perm_i=perm)

    torch.onnx.register_custom_op_symbolic("aten::rms_norm", rms_norm, opset)
    torch.onnx.register_custom_op_symbolic("aten::movedim", movedim, opset)
    torch.onnx.register_custom_op_symbolic("aten::_upsample_nearest_exact2d", upsample_nearest_exact, opset)


def _save_external(model: Any, path: Path, data_name: str) -> None:
    """Save the weights in one external-data file beside the graph (fine under and over 2 GiB).

    Tensors under 1 KiB stay inline: shape constants (Unsqueeze axes, Reshape shapes) must be readable by
    ONNX Runtime's shape inference, which does not read external data.
    """
    import onnx

    (path.parent / data_name).unlink(missing_ok=True)
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data_name,
        size_threshold=1024,
    )


def _ort_optimise(src: Path, dst: Path) -> bool:
    """ONNX Runtime's basic, provider-independent optimisations applied offline; False (logged) where it fails."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(dst)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", f"{dst.name}.data")
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    try:
        ort.InferenceSession(str(src), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own unrelated types
        log.warning("%s: ONNX Runtime offline optimisation failed (%s); keeping the exported graph", src.name, exc)
        dst.unlink(missing_ok=True)
        (dst.parent / f"{dst.name}.data").unlink(missing_ok=True)
        return False
    return dst.is_file()


# --- manifest and folders ----------------------------------------------------------------------------------------


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _load_manifest(folder: Path) -> ExportedModel:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    return ExportedModel(
        path=folder,
        family=str(manifest["family"]),
        pipeline_class=str(manifest["pipeline_class"]),
        weights_sha256=str(manifest["weights_sha256"]),
        precision=str(manifest["precision"]),
        opset=int(manifest["opset"]),
        exporter=str(manifest["exporter"]),
        graphs={name: folder / str(g["file"]) for name, g in manifest["graphs"].items()},
        manifest=manifest,
    )


def _replace_dir(tmp: Path, folder: Path) -> None:
    """Move the finished export `tmp` to `folder`, replacing a stale one there; a rename, so never half written."""
    old = None
    if folder.exists():
        old = folder.parent / f".{folder.name}.{uuid.uuid4().hex[:12]}.old"
        os.replace(folder, old)
    try:
        os.replace(tmp, folder)
    except OSError:
        if folder.is_dir() and not verify_export(folder):  # another process finished the same export first
            return
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _check_settings(precision: str, opset: int) -> None:
    if precision not in PRECISIONS:
        raise ModelError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if not 17 <= int(opset) <= 21:
        raise ModelError(f"opset: expected 17 to 21, got {opset}")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _plain(value: Any) -> Any:
    """JSON-ready copy of config values (tuples to lists, numbers kept)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
