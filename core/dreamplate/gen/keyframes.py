"""Generative keyframes: the frames between two or more keyframes at any frame numbers, passing exactly through each.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the keys (EXR, same display window, colour) and the outputs (first key .. last key, one file per frame);
2. skip the model when every in-between is already written with the same provenance;
3. resolve the model: "keyframes" (Wan VACE: keys in the control video, mask 0 on keys and 255 between; LTX-Video:
   one image condition per key) or, for exactly two keys, "flf2v" (Wan image-to-video with `last_image`);
4. generate once: the shot is last - first + 1 frames; a count the model cannot take is padded at the end to the
   next valid one (keyframes models) and the padding dropped. A shot longer than one window (`--window`) is made in
   windows (`plan_chain`), one after another with one seed schedule: a window ends on the furthest key it reaches
   and the next starts on that key (they share it); between keys further apart than a window, a window continues
   from the last `overlap` frames of the one before. Every window is conditioned on the keys inside it and the
   frames it shares with the window before (VACE frames + mask, LTX frame conditions). Wan FLF2V (two keys, one
   first and one last frame) has nothing to share between windows and stays one call;
5. write: each key frame is the key file itself (every channel, bit for bit), each in-between is the model's frame
   decoded against the nearer key's plate (`from_model`: highlights and detail come from that key).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from dreamplate.color.ocio import SpaceChoice
from dreamplate.errors import InputError, ModelError
from dreamplate.gen.model_run import ModelRun, prepare_model
from dreamplate.gen.pipeline_call import call_pipeline, to_pil
from dreamplate.gen.plate import from_model, onto_plate, to_model
from dreamplate.gen.settings import apply_draft
from dreamplate.gen.sources import PlateRun, PlateSequence, exr_outputs, plate_colour, read_plate, read_reference
from dreamplate.gen.spec import KeyframesSpec
from dreamplate.gen.windows import plan_chain
from dreamplate.io.exr import ExrImage, window_size
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import check_sources
from dreamplate.ops.plate.writing import FrameWriter

log = logging.getLogger(__name__)


def run_keyframes(spec: KeyframesSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write frames first key .. last key, generated between the keys; return what was written and skipped.

    Raises InputError/ModelError before any output exists when keys, outputs or the model do not fit; Cancelled
    between denoising steps (nothing written then) or between frames (finished frames stay).
    """
    # 1. Keys and outputs.
    spec = apply_draft(spec, "keyframes")
    keys = {int(f): Path(p) for f, p in sorted(spec.keys.items())}
    first_frame, last_frame = min(keys), max(keys)
    for frame, path in keys.items():
        if not path.is_file():
            raise InputError(f"--key {frame}={path}: no such file")
        if path.suffix.lower() != ".exr":
            raise InputError(f"--key {frame}={path}: keys are scene-linear EXR frames")
    first_info = check_sources(keys, spec.part, spec.view, same_channels=False)[0]
    cfg, space = plate_colour(spec.ocio, first_info.attributes, spec.colorspace)
    frames = list(range(first_frame, last_frame + 1))
    label, outputs = exr_outputs(spec.output, frames)
    check_outputs(outputs, keys.values())
    only_frames = options.get("only_frames")
    check_only_frames(label, frames, only_frames)
    wanted = [f for f in frames if only_frames is None or f in set(only_frames)]
    writer = FrameWriter(cfg, space, spec.pixel_type, spec.compression)

    # 3 (before 2: provenance names the model). The model.
    from dreamplate.gen.models import resolve_model

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
    model = prepare_model(spec, info, purpose, window_size(first_info.display_window))
    count = len(frames)
    if count > model.settings.window and purpose == "keyframes":
        return _run_windows(spec, options, model, keys, frames, wanted, writer, space, label, outputs)
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
    if spec.light_reference is not None and model.pipeline_class != "WanVACEPipeline":
        raise ModelError(f"--light-reference: {model.pipeline_class} takes no reference image; use a Wan VACE model")
    params = model.parameters(
        spec, keys={str(f): str(p) for f, p in keys.items()}, purpose=purpose, generated_frames=generated
    )
    for name in ("window", "overlap", "strength"):
        params.pop(name, None)  # one model call, no strength: these do not apply

    def provenance(frame: int) -> Provenance:
        if frame in keys:
            return model.provenance(
                "keyframes", spec, params, [str(keys[frame])], [float(frame)], space.name, method="key"
            )
        return model.provenance(
            "keyframes", spec, params, [str(p) for p in keys.values()], [float(f) for f in keys], space.name
        )

    # 2. Finished frames are skipped; the model runs only when an in-between is missing.
    progress = FrameProgress.of("keyframes", len(wanted), options)
    frame_run = FrameRun(outputs, provenance, progress, PlateResult(output=label))
    todo = frame_run.pending(wanted, options.get("force", False))
    plates = {f: read_plate(p, spec.part, spec.view) for f, p in keys.items()}
    model_frames = None
    if any(f not in keys for f in todo):
        # 4. Generate once.
        key_pixels = to_model(np.stack([plates[f][1] for f in keys]), model.geometry, model.space)
        key_images = dict(zip(keys, to_pil(key_pixels), strict=True))
        kwargs: dict[str, Any] = {**model.call_arguments(spec, spec.seed), "num_frames": generated}
        kwargs.update(_key_inputs(purpose, info.family, key_images, first_frame, generated, model.geometry.model_size))
        if spec.light_reference is not None:
            size = model.geometry.model_size
            kwargs["reference_images"] = [read_reference(Path(spec.light_reference), size, model.space)]

        def on_step(step: int, steps: int) -> None:
            progress.report(f"step {step}/{steps}")

        model_frames = call_pipeline(model.pipe.get(), kwargs, "keyframes", options.get("cancelled"), on_step)

    # 5. Write: keys as they are, in-betweens decoded against the nearer key.
    def write(frame: int, path: Path, frame_provenance: Provenance) -> None:
        if frame in keys:
            writer.passthrough(path, plates[frame][0], frame_provenance)
            return
        assert model_frames is not None
        nearer = min(keys, key=lambda k: (abs(k - frame), k))
        image, rgb = plates[nearer]
        index = frame - first_frame
        linear = from_model(model_frames[index : index + 1], model.geometry, model.space, rgb[None])[0]
        writer.write(path, onto_plate(image, linear), frame_provenance)

    result = frame_run.write(wanted, todo, write)
    result.method = f"{purpose} {model.describe()}"
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


def _run_windows(
    spec: KeyframesSpec,
    options: RunOptions,
    model: ModelRun,
    keys: dict[int, Path],
    frames: list[int],
    wanted: list[int],
    writer: FrameWriter,
    space: SpaceChoice,
    label: str,
    outputs: dict[int, Path],
) -> PlateResult:
    """Steps 4-5 for a shot longer than one window: the windows one after another, each frame written when made."""
    from dreamplate.gen.extend import ChainShot, context_frames

    first = frames[0]
    context = context_frames(None, model, model.settings.window - 1, leading=True)
    stops = [f - first for f in keys]
    windows = plan_chain(len(frames), model.settings.window, context, model.info.temporal_multiple, stops)
    log.info("keyframes: %d frames in %d windows sharing their keys (context %d)", len(frames), len(windows), context)
    params = model.parameters(
        spec, keys={str(f): str(p) for f, p in keys.items()}, purpose=model.purpose, context=context
    )
    params.pop("strength", None)
    plate = PlateSequence(
        "keys", list(keys), dict(keys), check_sources(keys, spec.part, spec.view, same_channels=False)[0]
    )
    run = PlateRun("keyframes", spec, options, plate, wanted, None, space, writer, label, outputs)
    known = {f - first: p for f, p in keys.items()}
    shot = ChainShot(run, model, frames, known, windows, params, known_method="key", ends=True)
    plates = {f: read_plate(p, spec.part, spec.view) for f, p in keys.items()}

    def under(index: int) -> tuple[ExrImage, np.ndarray]:
        frame = first + index
        return plates[min(keys, key=lambda k: (abs(k - frame), k))]

    return shot.run("keyframes", under)
