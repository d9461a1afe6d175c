"""Relight / restyle a plate with a video-to-video model: keep its structure and motion, change light and look.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the spec, the plate's headers, the matte, the colour space and the outputs;
2. strength 0: the plate passes through unchanged, no model loaded, each frame with its provenance;
3. resolve the model (it must do "v2v") and the draft settings;
4. geometry (plate -> model frame) and windows (long plates in overlapping chunks, one seed schedule);
5. stream the windows: encode, generate, anchor colour to window 0, decode against the plate, blend the overlaps,
   composite over the plate inside the matte, write each frame as soon as no later window touches it.

Strength on the two families: Wan (WanVideoToVideoPipeline) takes it as its img2img `strength` directly. LTX-Video
(LTXConditionPipeline) has no such knob for a whole video; the plate goes in as a video condition at frame 0 whose
condition strength is 1 - strength (1.0 would keep the plate, 0 ignores it). That mapping is untuned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from dreamplate.color.model_space import video_model_space
from dreamplate.errors import Cancelled, ModelError
from dreamplate.gen.engine import (
    GenResult,
    LazyPipeline,
    ProgressCallback,
    StepCallback,
    Stream,
    call_pipeline,
    check_plate,
    prepare_plate_run,
    read_plate,
    render_settings,
    scheduler_name,
    sequence_length,
    settings_parameters,
    stream_windows,
    to_pil,
    v2v_inputs,
    write_generated,
    write_passthrough,
)
from dreamplate.gen.plate import fit_geometry
from dreamplate.gen.spec import RelightSpec
from dreamplate.gen.windows import Window, plan_windows
from dreamplate.io.outputs import finished
from dreamplate.io.provenance import Provenance

log = logging.getLogger(__name__)


def run_relight(
    spec: RelightSpec,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    only_frames: Collection[int] | None = None,
    force: bool = False,
) -> GenResult:
    """Write the relit plate `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError/JobError before any output exists when something is wrong, Cancelled
    when `cancelled()` turns true (between frames or denoising steps; finished frames stay, none is half written).
    `only_frames`: just those output frame numbers (a chunk of a farm job); every window that touches them runs.
    """
    # 1. Check everything that needs no model.
    spec, plate, masks, cfg, space, label, outputs = prepare_plate_run(spec, "relight", only_frames)
    result = GenResult(output=label)

    # 2. Strength 0 is the identity: no model, the plate as it is.
    if spec.strength == 0:
        params = settings_parameters(spec)
        wanted = [f for f in plate.frames if only_frames is None or f in set(only_frames)]
        for done, frame in enumerate(wanted, start=1):
            if cancelled is not None and cancelled():
                raise Cancelled(f"relight: cancelled after {done - 1} of {len(wanted)} frames")
            provenance = Provenance(
                operation="relight",
                method="passthrough",
                parameters=params,
                sources=[str(plate.paths[frame])],
                source_frames=[float(frame)],
                seed=spec.seed,
                prompt=spec.prompt or None,
                strength=0.0,
                colorspace=space.name,
            )
            path = outputs[frame]
            if not force and finished(path, provenance):
                result.skipped.append(path)
            else:
                image, _rgb = read_plate(plate.paths[frame], spec.part, spec.view)
                write_passthrough(path, image, provenance, cfg, space, spec)
                result.written.append(path)
            if progress is not None:
                progress(done, len(wanted), f"passed {path.name} through")
        result.method = "passthrough (strength 0)"
        return result

    # 3. The model: it must do video-to-video.
    from dreamplate.gen.models import resolve_model
    from dreamplate.gen.pipelines import describe_device, pipeline_class_for

    info = resolve_model(spec.model)
    pipeline_class = pipeline_class_for(info, "v2v")
    if spec.light_reference is not None:
        raise ModelError(
            f"--light-reference: {pipeline_class} takes no reference image; use `dreamplate sketch` with a Wan VACE "
            "model (it takes the plate as control video and the reference as its reference image)"
        )
    settings = render_settings(spec, info)
    if info.family == "wan":
        v2v_inputs(info, [], spec.strength, settings.steps)  # refuses a strength that leaves no step, early

    # 4. Geometry and windows.
    geometry = fit_geometry(plate.size, info.spatial_multiple, settings.target_size, spec.max_area)
    windows = plan_windows(len(plate.frames), settings.window, settings.overlap, info.temporal_multiple)
    log.info(
        "relight: %d frames in %d windows of %d (overlap %d) at %dx%d, %d steps%s with %s (%s)",
        len(plate.frames),
        len(windows),
        windows[0].length,
        settings.overlap,
        *geometry.model_size,
        settings.steps,
        " (draft)" if spec.draft else "",
        pipeline_class,
        info.name or info.path,
    )
    device = describe_device(spec.device)
    pipe = LazyPipeline(info, "v2v", spec.device, spec.offload, spec.runtime)  # loaded by the first window that runs
    params = settings_parameters(
        spec,
        model_size=list(geometry.model_size),
        draft_steps=settings.steps,
        window=settings.window,
        overlap=settings.overlap,
        scheduler=scheduler_name(info.path),
        pipeline=pipeline_class,
        space=video_model_space().name,
    )

    def provenance(frame: int) -> Provenance:
        return Provenance(
            operation="relight",
            method=f"v2v {pipeline_class}",
            parameters=params,
            sources=[str(plate.paths[frame])],
            source_frames=[float(frame)],
            model=info.name or str(info.path),
            weights_sha256=info.weights_sha256,
            seed=spec.seed,
            prompt=spec.prompt,
            strength=spec.strength,
            colorspace=space.name,
            runtime=pipe.label or device,  # set once the pipeline is loaded: before, only resume checks read it
        )

    common = {
        "prompt": spec.prompt,
        "negative_prompt": spec.negative_prompt,
        "num_inference_steps": settings.steps,
        "guidance_scale": spec.guidance,
        "height": geometry.model_size[1],
        "width": geometry.model_size[0],
    }

    def generate(win: Window, model_in: np.ndarray, seed: int, on_step: StepCallback) -> np.ndarray:
        from dreamplate.gen.pipelines import make_generator

        kwargs: dict[str, Any] = {**common, "generator": make_generator(seed)}
        kwargs["max_sequence_length"] = sequence_length(pipe.get(), info.family)
        kwargs.update(v2v_inputs(info, to_pil(model_in), spec.strength, settings.steps))
        return call_pipeline(pipe.get(), kwargs, f"relight window {win.index}", cancelled, on_step)

    # 5. Stream the windows.
    stream = Stream(
        plate=plate,
        outputs=outputs,
        windows=windows,
        geometry=geometry,
        space=video_model_space(),
        generate=generate,
        provenance=provenance,
        write=lambda path, image, rgb, prov: write_generated(path, image, rgb, prov, cfg, space, spec),
        seed=spec.seed,
        part=spec.part,
        view=spec.view,
        masks=masks,
        mask_channel=spec.mask_channel,
        feather=spec.feather,
    )
    stream_windows(stream, result, progress, cancelled, force, only_frames)
    result.method = f"{pipeline_class} ({info.name or info.path.name}) on {pipe.label or device}"
    return result


def relight_frames(spec: RelightSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the plate's frames), for chunking."""
    return check_plate(spec.inputs[0], spec.frames, spec.part, spec.view).frames
