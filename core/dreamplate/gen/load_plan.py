"""The dtype of each component of a pipeline load and the memory check before it: what the device and the free
memory allow (issue 21: a real Wan model on a 24 GB CPU machine was killed by the kernel while loading its fp32
text encoder). torch is imported inside the function.
"""

from __future__ import annotations

import logging
from typing import Any

from dreamplate.gen.models import ModelInfo

log = logging.getLogger(__name__)

CPU_BF16_TEXT_OVER = 2**30
"""On the CPU a Wan text encoder above this many fp32 bytes loads in bf16: UMT5-XXL is 23 GB in fp32, more than
many workstations and farm nodes have beside the rest of the model, 11.5 GB in bf16 (issue 21 measured 15.9 GB peak
for a whole relight). Tiny test encoders stay fp32. LTX keeps fp32: its pipeline feeds the prompt embeddings to the
transformer in the text encoder's dtype, which an fp32 transformer refuses."""
MEMORY_FIX = "free memory on this machine, use --device cuda, or a machine with more RAM"


def component_dtypes(info: ModelInfo, device: str, dtype: Any, without: tuple[str, ...] = ()) -> Any:
    """The `dtype` argument for `from_pretrained` (one dtype or a per-component dict) on `device`, after checking the
    free memory against what the load needs (ModelError, one line, before anything loads; CPU loads only: GPU loads
    have load_pipeline's offload rule).

    GPU: the device dtype; Wan's VAE and CLIP image encoder in fp32, as the Wan model cards do (bf16 there shows).
    CPU: fp32; a Wan text encoder over `CPU_BF16_TEXT_OVER` in bf16 (logged).
    """
    import json

    import torch

    from dreamplate.runtime.memory import LOAD_OVERHEAD, check_fits, load_bytes

    per_component: dict[str, Any] = {}
    if info.family == "wan" and dtype != torch.float32:
        per_component = {"vae": torch.float32, "image_encoder": torch.float32}
    index = json.loads((info.path / "model_index.json").read_text())
    components = [k for k, v in index.items() if isinstance(v, list) and k not in without and (info.path / k).is_dir()]
    if device == "cpu" and info.family == "wan" and "text_encoder" in components:
        fp32_bytes = load_bytes(info.path / "text_encoder", 4)
        if fp32_bytes > CPU_BF16_TEXT_OVER:
            per_component["text_encoder"] = torch.bfloat16
            log.info(
                "text encoder in bf16 on the CPU (%.1f GiB in bf16 instead of %.1f GiB in fp32)",
                fp32_bytes / 2 / 2**30,
                fp32_bytes / 2**30,
            )
    if device == "cpu":
        needed = 0
        for name in components:
            chosen = per_component.get(name, dtype)
            needed += load_bytes(info.path / name, torch.empty((), dtype=chosen).element_size())
        what = f"loading {info.name or info.path.name} ({', '.join(components)}) on the CPU"
        check_fits(what, int(needed * LOAD_OVERHEAD), device, MEMORY_FIX)
    return {"default": dtype, **per_component} if per_component else dtype
