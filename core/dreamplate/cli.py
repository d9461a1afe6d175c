"""The `dreamplate` command: typer commands over the core; each imports its op inside the command."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
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


def _fail(message: str) -> None:
    """One line on stderr and a non-zero exit: what every user-facing error looks like."""
    err_console.print(f"ERROR: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _float_list(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        _fail(f"{option}: cannot read {text!r}; give numbers separated by commas, e.g. 0.25,0.5,0.75")
    return None


def _fps_pair(text: str | None) -> tuple[float | None, float] | None:
    """`24:60` -> (24, 60); `60` -> (None, 60): the source rate then comes from the file."""
    if text is None:
        return None
    source, _, target = text.rpartition(":")
    try:
        return (float(source) if source else None, float(target))
    except ValueError:
        _fail(f"--fps: cannot read {text!r}; give SOURCE:TARGET such as 24:60, or TARGET such as 60")
    return None


@app.command()
def interpolate(
    inputs: Annotated[list[str], typer.Argument(help="Two frames (A B) or one sequence pattern (plate.####.exr).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or pattern for several frames.")],
    method: Annotated[str, typer.Option(help="Interpolation method: flow.")] = "flow",
    factor: Annotated[int | None, typer.Option(help="Sequence: N-1 in-betweens per gap (default 2).")] = None,
    times: Annotated[str | None, typer.Option(help="Two frames: times in [0,1], e.g. 0.25,0.5,0.75.")] = None,
    retime: Annotated[
        Path | None,
        typer.Option(help="Sequence: text file 'output_frame source_frame' per line (Kronos frame mode)."),
    ] = None,
    fps: Annotated[
        str | None,
        typer.Option(
            help="Sequence: frame-rate change SOURCE:TARGET (24:60), or TARGET with the source rate from the file."
        ),
    ] = None,
    frames: Annotated[str | None, typer.Option(help="Source frame range, e.g. 1001-1100.")] = None,
    colorspace: Annotated[
        str | None, typer.Option(help="Input colour space (OCIO name); default from the file.")
    ] = None,
    ocio: Annotated[Path | None, typer.Option(help="OCIO config (else $OCIO, ocio_configs/, built-in).")] = None,
    part: Annotated[str | None, typer.Option(help="EXR part (name or index); default the first.")] = None,
    view: Annotated[str | None, typer.Option(help="EXR view; default the file's default view.")] = None,
    float32: Annotated[bool, typer.Option("--float", help="Write 32-bit float instead of half.")] = False,
    compression: Annotated[str, typer.Option(help="EXR compression: zip, piz, dwaa, none, ...")] = "zip",
    threads: Annotated[int | None, typer.Option(help="Worker threads (default: all cores).")] = None,
    force: Annotated[bool, typer.Option(help="Re-render frames that are already written.")] = False,
) -> None:
    """Make in-between frames: `A B -o mid.exr`, or retime `plate.####.exr --factor 2 -o out.####.exr`."""
    from pydantic import ValidationError

    from dreamplate.interp.retime import run_interpolate
    from dreamplate.interp.spec import InterpolateSpec
    from dreamplate.io.exr import COMPRESSIONS

    if compression not in COMPRESSIONS:
        _fail(f"--compression: unknown {compression!r}; choose one of {', '.join(COMPRESSIONS)}")
    try:
        spec = InterpolateSpec(
            inputs=inputs,
            output=output,
            method=method,
            factor=factor,
            times=_float_list(times, "--times"),
            retime=retime,
            fps=_fps_pair(fps),
            frames=frames,
            colorspace=colorspace,
            ocio=ocio,
            part=part,
            view=view,
            pixel_type="float" if float32 else "half",
            compression=compression,
            threads=threads,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        # Name the option as the user typed it; a whole-spec rule (empty loc) already names its options.
        field_name = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if field_name:
            message = f"--{field_name.replace('_', '-')}: {message[0].lower()}{message[1:]}, got {first['input']!r}"
        _fail(message)
        return
    try:
        with _LazyProgress() as progress:
            result = run_interpolate(spec, progress=progress.update, force=force)
    except Cancelled as exc:
        err_console.print(f"cancelled: {exc}", markup=False)
        raise typer.Exit(130) from None
    except DreamplateError as exc:
        _fail(str(exc))
        return
    skipped = f", skipped {len(result.skipped)} already written" if result.skipped else ""
    out_console.print(f"wrote {len(result.written)} frames to {result.output}{skipped}", markup=False, highlight=False)


@app.command()
def info(
    files: Annotated[list[Path], typer.Argument(help="EXR (or PNG/TIFF/JPEG) files to inspect.")],
) -> None:
    """Read each file's header and all its pixel data; print windows, channels, colour space and provenance."""
    from dreamplate.info import describe

    failed = 0
    for path in files:
        try:
            out_console.print(describe(path), markup=False, highlight=False)
        except DreamplateError as exc:
            failed += 1
            err_console.print(f"ERROR: {exc}", markup=False, highlight=False, soft_wrap=True)
    if failed:
        err_console.print(f"{failed} of {len(files)} files could not be read", markup=False)
        raise typer.Exit(1)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo plate and its retime.")] = Path("dreamplate_demo"),
    frames: Annotated[int, typer.Option(min=2, max=200, help="Source frames to render.")] = 6,
    width: Annotated[int, typer.Option(min=64, max=4096)] = 640,
    height: Annotated[int, typer.Option(min=64, max=4096)] = 360,
) -> None:
    """Render a small synthetic HDR plate (moving highlights far above 1.0), retime it 2x, say where it went."""
    from dreamplate.demo import run_demo

    try:
        with _LazyProgress() as progress:
            result = run_demo(out, frames=frames, size=(width, height), progress=progress.update)
    except DreamplateError as exc:
        _fail(str(exc))
        return
    out_console.print(result.summary(), markup=False, highlight=False)


@app.command()
def doctor(ocio: Annotated[Path | None, typer.Option(help="OCIO config to check.")] = None) -> None:
    """Versions, the OCIO config and colour spaces in use, ONNX Runtime providers, torch device, model dirs."""
    from dreamplate.doctor import report

    try:
        out_console.print(report(ocio), markup=False, highlight=False)
    except DreamplateError as exc:
        _fail(str(exc))


class _LazyProgress:
    """A rich progress bar that appears with the first finished frame, so a run refused up front prints one line."""

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
            )
            self._bar.start()
            self._task = self._bar.add_task(message, total=total)
        self._bar.update(self._task, completed=done, total=total, description=message)

    def __enter__(self) -> _LazyProgress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
