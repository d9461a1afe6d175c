"""Output checks shared by every operation: where frames may go, and whether a frame on disk is already finished.

Both are asked before any work: an output that would overwrite an input, or a folder that cannot be written, stops
the run with nothing written; a frame whose provenance matches what this run would write is skipped, which is how
an interrupted or killed run resumes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path

from dreamplate.errors import InputError
from dreamplate.io.exr import read_info
from dreamplate.io.provenance import Provenance


def check_outputs(outputs: Mapping[int, Path], inputs: Collection[Path]) -> None:
    """Refuse an output that is an input, and an output folder that cannot be made or written."""
    resolved = {Path(p).resolve() for p in inputs}
    for frame, out in outputs.items():
        if out.resolve() in resolved:
            raise InputError(f"{out}: output frame {frame} would overwrite an input; choose another output name")
    for folder in sorted({p.parent for p in outputs.values()}):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".dreamplate-probe-"):
                pass
        except OSError as exc:
            raise InputError(f"{folder}: output folder is not writable ({exc.strerror or exc})") from exc


def finished(path: Path, provenance: Provenance) -> bool:
    """True when the EXR at `path` already holds this very frame: same operation, method, settings, sources, weights.

    What ran the model (`runtime`) and the dreamplate version are not compared: they do not change what was asked.
    """
    if not path.is_file():
        return False
    try:
        existing = Provenance.from_attributes(read_info(path)[0].attributes, str(path))
    except InputError:
        return False
    return (
        existing is not None
        and existing.operation == provenance.operation
        and existing.method == provenance.method
        and existing.parameters == provenance.parameters
        and existing.sources == provenance.sources
        and existing.weights_sha256 == provenance.weights_sha256
    )
