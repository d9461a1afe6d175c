"""Image to video: a still made into a shot; the still is the first frame, bit for bit, the model makes the motion.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the still (one EXR frame with colour), its matte, the colour space and the outputs;
2. skip the model when every generated frame is already written with the same provenance;
3. resolve the model for "i2v" (how each family takes the still: `dreamplate.gen.shot`);
4. generate once, at the next k*m+1 frame count (the extra frames dropped);
5. write: the first frame is the still file itself (every channel, bit for bit); the others are the model's frames
   decoded against the still (`from_model`: its highlights and detail where the model kept them) and, with
   `--mask`, composited over the still outside the matte, so what the matte leaves out stays exactly still.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from dreamplate.gen.create_spec import AnimateSpec
from dreamplate.gen.model_run import ModelRun, prepare_model
from dreamplate.gen.pipeline_call import call_pipeline, to_pil
from dreamplate.gen.plate import composite_with_matte, from_model, to_model
from dreamplate.gen.settings import apply_draft
from dreamplate.gen.shot import (
    Still,
    check_starts_on_still,
    check_still,
    first_frame_inputs,
    generated_count,
    generated_image,
    matte_image,
    shot_outputs,
    still_colour,
    still_matte,
)
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)


def run_animate(spec: AnimateSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the shot first_frame .. first_frame + frames - 1 starting on the still; return what was written.

    Raises InputError/ColorError/ModelError before any output exists when the still, matte, outputs or model do not
    fit; Cancelled between denoising steps (nothing written then) or between frames (finished frames stay).
    """
    # 1. The still, its matte, the outputs.
    spec = apply_draft(spec, "animate")
    still = check_still(spec.inputs[0], spec.part, spec.view)
    matte = still_matte(spec, still)
    colour = still_colour(spec, still)
    mask_inputs = [Path(spec.mask)] if spec.mask and Path(spec.mask).is_file() else []
    shot = shot_outputs(spec, dict(options), [still.path, *mask_inputs], colour)

    # 3 (before 2: provenance names the model). The model.
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    model = prepare_model(spec, info, "i2v", still.size)
    check_starts_on_still(info, model.pipeline_class, "animate")
    generated = generated_count(info, spec.frames, "animate")
    params = model.parameters(spec, first_frame=spec.first_frame, generated_frames=generated)
    for name in ("window", "overlap"):
        params.pop(name, None)  # one model call: these do not apply
    first = shot.frames[0]

    def provenance(frame: int) -> Provenance:
        method = "still" if frame == first else None
        return model.provenance(
            "animate", spec, params, [str(still.path)], [float(first)], colour[1].name, method=method
        )

    # 2. Finished frames are skipped; the model runs only when a generated frame is missing.
    progress = FrameProgress.of("animate", len(shot.wanted), options)
    frame_run = FrameRun(shot.outputs, provenance, progress, PlateResult(output=shot.label))
    todo = frame_run.pending(shot.wanted, options.get("force", False))
    linear = None
    if any(f != first for f in todo):
        # 4. Generate once.
        def on_step(step: int, steps: int) -> None:
            progress.report(f"step {step}/{steps}")

        model_frames = frames_from_still(spec, model, still, matte, generated, options.get("cancelled"), on_step)
        linear = from_model(
            model_frames[: spec.frames], model.geometry, model.space, np.repeat(still.rgb[None], spec.frames, axis=0)
        )
        if matte is not None:
            still_rgb = np.repeat(still.rgb[None], len(linear), axis=0)
            linear = composite_with_matte(linear, still_rgb, np.repeat(matte[None], len(linear), 0), spec.feather)

    # 5. Write: the still as it is, then the generated frames.
    def write(frame: int, path: Path, frame_provenance: Provenance) -> None:
        if frame == first:
            shot.writer.passthrough(path, still.image, frame_provenance)
            return
        assert linear is not None
        image = generated_image(still, linear[frame - first])
        shot.writer.write(path, image, frame_provenance, keep_timecode=False)

    result = frame_run.write(shot.wanted, todo, write)
    result.method = f"i2v {model.describe()}"
    return result


def frames_from_still(
    spec: AnimateSpec,
    model: ModelRun,
    still: Still,
    matte: np.ndarray | None,
    generated: int,
    cancelled: Any,
    on_step: Any,
) -> np.ndarray:
    """The model's frames (generated, h, w, 3) in [0, 1] for a shot starting on `still`, one pipeline call."""
    still_pil = to_pil(to_model(still.rgb[None], model.geometry, model.space))[0]
    mask = matte_image(matte, model.geometry) if matte is not None else None
    kwargs = model.call_arguments(spec, spec.seed)
    kwargs.update(first_frame_inputs(model.pipeline_class, still_pil, generated, model.geometry.model_size, mask))
    return call_pipeline(model.pipe.get(), kwargs, "animate", cancelled, on_step)


def animate_frames(spec: AnimateSpec) -> list[int]:
    """The output frame numbers: first_frame .. first_frame + frames - 1."""
    return list(range(spec.first_frame, spec.first_frame + spec.frames))
