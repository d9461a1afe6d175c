"""Sketch to shot: a blocking pass, rough render or scribbles become a finished shot with their layout and motion.

Steps, in order (nothing is written before step 4, no model loads before step 2):
1. check the spec, the blocking frames' headers, the matte, the colour space and the outputs;
2. resolve the model: control video (Wan VACE: the blocking frames as `video`, or with `--control edges` their HED
   line art, every mask 255 = generate all, `--light-reference` as its reference image) where it has "control",
   else video-to-video at high strength (default 0.9); the log says which;
3. geometry and windows, as relight;
4. stream the windows: encode, generate, anchor colour to window 0, decode, blend, matte, write.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.errors import InputError, ModelError
from dreamplate.gen.model_run import prepare_model
from dreamplate.gen.pipeline_call import StepCallback, call_pipeline, to_pil, v2v_inputs
from dreamplate.gen.sources import check_plate, prepare_plate_run, read_reference
from dreamplate.gen.spec import SketchSpec
from dreamplate.gen.stream import stream_windows
from dreamplate.gen.windows import Window
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)


def run_sketch(spec: SketchSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the finished shot `spec` asks for from its blocking frames; return what was written and skipped.

    Errors and cancel as `run_relight`: everything is checked before a model loads or a file is written.
    """
    # 1. Check everything that needs no model.
    run = prepare_plate_run(spec, "sketch", options)
    spec, plate = run.spec, run.plate
    if spec.light_reference is not None and not Path(spec.light_reference).is_file():
        raise InputError(f"--light-reference {spec.light_reference}: no such file")

    # 2. The model: control video where it can, else v2v at high strength.
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    purpose = "control" if "control" in info.capabilities else "v2v"
    if purpose == "v2v" and "v2v" not in info.capabilities:
        what = f"model {info.name or info.path} ({info.pipeline_class})"
        can = ", ".join(sorted(info.capabilities))
        raise ModelError(f"sketch: {what} has no control or v2v input; it can: {can}")
    if purpose == "v2v" and spec.control == "edges":
        raise ModelError(
            f"--control edges: model {info.name or info.path} ({info.pipeline_class}) has no control-video input; "
            "use a Wan VACE model"
        )
    model = prepare_model(spec, info, purpose, plate.size)
    if purpose == "v2v" and spec.light_reference is not None:
        raise ModelError(f"--light-reference: {model.pipeline_class} takes no reference image; use a Wan VACE model")
    control = line_art_maker() if spec.control == "edges" else None  # the HED weights checked before any write
    log.info(
        "sketch: %s with %s",
        f"control video of the {'line art' if control else 'blocking'} (VACE)"
        if purpose == "control"
        else f"video-to-video at strength {spec.strength:g}",
        model.pipeline_class,
    )
    if purpose == "v2v" and info.family == "wan":
        v2v_inputs(info, [], spec.strength, model.settings.steps)  # refuses a strength that leaves no step, early

    # 3. Windows, and the reference image the model sees.
    windows = model.windows(len(plate.frames))
    reference = None
    if spec.light_reference is not None:
        reference = read_reference(Path(spec.light_reference), model.geometry.model_size, model.space)
    params = model.parameters(spec, purpose=purpose, **model.ran_windows(windows))
    strength = spec.strength if purpose == "v2v" else None
    if purpose == "control":
        params.pop("strength", None)  # VACE follows the control video; strength does not apply

    def provenance(frame: int) -> Provenance:
        sources, source_frames = [str(plate.paths[frame])], [float(frame)]
        return model.provenance("sketch", spec, params, sources, source_frames, run.space.name, strength=strength)

    def generate(win: Window, model_in: np.ndarray, seed: int, on_step: StepCallback) -> np.ndarray:
        from PIL import Image

        kwargs = model.call_arguments(spec, seed)
        frames = to_pil(model_in if control is None else control(model_in))
        if purpose == "control":
            white = Image.new("L", frames[0].size, 255)  # 255: generate everywhere, following the control video
            kwargs.update(
                video=frames,
                mask=[white] * len(frames),
                num_frames=len(frames),
                conditioning_scale=spec.conditioning_scale,
            )
            if reference is not None:
                kwargs["reference_images"] = [reference]
        else:
            kwargs.update(v2v_inputs(info, frames, spec.strength, model.settings.steps))
        return call_pipeline(model.pipe.get(), kwargs, f"sketch window {win.index}", run.cancelled, on_step)

    # 4. Stream the windows.
    result = stream_windows(run, model, windows, generate, provenance)
    result.method = f"{purpose} {model.describe()}"
    return result


LINE_ART = "dreamplate.analyse.hed:control_frames"
"""The edges operation's line art of model frames, named by import string: gen and analyse sit side by side and do
not import each other (tests/test_layers.py), so the function is looked up when a run asks for it."""


def line_art_maker() -> Callable[[np.ndarray], np.ndarray]:
    """`--control edges`: frames (T, h, w, 3) in [0, 1] -> their HED line art, white on black, same shape.

    The HED weights are checked (and converted to ONNX the first time) now, before anything is written.
    """
    module, _, name = LINE_ART.partition(":")
    make = getattr(importlib.import_module(module), name)
    make(np.zeros((1, 32, 32, 3), np.float32))  # loads the network now: a missing weight fails before any write
    return make


def sketch_frames(spec: SketchSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the blocking frames), for chunking."""
    return check_plate(spec.inputs[0], spec.frames, spec.part, spec.view).frames
