"""Memory a model load needs against what the machine has free, checked before the load starts.

A load that cannot fit must end in one line that says what to change, not in the kernel's OOM killer (exit 137, no
message). Free memory is the smaller of /proc/meminfo's MemAvailable and the cgroup's limit less its usage (render
farm containers), or CUDA's free memory for a GPU. The weights' size per component comes from the safetensors headers
(dtype and shape of every tensor), so nothing is loaded to measure it. Standard library only.
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

from dreamplate.errors import ModelError

log = logging.getLogger(__name__)

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
LOAD_OVERHEAD = 1.15
"""A load takes the weights plus about 15 % (the runtime, activations of a first call, allocator slack)."""


def tensor_elements(folder: Path) -> dict[str, int]:
    """Elements per safetensors dtype over every `*.safetensors` file under `folder` (read from the headers only)."""
    counts: dict[str, int] = {}
    for path in sorted(Path(folder).rglob("*.safetensors")):
        with path.open("rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            elements = 1
            for dim in entry["shape"]:
                elements *= int(dim)
            counts[entry["dtype"]] = counts.get(entry["dtype"], 0) + elements
    return counts


def load_bytes(folder: Path, bytes_per_element: int | None = None) -> int:
    """Bytes the weights under `folder` take once loaded: as stored, or at `bytes_per_element` for float tensors."""
    total = 0
    for dtype, elements in tensor_elements(folder).items():
        floating = dtype in ("F64", "F32", "F16", "BF16")
        per = bytes_per_element if bytes_per_element is not None and floating else DTYPE_BYTES.get(dtype, 4)
        total += elements * per
    return total


def available_bytes(device: str = "cpu") -> int | None:
    """Memory free for a load on `device` ("cpu" or "cuda[:N]"), or None where it cannot be read."""
    if device.startswith("cuda"):
        import torch

        index = int(device.split(":")[1]) if ":" in device else 0
        free, _total = torch.cuda.mem_get_info(index)
        return int(free)
    candidates = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    return min(candidates) if candidates else None


def check_fits(what: str, needed: int, device: str, fix: str) -> None:
    """ModelError (one line: what, how much, how much is free, `fix`) when `needed` bytes exceed the free memory."""
    free = available_bytes(device)
    where = "VRAM" if device.startswith("cuda") else "RAM"
    if free is None:
        log.debug("%s: free %s unknown; loading %.1f GiB unchecked", what, where, needed / 2**30)
        return
    log.info("%s: needs about %.1f GiB, %.1f GiB %s free", what, needed / 2**30, free / 2**30, where)
    if needed > free:
        raise ModelError(
            f"{what}: needs about {needed / 2**30:.1f} GiB of {where}, {free / 2**30:.1f} GiB is free; {fix}"
        )


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cgroup_available() -> int | None:
    """cgroup v2 limit less usage, where a limit is set (containers); None otherwise."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return None
        usage = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return max(0, int(limit) - usage)
