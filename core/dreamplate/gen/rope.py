"""Rotary position tables of the video transformers, computed in torch from the latent shape.

The ONNX export takes them as graph inputs (`rope_cos`, `rope_sin`) rather than tracing them: Wan's rope slices
precomputed float64 tables by the latent size and LTX's builds them from Python ints, both of which a trace would
freeze to the example's size, and TensorRT has no float64. `onnx_export` builds the example tables with these,
`onnx_components` the tables each denoising step feeds in, so both sides agree by construction.
"""

from __future__ import annotations

import functools
from typing import Any

import torch


@functools.lru_cache(maxsize=8)
def _wan_rope(head_dim: int, patch_size: tuple[int, int, int], max_seq_len: int) -> Any:
    from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

    return WanRotaryPosEmbed(head_dim, patch_size, max_seq_len)


def wan_rope_tables(config: Any, shape: tuple[int, ...] | torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
    """Wan's rotary (cos, sin) tables for latents of `shape` (B, C, F, H, W): float32, 1 x tokens x 1 x head_dim."""
    rope = _wan_rope(int(config["attention_head_dim"]), tuple(config["patch_size"]), int(config["rope_max_seq_len"]))
    cos, sin = rope(torch.empty(tuple(shape), device="meta"))
    return cos.float(), sin.float()


@functools.lru_cache(maxsize=8)
def _ltx_rope(dim: int, patch_size: int, patch_size_t: int) -> Any:
    from diffusers.models.transformers.transformer_ltx import LTXVideoRotaryPosEmbed

    # The constants LTXVideoTransformer3DModel builds its rope with.
    return LTXVideoRotaryPosEmbed(dim, 20, 2048, 2048, patch_size, patch_size_t, 10000.0)


def ltx_video_coords(batch: int, frames: int, height: int, width: int) -> torch.Tensor:
    """Latent-grid coordinates B x 3 x (F*H*W) (frame, row, column), the layout LTXConditionPipeline passes."""
    grid = torch.stack(
        torch.meshgrid(torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij"), dim=0
    )
    return grid.reshape(1, 3, -1).float().expand(batch, -1, -1).contiguous()


def ltx_rope_tables(
    config: Any,
    hidden_states: torch.Tensor,
    video_coords: torch.Tensor | None = None,
    num_frames: int | None = None,
    height: int | None = None,
    width: int | None = None,
    rope_interpolation_scale: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """LTX-Video's rotary (cos, sin) tables, B x tokens x inner_dim float32, from coords or the latent grid size."""
    dim = int(config["num_attention_heads"]) * int(config["attention_head_dim"])
    rope = _ltx_rope(dim, int(config["patch_size"]), int(config["patch_size_t"]))
    cos, sin = rope(hidden_states, num_frames, height, width, rope_interpolation_scale, video_coords)
    return cos.float(), sin.float()
