"""Relight / restyle a plate with a video-to-video model: keep its structure and motion, change light and look.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the spec, the plate's headers, the matte, the colour space and the outputs;
2. strength 0: the plate passes through unchanged, no model loaded, each frame with its provenance;
3. resolve the model (it must do "v2v"), the draft settings and the geometry (plate -> model frame);
4. windows: long plates in overlapping chunks, one seed schedule;
5. stream the windows: encode, generate, anchor colour to window 0, decode against the plate, blend the overlaps,
   composite over the plate inside the matte, write each frame as soon as no later window touches it.

Strength on the two families: Wan (WanVideoToVideoPipeline) takes it as its img2img `strength` directly. LTX-Video
(LTXConditionPipeline) has no such knob for a whole video; the plate goes in as a video condition at frame 0 whose
condition strength is 1 - strength (1.0 would keep the plate, 0 ignores it). That mapping is untuned.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.errors import ModelError
from dreamplate.gen.model_run import prepare_model
from dreamplate.gen.pipeline_call import StepCallback, call_pipeline, to_pil, v2v_inputs
from dreamplate.gen.settings import settings_parameters
from dreamplate.gen.sources import PlateRun, check_plate, prepare_plate_run
from dreamplate.gen.spec import RelightSpec
from dreamplate.gen.stream import stream_windows
from dreamplate.gen.windows import Window
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.reading import read_source
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)


def run_relight(spec: RelightSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the relit plate `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError/JobError before any output exists when something is wrong, Cancelled
    when `cancelled()` turns true (between frames or denoising steps; finished frames stay, none is half written).
    `only_frames`: just those output frame numbers (a chunk of a farm job); every window that touches them runs.
    """
    # 1. Check everything that needs no model.
    run = prepare_plate_run(spec, "relight", options)
    spec, plate = run.spec, run.plate

    # 2. Strength 0 is the identity: no model, the plate as it is.
    if spec.strength == 0:
        return _pass_through(run)

    # 3. The model: it must do video-to-video.
    from dreamplate.gen.models import resolve_model

    model = prepare_model(spec, resolve_model(spec.model), "v2v", plate.size)
    if spec.light_reference is not None:
        raise ModelError(
            f"--light-reference: {model.pipeline_class} takes no reference image; use `dreamplate sketch` with a Wan "
            "VACE model (it takes the plate as control video and the reference as its reference image)"
        )
    if model.info.family == "wan":
        v2v_inputs(model.info, [], spec.strength, model.settings.steps)  # refuses a strength that leaves no step

    # 4. Windows.
    windows = model.windows(len(plate.frames))
    ran = model.ran_windows(windows)
    log.info(
        "relight: %d frames in %d windows of %d (overlap %d) at %dx%d, %d steps%s with %s (%s)",
        len(plate.frames),
        len(windows),
        ran["window"],
        ran["overlap"],
        *model.geometry.model_size,
        model.settings.steps,
        " (draft)" if spec.draft else "",
        model.pipeline_class,
        model.info.name or model.info.path,
    )
    params = model.parameters(spec, **ran)

    def provenance(frame: int) -> Provenance:
        sources, source_frames = [str(plate.paths[frame])], [float(frame)]
        return model.provenance("relight", spec, params, sources, source_frames, run.space.name, strength=spec.strength)

    def generate(win: Window, model_in: np.ndarray, seed: int, on_step: StepCallback) -> np.ndarray:
        kwargs = model.call_arguments(spec, seed)
        kwargs.update(v2v_inputs(model.info, to_pil(model_in), spec.strength, model.settings.steps))
        return call_pipeline(model.pipe.get(), kwargs, f"relight window {win.index}", run.cancelled, on_step)

    # 5. Stream the windows.
    result = stream_windows(run, model, windows, generate, provenance)
    result.method = model.describe()
    return result


def relight_frames(spec: RelightSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the plate's frames), for chunking."""
    return check_plate(spec.inputs[0], spec.frames, spec.part, spec.view).frames


def _pass_through(run: PlateRun) -> PlateResult:
    """Strength 0: every plate frame written unchanged with its provenance; no model is resolved or loaded."""
    spec, plate = run.spec, run.plate
    params = settings_parameters(spec)

    def provenance(frame: int) -> Provenance:
        return Provenance(
            operation="relight",
            method="passthrough",
            parameters=params,
            sources=[str(plate.paths[frame])],
            source_frames=[float(frame)],
            seed=spec.seed,
            prompt=spec.prompt or None,
            strength=0.0,
            colorspace=run.space.name,
        )

    def write(frame: int, path: Path, frame_provenance: Provenance) -> None:
        run.writer.passthrough(path, read_source(plate.paths[frame], spec.part, spec.view), frame_provenance)

    frames = run.frame_run(provenance)
    frames.result.method = "passthrough (strength 0)"
    return frames.write(run.frames, frames.pending(run.frames, run.options.get("force", False)), write)
