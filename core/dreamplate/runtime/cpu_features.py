"""What the CPU computes natively, read once from the operating system (no torch or onnxruntime import).

bf16 pays only where the CPU has bf16 dot-product instructions (AVX512-BF16 on AMD Zen 4 and Intel Cooper Lake on,
AMX-BF16 on Sapphire Rapids on): elsewhere oneDNN emulates it and bf16 runs slower than fp32, so a CPU that does
not say so is taken not to have it.
"""

from __future__ import annotations

import functools
from pathlib import Path

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
"""/proc/cpuinfo flags of CPUs with native bf16 dot products."""


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The flags line of the first CPU in `cpuinfo` (Linux); empty where the file is missing or has none."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@functools.cache
def native_bf16() -> bool:
    """True where the CPU multiplies bf16 natively (see BF16_FLAGS); False where that cannot be told."""
    return bool(cpu_flags() & BF16_FLAGS)
