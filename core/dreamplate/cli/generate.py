"""`relight`, `sketch` and `keyframes`: the generative operations on plates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dreamplate.cli.common import app, fail, run_op, spec_or_fail

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
_Runtime = Annotated[
    str | None,
    typer.Option(help="auto (ONNX Runtime where a cached export exists, else torch), torch, or onnx (exports once)."),
]
_Force = Annotated[bool, typer.Option(help="Re-render frames that are already written.")]


def _gen_spec(cls, fields: dict):
    """Build a generative op's spec from the options given (None = not given, so --from-draft can fill it)."""
    return spec_or_fail(cls, {k: v for k, v in fields.items() if v is not None and v is not False})


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
    runtime: _Runtime = None,
    force: _Force = False,
) -> None:
    """Relight / restyle a plate with a video model: same structure and motion, the light the prompt asks for."""
    fields = _common_gen(**{k: v for k, v in locals().items() if k not in ("plate", "force")})
    from dreamplate.gen.relight import run_relight
    from dreamplate.gen.spec import RelightSpec

    spec = _gen_spec(RelightSpec, {**fields, "inputs": [plate]})
    run_op(run_relight, spec, force)


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
    runtime: _Runtime = None,
    force: _Force = False,
) -> None:
    """Make a finished shot from a blocking pass: Wan VACE control video, else video-to-video at high strength."""
    fields = _common_gen(**{k: v for k, v in locals().items() if k not in ("blocking", "force")})
    from dreamplate.gen.sketch import run_sketch
    from dreamplate.gen.spec import SketchSpec

    spec = _gen_spec(SketchSpec, {**fields, "inputs": [blocking]})
    run_op(run_sketch, spec, force)


def _keys(texts: list[str]) -> dict[int, str]:
    """`--key 1001=a.exr` (repeatable) -> {1001: "a.exr"}."""
    keys: dict[int, str] = {}
    for text in texts:
        frame, sep, path = text.partition("=")
        if not sep or not frame.strip().lstrip("-").isdigit() or not path:
            fail(f"--key: expected FRAME=IMAGE such as 1001=key_a.exr, got {text!r}")
        if int(frame) in keys:
            fail(f"--key: frame {int(frame)} given twice")
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
    runtime: _Runtime = None,
    force: _Force = False,
) -> None:
    """Generate every frame from the first key to the last, passing exactly through each key."""
    fields = _common_gen(**{k: v for k, v in locals().items() if k not in ("key", "force")})
    from dreamplate.gen.keyframes import run_keyframes
    from dreamplate.gen.spec import KeyframesSpec

    spec = _gen_spec(KeyframesSpec, {**fields, "keys": _keys(key)})
    run_op(run_keyframes, spec, force)


def interpolate_generative(
    inputs: list[str], output: str, fields: dict, count: str | None, force: bool, runtime: str | None = None
) -> None:
    """`interpolate FIRST LAST --method generative --frames N`: N frames (keys included) from FIRST to LAST.

    Frame numbers: FIRST's own frame number (the digits before its extension, e.g. plate.1001.exr) numbers the
    first output frame, the rest follow consecutively; without digits the output starts at 1. `runtime`: auto,
    torch or onnx for the video model (None: the spec's default, auto).
    """
    import re

    from dreamplate.gen.keyframes import run_keyframes
    from dreamplate.gen.spec import KeyframesSpec

    if len(inputs) != 2:
        fail(f"--method generative: give two keyframes FIRST LAST, got {len(inputs)} inputs")
    if count is None or not count.isdigit() or int(count) < 3:
        fail(f"--frames: with --method generative, the number of frames (3 or more, keys included), got {count!r}")
    match = re.search(r"(\d+)\.[^.]+$", Path(inputs[0]).name)
    start = int(match.group(1)) if match else 1
    keys = {start: inputs[0], start + int(count) - 1: inputs[1]}
    spec = _gen_spec(KeyframesSpec, {**fields, "runtime": runtime, "keys": keys, "output": output})
    run_op(run_keyframes, spec, force)
