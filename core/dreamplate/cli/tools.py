"""`info`, `demo` and `doctor`: look at files, try the pipeline on a synthetic shot, check the install."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dreamplate.cli.common import LazyProgress, app, err_console, fail, out_console
from dreamplate.errors import DreamplateError


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
        with LazyProgress() as progress:
            result = run_demo(out, frames=frames, size=(width, height), progress=progress.update)
    except DreamplateError as exc:
        fail(str(exc))
        return
    out_console.print(result.summary(), markup=False, highlight=False)


@app.command()
def doctor(ocio: Annotated[Path | None, typer.Option(help="OCIO config to check.")] = None) -> None:
    """Versions, the OCIO config and colour spaces in use, ONNX Runtime providers, torch device, model dirs."""
    from dreamplate.doctor import report

    try:
        out_console.print(report(ocio), markup=False, highlight=False)
    except DreamplateError as exc:
        fail(str(exc))
