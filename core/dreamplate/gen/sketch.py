"""Sketch to shot: a blocking pass, rough render or scribbles become a finished shot with their layout and motion.

Steps, in order (nothing is written before step 4, no model loads before step 2):
1. check the spec, the blocking frames' headers, the matte, the colour space and the outputs;
2. resolve the model: control video (Wan VACE: the blocking frames as `video`, every mask 255 = generate all,
   `--light-reference` as its reference image) where it has "control", else video-to-video at high strength
   (default 0.9); the log says which;
3. geometry and windows, as relight;
4. stream the windows: encode, generate, anchor colour to window 0, decode, blend, matte, write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from dreamplate.color.model_space import video_model_space
from dreamplate.errors import InputError, ModelError
from dreamplate.gen.engine import (
    GenResult,
    LazyPipeline,
    ProgressCallback,
    StepCallback,
    Stream,
    call_pipeline,
    check_plate,
    prepare_plate_run,
    read_reference,
    render_settings,
    scheduler_name,
    sequence_length,
    settings_parameters,
    stream_windows,
    to_pil,
    v2v_inputs,
    write_generated,
)
from dreamplate.gen.plate import fit_geometry
from dreamplate.gen.spec import SketchSpec
from dreamplate.gen.windows import Window, plan_windows
from dreamplate.io.provenance import Provenance

log = logging.getLogger(__name__)


def run_sketch(
    spec: SketchSpec,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    only_frames: Collection[int] | None = None,
    force: bool = False,
) -> GenResult:
    """Write the finished shot `spec` asks for from its blocking frames; return what was written and skipped.

    Errors and cancel as `run_relight`: everything is checked before a model loads or a file is written.
    """
    # 1. Check everything that needs no model.
    spec, plate, masks, cfg, space, label, outputs = prepare_plate_run(spec, "sketch", only_frames)
    if spec.light_reference is not None and not Path(spec.light_reference).is_file():
        raise InputError(f"--light-reference {spec.light_reference}: no such file")

    # 2. The model: control video where it can, else v2v at high strength.
    from dreamplate.gen.models import resolve_model
    from dreamplate.gen.pipelines import describe_device, make_generator, pipeline_class_for

    info = resolve_model(spec.model)
    purpose = "control" if "control" in info.capabilities else "v2v"
    if purpose == "v2v" and "v2v" not in info.capabilities:
        what = f"model {info.name or info.path} ({info.pipeline_class})"
        can = ", ".join(sorted(info.capabilities))
        raise ModelError(f"sketch: {what} has no control or v2v input; it can: {can}")
    pipeline_class = pipeline_class_for(info, purpose)
    if purpose == "v2v" and spec.light_reference is not None:
        raise ModelError(f"--light-reference: {pipeline_class} takes no reference image; use a Wan VACE model")
    log.info(
        "sketch: %s with %s",
        "control video (VACE)" if purpose == "control" else f"video-to-video at strength {spec.strength:g}",
        pipeline_class,
    )
    settings = render_settings(spec, info)
    if purpose == "v2v" and info.family == "wan":
        v2v_inputs(info, [], spec.strength, settings.steps)  # refuses a strength that leaves no step, early

    # 3. Geometry and windows.
    geometry = fit_geometry(plate.size, info.spatial_multiple, settings.target_size, spec.max_area)
    windows = plan_windows(len(plate.frames), settings.window, settings.overlap, info.temporal_multiple)
    space_v = video_model_space()
    reference = None
    if spec.light_reference is not None:
        reference = read_reference(Path(spec.light_reference), geometry.model_size, space_v)
    device = describe_device(spec.device)
    pipe = LazyPipeline(info, purpose, spec.device, spec.offload, spec.runtime)  # loaded by the first window that runs
    params = settings_parameters(
        spec,
        purpose=purpose,
        model_size=list(geometry.model_size),
        draft_steps=settings.steps,
        window=settings.window,
        overlap=settings.overlap,
        scheduler=scheduler_name(info.path),
        pipeline=pipeline_class,
        space=space_v.name,
    )
    if purpose == "control":
        params.pop("strength", None)  # VACE follows the control video; strength does not apply

    def provenance(frame: int) -> Provenance:
        return Provenance(
            operation="sketch",
            method=f"{purpose} {pipeline_class}",
            parameters=params,
            sources=[str(plate.paths[frame])],
            source_frames=[float(frame)],
            model=info.name or str(info.path),
            weights_sha256=info.weights_sha256,
            seed=spec.seed,
            prompt=spec.prompt,
            strength=spec.strength if purpose == "v2v" else None,
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
        from PIL import Image

        kwargs: dict[str, Any] = {**common, "generator": make_generator(seed)}
        kwargs["max_sequence_length"] = sequence_length(pipe.get(), info.family)
        frames = to_pil(model_in)
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
            kwargs.update(v2v_inputs(info, frames, spec.strength, settings.steps))
        return call_pipeline(pipe.get(), kwargs, f"sketch window {win.index}", cancelled, on_step)

    # 4. Stream the windows.
    stream = Stream(
        plate=plate,
        outputs=outputs,
        windows=windows,
        geometry=geometry,
        space=space_v,
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
    result = stream_windows(stream, GenResult(output=label), progress, cancelled, force, only_frames)
    result.method = f"{purpose} {pipeline_class} ({info.name or info.path.name}) on {pipe.label or device}"
    return result


def sketch_frames(spec: SketchSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the blocking frames), for chunking."""
    return check_plate(spec.inputs[0], spec.frames, spec.part, spec.view).frames
