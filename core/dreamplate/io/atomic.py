"""Atomic output: a frame appears under its name complete, or not at all, so an interrupted run loses nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dreamplate.errors import InputError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` when the block ends, remove it if the block fails.

    The temporary name keeps the suffix (OpenCV picks a format by it) and lives in the same folder (a rename across
    file systems is not atomic). A random name rather than mkstemp lets the writer create the file with the usual
    permissions (mkstemp would leave it 0600). Raises InputError when the folder is missing or not writable.
    """
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"{path}: output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: output folder {folder} is not writable")
    tmp_path = folder / f".{path.stem}.{uuid.uuid4().hex[:12]}.partial{path.suffix}"
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
