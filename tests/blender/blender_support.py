"""Helpers for the Blender extension tests: its host-free modules and the bpy virtualenvs.

The bpy wheels (5.0.1, and 4.5 LTS) need Python 3.11 exactly and numpy<2, so each gets its own virtualenv under
`.venv-bpy/` in the repo, created on first use and reused after (git-ignored).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "blender_addon" / "dreamplate_blender"
BPY_VERSIONS = {"5.0": "5.0.1", "4.5": "4.5.15"}
BPY_ROOT = REPO / ".venv-bpy"


def load_hostfree(name: str) -> types.ModuleType:
    """`dreamplate_blender.<name>` without running the package's `__init__` (which needs bpy)."""
    if "dreamplate_blender" not in sys.modules:
        package = types.ModuleType("dreamplate_blender")
        package.__path__ = [str(PACKAGE_DIR)]
        sys.modules["dreamplate_blender"] = package
    return importlib.import_module(f"dreamplate_blender.{name}")


def _python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        pytest.fail("the bpy wheels need Python 3.11 exactly: none found (python3.11 on PATH)")
    return found


def bpy_python(version: str) -> Path:
    """The bpy virtualenv's interpreter for `version` ('5.0' or '4.5'), installed on first use."""
    folder = BPY_ROOT / version
    python = folder / "bin" / "python"
    marker = folder / ".dreamplate-ready"
    if marker.is_file():
        return python
    started = time.monotonic()
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([_python311(), "-m", "venv", str(folder)], check=True)
    install = [str(python), "-m", "pip", "install", "-q", f"bpy=={BPY_VERSIONS[version]}", "numpy<2"]
    result = subprocess.run(install, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"pip install bpy=={BPY_VERSIONS[version]} failed:\n{result.stderr[-2000:]}")
    marker.write_text(f"bpy {BPY_VERSIONS[version]} installed in {time.monotonic() - started:.0f} s\n")
    return python
