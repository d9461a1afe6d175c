"""`dreamplate doctor`: what this install will use, so a TD can see at a glance why a render looks the way it does."""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

from dreamplate import __version__
from dreamplate.runtime.weights import PINNED, find_weights, model_dirs


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _onnx_line() -> str:
    try:
        import onnxruntime
    except ImportError:
        return "not installed (pip install 'dreamplate[onnx]', or [gpu] on an NVIDIA machine)"
    return f"{onnxruntime.__version__}, providers {', '.join(onnxruntime.get_available_providers())}"


def _torch_line() -> str:
    try:
        import torch
    except ImportError:
        return "not installed (pip install 'dreamplate[gen]')"
    device = "cuda: " + torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return f"{torch.__version__}, device {device}"


def report(ocio_path: Path | None = None) -> str:
    """The doctor's report as text; raises ColorError when the OCIO config cannot be loaded."""
    from dreamplate.color.model_space import log_model_space
    from dreamplate.color.ocio import describe_config, load_config

    cfg = load_config(ocio_path)
    lines = [
        f"dreamplate     {__version__} (python {platform.python_version()}, {platform.system()} {platform.machine()})",
        f"numpy          {_version('numpy')}",
        f"OpenEXR        {_version('OpenEXR')}",
        f"OpenColorIO    {_version('opencolorio')}",
        f"OpenCV         {_version('opencv-python-headless')}",
        "colour",
        *(f"  {line}" for line in describe_config(cfg).splitlines()),
        f"  model space  {log_model_space().name} (exactly invertible, motion is estimated on it)",
        f"onnxruntime    {_onnx_line()}",
        f"torch          {_torch_line()}",
        "model dirs",
        *(f"  {d} ({'exists' if d.is_dir() else 'missing'})" for d in model_dirs()),
        "learned interpolation weights",
        *(f"  {name:<10} {find_weights(entry) or 'not installed'}" for name, entry in PINNED.items()),
    ]
    return "\n".join(lines)
