"""Motion paths: strokes drawn over a still say which element moves where; the model makes the shot that does it.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the still, the strokes (`dreamplate.gen.strokes`: every point inside the frame), each stroke's region (its
   matte, or the region under its start), the optional `--mask`, the colour space and the outputs;
2. the layout control video, at the still's size: frame 0 is the still, each later frame the still with every
   region cut out and pasted where its stroke has got to (`layout_video`);
3. the model: Wan VACE (its control video is the layout, its mask 0 on frame 0 and 255 after, or 255 only on the
   `--mask` matte and the moving regions); LTX-Video and the other Wan pipelines have no control-video input, so
   they are refused with a message saying so;
4. generate once, at the next k*m+1 frame count (the extra frames dropped);
5. write: frame 0 is the still file itself (every channel, bit for bit); the others are decoded against the still
   and, with `--mask`, composited over it outside the matte and the moving regions.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.errors import ModelError
from dreamplate.gen.create_spec import PathsSpec
from dreamplate.gen.model_run import prepare_model
from dreamplate.gen.pipeline_call import call_pipeline, to_pil
from dreamplate.gen.plate import composite_with_matte, from_model, read_matte
from dreamplate.gen.settings import apply_draft
from dreamplate.gen.shot import (
    check_still,
    generated_count,
    generated_image,
    shot_outputs,
    still_colour,
    still_matte,
)
from dreamplate.gen.strokes import layout_video, read_strokes, start_region
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)


def run_paths(spec: PathsSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the shot first_frame .. first_frame + frames - 1 in which each stroke's region follows its stroke.

    Raises InputError/ColorError/ModelError before any output exists when the still, strokes, mattes, outputs or
    model do not fit; Cancelled between denoising steps (nothing written then) or between frames.
    """
    # 1. The still, strokes, regions, outputs.
    spec = apply_draft(spec, "paths")
    still = check_still(spec.inputs[0], spec.part, spec.view)
    strokes = read_strokes(Path(spec.path), still.size, spec.frames)
    matte = still_matte(spec, still)
    colour = still_colour(spec, still)
    inputs = [still.path, Path(spec.path), *(s.matte for s in strokes if s.matte is not None)]
    shot = shot_outputs(spec, dict(options), inputs, colour)

    # 3 (before 2: the layout is made at the model's encoding). The model.
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    if "control" not in info.capabilities:
        raise ModelError(
            f"paths: model {info.name or info.path} ({info.pipeline_class}) has no control-video input for the "
            "layout of the strokes; use a Wan VACE model"
        )
    model = prepare_model(spec, info, "control", still.size)
    generated = generated_count(info, spec.frames, "paths")
    encoded = np.clip(model.space.encode(np.nan_to_num(still.rgb, nan=0.0, posinf=0.0, neginf=0.0)), 0.0, 1.0)
    regions = [
        read_matte(s.matte, still.info.display_window) if s.matte else start_region(encoded, s.points[0], spec.radius)
        for s in strokes
    ]
    strokes_data = [
        {"points": s.points.tolist(), "frames": None if s.frames is None else s.frames.tolist(),
         "matte": None if s.matte is None else str(s.matte)}
        for s in strokes
    ]  # fmt: skip
    params = model.parameters(spec, first_frame=spec.first_frame, generated_frames=generated, strokes=strokes_data)
    for name in ("window", "overlap"):
        params.pop(name, None)
    params["radius"], params["conditioning_scale"] = spec.radius, spec.conditioning_scale
    first = shot.frames[0]

    def provenance(frame: int) -> Provenance:
        method = "still" if frame == first else None
        sources = [str(still.path), str(spec.path)]
        return model.provenance("paths", spec, params, sources, [float(first)], colour[1].name, method=method)

    # 2. Finished frames are skipped; the layout and the model only when a generated frame is missing.
    progress = FrameProgress.of("paths", len(shot.wanted), options)
    frame_run = FrameRun(shot.outputs, provenance, progress, PlateResult(output=shot.label))
    todo = frame_run.pending(shot.wanted, options.get("force", False))
    linear = None
    if any(f != first for f in todo):
        from PIL import Image

        video, moved = layout_video(encoded, regions, strokes, spec.frames)
        changing = None
        if matte is not None:  # only the matte and the moving regions change
            changing = np.maximum(matte[None], np.clip(moved.sum(axis=1) + np.sum(regions, axis=0)[None], 0, 1))
        # 4. Generate once.
        pad = generated - spec.frames
        control = model.geometry.to_model_frames(np.concatenate([video, np.repeat(video[-1:], pad, axis=0)]))
        size = model.geometry.model_size
        masks = [Image.new("L", size, 0)]
        for t in range(1, generated):
            if changing is None:
                masks.append(Image.new("L", size, 255))
                continue
            small = model.geometry.to_model_frames(changing[min(t, spec.frames - 1)][None, ..., None])[0, ..., 0]
            masks.append(Image.fromarray(np.where(small > 0, 255, 0).astype(np.uint8)))
        kwargs = model.call_arguments(spec, spec.seed)
        kwargs.update(
            video=to_pil(control), mask=masks, num_frames=generated, conditioning_scale=spec.conditioning_scale
        )

        def on_step(step: int, steps: int) -> None:
            progress.report(f"step {step}/{steps}")

        model_frames = call_pipeline(model.pipe.get(), kwargs, "paths", options.get("cancelled"), on_step)
        still_rgb = np.repeat(still.rgb[None], spec.frames, axis=0)
        linear = from_model(model_frames[: spec.frames], model.geometry, model.space, still_rgb)
        if changing is not None:
            linear = composite_with_matte(linear, still_rgb, changing, spec.feather)

    # 5. Write.
    def write(frame: int, path: Path, frame_provenance: Provenance) -> None:
        if frame == first:
            shot.writer.passthrough(path, still.image, frame_provenance)
            return
        assert linear is not None
        shot.writer.write(path, generated_image(still, linear[frame - first]), frame_provenance, keep_timecode=False)

    result = frame_run.write(shot.wanted, todo, write)
    result.method = f"layout {model.describe()}"
    return result


def paths_frames(spec: PathsSpec) -> list[int]:
    """The output frame numbers: first_frame .. first_frame + frames - 1."""
    return list(range(spec.first_frame, spec.first_frame + spec.frames))
