"""`dreamplate interpolate`: in-betweens and retimes (flow, learned), and the generative route."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dreamplate.cli.common import app, fail, run_op, spec_or_fail


def _float_list(text: str | None, option: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        fail(f"{option}: cannot read {text!r}; give numbers separated by commas, e.g. 0.25,0.5,0.75")
    return None


def _fps_pair(text: str | None) -> tuple[float | None, float] | None:
    """`24:60` -> (24, 60); `60` -> (None, 60): the source rate then comes from the file."""
    if text is None:
        return None
    source, _, target = text.rpartition(":")
    try:
        return (float(source) if source else None, float(target))
    except ValueError:
        fail(f"--fps: cannot read {text!r}; give SOURCE:TARGET such as 24:60, or TARGET such as 60")
    return None


def _scale(text: str) -> str | float:
    """`--scale` as the spec takes it: "auto" or a number (validated there)."""
    try:
        return text if text == "auto" else float(text)
    except ValueError:
        fail(f"--scale: expected auto, 1, 0.5 or 0.25, got {text!r}")
        raise


@app.command()
def interpolate(
    inputs: Annotated[list[str], typer.Argument(help="Two frames (A B) or one sequence pattern (plate.####.exr).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or pattern for several frames.")],
    method: Annotated[
        str, typer.Option(help="auto (learned when its weights are installed, else flow), flow, learned or generative.")
    ] = "auto",
    model: Annotated[
        str | None, typer.Option(help="Learned model (dreamplate models list); default rife-hdv3.")
    ] = None,
    runtime: Annotated[
        str | None,
        typer.Option(help="Learned: onnx (default; TensorRT > CUDA > CPU) or torch. Generative: auto, torch or onnx."),
    ] = None,
    scale: Annotated[
        str, typer.Option(help="Learned: working scale of the motion estimate: auto, 1, 0.5 or 0.25.")
    ] = "auto",
    tta: Annotated[bool, typer.Option(help="Learned: add mirrored and time-reversed passes (slower).")] = False,
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
    prompt: Annotated[str | None, typer.Option(help="Generative: what the in-betweens show.")] = None,
    seed: Annotated[int | None, typer.Option(help="Generative: seed (default 0).")] = None,
    steps: Annotated[int | None, typer.Option(help="Generative: denoising steps (default 30).")] = None,
) -> None:
    """Make in-between frames: `A B -o mid.exr`, or retime `plate.####.exr --factor 2 -o out.####.exr`.

    `FIRST LAST --method generative --model M --frames N --prompt T -o 'out.####.exr'`: N frames from a video
    model, keys included, numbered from FIRST's frame number (else 1).
    """
    if method == "generative":
        fields = {"prompt": prompt, "model": model, "seed": seed, "steps": steps, "colorspace": colorspace}
        fields.update(ocio=None if ocio is None else str(ocio), part=part, view=view, compression=compression)
        fields["pixel_type"] = "float" if float32 else None
        from dreamplate.cli.generate import interpolate_generative

        interpolate_generative(inputs, output, fields, frames, force, runtime)
        return
    from dreamplate.interp.retime import run_interpolate
    from dreamplate.interp.spec import InterpolateSpec
    from dreamplate.io.exr import COMPRESSIONS

    if compression not in COMPRESSIONS:
        fail(f"--compression: unknown {compression!r}; choose one of {', '.join(COMPRESSIONS)}")
    spec = spec_or_fail(
        InterpolateSpec,
        dict(
            inputs=inputs,
            output=output,
            method=method,
            model=model,
            runtime=runtime or "onnx",
            scale=_scale(scale),
            tta=tta,
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
        ),
    )
    run_op(run_interpolate, spec, force)
