"""The OpenEXR library's own output, captured: what the C decoder writes to fd 2 and the binding prints to stdout.

Both streams are process-wide, so a damaged file's chatter would land in whatever terminal or log runs us; instead
it is collected around each library call and turned into the one-line reason of an `InputError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import OpenEXR

from dreamplate.errors import InputError

# The decoder reports chunk errors on fd 2 and the binding prints part failures to sys.stdout; both
# streams are process-wide, so captures are serialised.
_CAPTURE_LOCK = threading.Lock()
_PART_FAILURE = "Warning: Exception raised reading pixel data for part"


def open_exr(path: Path, problem: str, **options: bool) -> tuple[Any, LibraryReport]:
    """`OpenEXR.File(path, **options)` with the library's output captured; its exceptions become InputError."""
    failure: Exception | None = None
    with library_output(path) as report:
        try:
            exr = OpenEXR.File(os.fspath(path), **options)
        except (RuntimeError, ValueError, TypeError, OSError) as exc:
            failure = exc
    # Only now, with the capture closed, does the report hold what the library printed.
    if failure is not None:
        raise InputError(f"{path}: {problem}: {library_message(path, failure, report)}") from failure
    return exr, report


@dataclass
class LibraryReport:
    """What the OpenEXR library printed during one call, split by where it came from."""

    errors: list[str] = field(default_factory=list)  # decoder lines "<path>: (EXR_ERR_...) ..."
    part_failures: list[str] = field(default_factory=list)  # the binding's "part N - reason" lines


@contextlib.contextmanager
def library_output(path: Path) -> Iterator[LibraryReport]:
    """Capture fd 2 and sys.stdout around a library call; lines that are not the library's go back out."""
    report = LibraryReport()
    prefix = f"{os.fspath(path)}: "
    stdout_text = io.StringIO()
    with _CAPTURE_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved_fd = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            with contextlib.redirect_stdout(stdout_text):
                yield report
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            for line in sink.read().decode("utf-8", "replace").splitlines():
                if line.startswith(prefix):
                    report.errors.append(line[len(prefix) :])
                else:
                    os.write(2, (line + "\n").encode())
            for line in stdout_text.getvalue().splitlines():
                if line.startswith(_PART_FAILURE):
                    report.part_failures.append(line[len(_PART_FAILURE) :].strip())
                else:
                    sys.stdout.write(line + "\n")


def library_message(path: Path, exc: BaseException | None, report: LibraryReport) -> str:
    """The most telling one-line reason: the decoder's first error, else the binding's, else the exception's."""
    if report.errors:
        text = report.errors[0]
        if len(report.errors) > 1:
            text += f" (and {len(report.errors) - 1} more errors)"
    elif report.part_failures:
        text = f"part {report.part_failures[0]}"
    elif isinstance(exc, UnicodeDecodeError):
        text = "a text attribute is not valid UTF-8"
    elif exc is not None:
        text = _LIBRARY_PHRASES.get(str(exc).split(" '")[0], str(exc))
    else:
        text = "a part failed to decode"
    # The library repeats the full path inside its messages; the prefix of ours already names the file.
    return first_line(text.replace(os.fspath(path), path.name))


# The binding's header errors quote the path and say little else; say what they mean instead.
_LIBRARY_PHRASES = {
    "Unable to open": "corrupt or truncated",
    "Invalid or missing attribute when attempting to open": "an attribute is invalid or missing",
}


def first_line(text: str) -> str:
    """The first non-blank line of a library message, for one-line errors."""
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
