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


# --- driving the nodes as an artist does -----------------------------------------------------------------------------


def final(node) -> bool:
    """The node's status says its render ended (done, failed, cancelled or refused)."""
    status = node["status"].value()
    return status.split(":")[0] in ("done", "failed", "cancelled", "error") or " failed:" in status


def make_read(pattern: str, first: int = 1001, last: int = 1003, colorspace: str = "ACEScg"):
    """A Read as the artist makes one: created (so selected), the file chosen with its range, its colour space set."""
    import nuke

    read = nuke.createNode("Read")
    read["file"].fromUserText(f"{pattern} {first}-{last}")
    read["colorspace"].setValue(colorspace)
    return read


def frame_file(read, frame: int) -> Path:
    """One frame of what a Read reads (its file knob spells the pattern `%04d`, as Nuke's does)."""
    from dreamplate_nuke import mapping

    return Path(mapping.frame_path(read["file"].value(), frame))


def press_render(node, timeout: float = 60.0) -> None:
    """Press the Render button, then run Nuke's event loop until the node says the render ended."""
    import nuke

    node["render"].execute()
    nuke.pump(until=lambda: final(node), timeout=timeout)


def job_of(node) -> dict:
    """The server's record of the node's last job."""
    import os

    from server_support import TOKEN

    from dreamplate.client import Client

    return Client(os.environ["DREAMPLATE_URL"], TOKEN).job(node["job_id"].value())


def writes_left() -> list:
    """What a farm submitter would render: every enabled Write, inside Groups too (Deadline walks them so)."""
    import nuke

    return [n.fullName() for n in nuke.allNodes("Write", recurseGroups=True) if not n["disable"].value()]


HEADLESS = (
    "import sys; sys.path[:0] = [{stub!r}, {plugin!r}]; import nuke; nuke.GUI = False; "
    "from dreamplate_nuke import headless; sys.exit(headless.main(sys.argv[1:]))"
)


def headless(comp: Path, *names: str):
    """`nuke -t headless.py comp.nk NAME...`, with the stub as `nuke` (no GUI) in a fresh interpreter."""
    import subprocess

    boot = HEADLESS.format(stub=str(HERE / "nuke_stub"), plugin=str(REPO / "nuke_plugin"))
    command = [sys.executable, "-c", boot, str(comp), *names]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)
