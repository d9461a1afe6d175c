"""Helpers for the Nuke plugin tests: paths, the stub and `nuke_plugin/` on sys.path, shared-sample sequences."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (HERE / "nuke_stub", REPO / "nuke_plugin", HERE.parent / "server"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# With tests/ on sys.path this folder is a namespace package called `nuke`; imported before the stub's folder was on
# the path, it would shadow the stub, so drop it and let `import nuke` find the stub module.
if "nuke" in sys.modules and getattr(sys.modules["nuke"], "__file__", None) is None:
    del sys.modules["nuke"]

SAMPLE = "DisplayWindow/t01.exr"
"""A 400x300 half RGB sample; copied into a numbered sequence, since the shared data holds single frames."""


def copy_sequence(shared_data: Path, folder: Path, count: int, first: int = 1001) -> str:
    """`folder/plate.NNNN.exr` copies of the shared sample; returns the `####` pattern a Read would show."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in range(first, first + count):
        shutil.copyfile(shared_data / "exr" / SAMPLE, folder / f"plate.{frame:04d}.exr")
    return str(folder / "plate.####.exr")
