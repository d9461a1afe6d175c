"""The typer app every command registers on, its consoles and logging, and what commands share: one-line errors,
the progress bar, building a spec from options and running an op."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dreamplate import __version__
from dreamplate.errors import Cancelled, DreamplateError

app = typer.Typer(
    name="dreamplate",
    help="Generative video for VFX on scene-linear EXR plates: interpolation, relighting, sketch-to-shot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True, soft_wrap=True)
out_console = Console(soft_wrap=True)
log = logging.getLogger("dreamplate")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    handler = RichHandler(console=err_console, show_path=False, show_time=False, markup=False)
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)


@app.callback()
def _main(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail in the log.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """dreamplate: every frame out is a half-float scene-linear EXR, colour managed and tagged with provenance."""
    if version:
        out_console.print(f"dreamplate {__version__}")
        raise typer.Exit()
    _setup_logging(verbose, quiet)


def fail(message: str) -> None:
    """One line on stderr and a non-zero exit: what every user-facing error looks like."""
    err_console.print(f"ERROR: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


class LazyProgress:
    """A rich progress bar that appears with the first finished frame, so a run refused up front prints one line.

    `--quiet` (warnings and errors only) hides it, as it hides the log.
    """

    def __init__(self) -> None:
        self._bar: Progress | None = None
        self._task = None

    def update(self, done: int, total: int, message: str) -> None:
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err_console,
                disable=log.getEffectiveLevel() > logging.INFO,
            )
            self._bar.start()
            self._task = self._bar.add_task(message, total=total)
        self._bar.update(self._task, completed=done, total=total, description=message)

    def __enter__(self) -> LazyProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()


# --- job files: run here or on Ray; export for render farms -----------------------------------------------------------


def spec_or_fail(cls, fields: dict, spelled: dict[str, str] | None = None):
    """Build a pydantic spec from options; a validation error becomes one line naming the option as typed.

    `spelled`: field name -> the option as the user types it, where that is not `--field-name` (`--float`, `--key`).
    """
    from pydantic import ValidationError

    try:
        return cls(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        # Name the option as the user typed it; a whole-spec rule (empty loc) already names its options.
        field_name = str(first["loc"][0]) if first["loc"] else ""
        message = first["msg"].removeprefix("Value error, ")
        if field_name:
            option = (spelled or {}).get(field_name, "--" + field_name.replace("_", "-"))
            message = f"{option}: {message[0].lower()}{message[1:]}, got {first['input']!r}"
        fail(message)
        raise


@contextmanager
def running() -> Iterator[LazyProgress]:
    """A progress bar for a run; one ERROR line and exit 1 on a DreamplateError, exit 130 on a cancel."""
    try:
        with LazyProgress() as progress:
            yield progress
    except Cancelled as exc:
        err_console.print(f"cancelled: {exc}", markup=False)
        raise typer.Exit(130) from None
    except DreamplateError as exc:
        fail(str(exc))


def say_written(written: list, skipped: list, output: str, method: str = "") -> None:
    """What a run wrote, in one line: frames, or files for a judge's report (its JSON and contact sheet)."""
    also = f", skipped {len(skipped)} already written" if skipped else ""
    how = f" ({method})" if method else ""
    noun = "files" if str(output).lower().endswith(".json") else "frames"
    out_console.print(f"wrote {len(written)} {noun} to {output}{also}{how}", markup=False, highlight=False)


def run_op(run, spec, force: bool) -> None:
    """Run an op with a progress bar and say what it wrote."""
    with running() as progress:
        result = run(spec, progress=progress.update, force=force)
    say_written(result.written, result.skipped, result.output, result.method)
