"""Generative keyframes: the frames between two or more keyframes at any frame numbers, passing exactly through each.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the keys (EXR, same display window, colour) and the outputs (first key .. last key, one file per frame);
2. skip the model when every in-between is already written with the same provenance;
3. resolve the model: "keyframes" (Wan VACE: keys in the control video, mask 0 on keys and 255 between; LTX-Video:
   one image condition per key) or, for exactly two keys, "flf2v" (Wan image-to-video with `last_image`);
4. generate once: the shot is last - first + 1 frames; a count the model cannot take is padded at the end to the
   next valid one (keyframes models) and the padding dropped;
5. write: each key frame is the key file itself (every channel, bit for bit), each in-between is the model's frame
   decoded against the nearer key's plate (`from_model`: highlights and detail come from that key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np

from dreamplate.color.model_space import video_model_space
from dreamplate.color.ocio import load_config, resolve_input_space
from dreamplate.errors import InputError, ModelError
from dreamplate.gen.engine import (
    GenResult,
    LazyPipeline,
    ProgressCallback,
    apply_draft,
    call_pipeline,
    output_paths,
    part_arg,
    read_plate,
    read_reference,
    render_settings,
    scheduler_name,
    sequence_length,
    settings_parameters,
    to_pil,
    write_generated,
    write_passthrough,
)
from dreamplate.gen.plate import fit_geometry, from_model, to_model
from dreamplate.gen.spec import KeyframesSpec
from dreamplate.io.exr import choose_part, read_info, window_size
from dreamplate.io.outputs import check_outputs, finished
from dreamplate.io.provenance import Provenance

log = logging.getLogger(__name__)


def run_keyframes(
    spec: KeyframesSpec,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    only_frames: Collection[int] | None = None,
    force: bool = False,
) -> GenResult:
    """Write frames first key .. last key, generated between the keys; return what was written and skipped.

    Raises InputError/ModelError before any output exists when keys, outputs or the model do not fit; Cancelled
    between denoising steps (nothing written then).
    """
    # 1. Keys and outputs.
    spec = apply_draft(spec, "keyframes")
    keys = {int(f): Path(p) for f, p in sorted(spec.keys.items())}
    first_frame, last_frame = min(keys), max(keys)
    display = None
    for frame, path in keys.items():
        if not path.is_file():
            raise InputError(f"--key {frame}={path}: no such file")
        if path.suffix.lower() != ".exr":
            raise InputError(f"--key {frame}={path}: keys are scene-linear EXR frames")
        info = choose_part(path, read_info(path), part_arg(spec.part), spec.view)
        if display is None:
            display, first_info = info.display_window, info
        elif info.display_window != display:
            raise InputError(f"{path}: display window {info.display_window} differs from the first key's {display}")
    cfg = load_config(spec.ocio)
    space = resolve_input_space(cfg, first_info.attributes, spec.colorspace)
    frames = list(range(first_frame, last_frame + 1))
    label, outputs = output_paths(spec.output, frames)
    check_outputs(outputs, keys.values())
    wanted = [f for f in frames if only_frames is None or f in set(only_frames)]
    result = GenResult(output=label)

    # 3 (before 2: provenance names the model). The model.
    from dreamplate.gen.models import resolve_model
    from dreamplate.gen.pipelines import describe_device, make_generator, pipeline_class_for

    info = resolve_model(spec.model)
    if "keyframes" in info.capabilities:
        purpose = "keyframes"
    elif "flf2v" in info.capabilities and len(keys) == 2:
        purpose = "flf2v"
    else:
        can = ", ".join(sorted(info.capabilities))
        need = "keyframes (more than two keys)" if "flf2v" in info.capabilities else "keyframes or flf2v"
        what = f"model {info.name or info.path} ({info.pipeline_class})"
        raise ModelError(f"keyframes: {what} cannot do {need}; it can: {can}")
    pipeline_class = pipeline_class_for(info, purpose)
    count = len(frames)
    generated = count
    if not info.valid_frames(count):
        m = info.temporal_multiple
        generated = -(-(count - 1) // m) * m + 1
        if purpose == "flf2v":
            raise ModelError(
                f"keyframes: {info.pipeline_class} ends on its last frame, so the shot must be k*{m}+1 frames; "
                f"{count} is not (try {generated - m} or {generated}), or use a VACE or LTX-Video model"
            )
        log.info("keyframes: %d frames generated as %d (the last %d dropped)", count, generated, generated - count)
    if spec.light_reference is not None and pipeline_class != "WanVACEPipeline":
        raise ModelError(f"--light-reference: {pipeline_class} takes no reference image; use a Wan VACE model")
    settings = render_settings(spec, info)
    geometry = fit_geometry(window_size(display), info.spatial_multiple, settings.target_size, spec.max_area)
    space_v = video_model_space()
    device = describe_device(spec.device)
    lazy = LazyPipeline(info, purpose, spec.device, spec.offload, spec.runtime)  # loaded only if an in-between runs
    params = settings_parameters(
        spec,
        keys={str(f): str(p) for f, p in keys.items()},
        purpose=purpose,
        model_size=list(geometry.model_size),
        draft_steps=settings.steps,
        generated_frames=generated,
        pipeline=pipeline_class,
        space=space_v.name,
        scheduler=scheduler_name(info.path),
    )
    for name in ("window", "overlap", "strength"):
        params.pop(name, None)  # one model call, no strength: these do not apply

    def provenance(frame: int) -> Provenance:
        key = frame in keys
        return Provenance(
            operation="keyframes",
            method="key" if key else f"{purpose} {pipeline_class}",
            parameters=params,
            sources=[str(keys[frame])] if key else [str(p) for p in keys.values()],
            source_frames=[float(frame)] if key else [float(f) for f in keys],
            model=info.name or str(info.path),
            weights_sha256=info.weights_sha256,
            seed=spec.seed,
            prompt=spec.prompt,
            colorspace=space.name,
            runtime=lazy.label or device,  # set once the pipeline is loaded: before, only resume checks read it
        )

    # 2. Finished frames are skipped; the model runs only when an in-between is missing.
    todo = []
    for frame in wanted:
        if not force and finished(outputs[frame], provenance(frame)):
            result.skipped.append(outputs[frame])
        else:
            todo.append(frame)
    done = len(result.skipped)
    plates = {f: read_plate(p, spec.part, spec.view) for f, p in keys.items()}
    model_frames = None
    if any(f not in keys for f in todo):
        # 4. Generate once.
        pipe = lazy.get()
        key_pixels = to_model(np.stack([plates[f][1] for f in keys]), geometry, space_v)
        key_images = dict(zip(keys, to_pil(key_pixels), strict=True))
        kwargs: dict[str, Any] = {
            "prompt": spec.prompt,
            "negative_prompt": spec.negative_prompt,
            "num_inference_steps": settings.steps,
            "guidance_scale": spec.guidance,
            "height": geometry.model_size[1],
            "width": geometry.model_size[0],
            "max_sequence_length": sequence_length(pipe, info.family),
            "num_frames": generated,
            "generator": make_generator(spec.seed),
        }
        kwargs.update(_key_inputs(purpose, info.family, key_images, first_frame, generated, geometry.model_size))
        if spec.light_reference is not None:
            kwargs["reference_images"] = [read_reference(Path(spec.light_reference), geometry.model_size, space_v)]

        def on_step(step: int, steps: int) -> None:
            if progress is not None:
                progress(done, len(wanted), f"step {step}/{steps}")

        model_frames = call_pipeline(pipe, kwargs, "keyframes", cancelled, on_step)

    # 5. Write: keys as they are, in-betweens decoded against the nearer key.
    for frame in todo:
        path = outputs[frame]
        if frame in keys:
            write_passthrough(path, plates[frame][0], provenance(frame), cfg, space, spec)
        else:
            assert model_frames is not None
            nearer = min(keys, key=lambda k: (abs(k - frame), k))
            image, rgb = plates[nearer]
            index = frame - first_frame
            linear = from_model(model_frames[index : index + 1], geometry, space_v, rgb[None])[0]
            write_generated(path, image, linear, provenance(frame), cfg, space, spec)
        result.written.append(path)
        done += 1
        if progress is not None:
            progress(done, len(wanted), f"wrote {path.name}")
    result.method = f"{purpose} {pipeline_class} ({info.name or info.path.name}) on {lazy.label or device}"
    return result


def keyframes_frames(spec: KeyframesSpec) -> list[int]:
    """The output frame numbers: every frame from the first key to the last."""
    frames = [int(f) for f in spec.keys]
    return list(range(min(frames), max(frames) + 1))


def _key_inputs(
    purpose: str, family: str, key_images: dict[int, Any], first: int, generated: int, size: tuple[int, int]
) -> dict[str, Any]:
    """The pipeline arguments that place the keys: VACE control video + masks, LTX conditions, or Wan FLF2V ends."""
    from PIL import Image

    if family == "ltx":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        return {
            "conditions": [
                LTXVideoCondition(image=img, frame_index=f - first, strength=1.0) for f, img in key_images.items()
            ]
        }
    if purpose == "flf2v":
        images = list(key_images.values())
        return {"image": images[0], "last_image": images[-1]}
    grey = Image.new("RGB", size, (128, 128, 128))  # VACE's "nothing here" value
    keep, make = Image.new("L", size, 0), Image.new("L", size, 255)
    at = {f - first: img for f, img in key_images.items()}
    return {
        "video": [at.get(i, grey) for i in range(generated)],
        "mask": [keep if i in at else make for i in range(generated)],
    }
