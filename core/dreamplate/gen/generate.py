"""Text to video: a plate from nothing, decoded into a scene-linear colour space and tagged with it.

Steps, in order (nothing is written before step 4, no model loads before step 2):
1. check the colour space (`--colorspace`, else the config's scene_linear role) and the outputs;
2. resolve the model for "t2v" (WanPipeline; VACE without a control video; LTX-Video without conditions) at the
   model's multiples nearest `--size`;
3. generate once, at the next k*m+1 frame count (the extra frames dropped), unless every frame is already written;
4. write each frame: cropped and resized to `--size`, decoded with the video model space into linear Rec.709
   (what the models were trained on: display video with Rec.709 primaries), converted by OCIO into the named space.

The brightest value: a model's frame lies in [0, 1] and the video model space decodes 1.0 to its white,
VIDEO_WHITE = 16.0 (four stops over display white), so a generated frame is at most 16.0 per channel in linear
Rec.709. A space with wider primaries (ACEScg, ACES2065-1, Rec.2020) keeps that bound, since each row of the
conversion matrix is non-negative and sums to 1 (16, 16, 16 stays 16); a narrower one may exceed it in a channel
for saturated colours. Nothing is brighter than that: there is no plate to bring highlights back from.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.color.model_space import VideoModelSpace
from dreamplate.color.ocio import ColorConfig, SpaceChoice, convert, load_config, resolve_input_space, space_name
from dreamplate.errors import ColorError
from dreamplate.gen.create_spec import GenerateSpec
from dreamplate.gen.model_run import prepare_model
from dreamplate.gen.pipeline_call import call_pipeline
from dreamplate.gen.plate import ModelGeometry
from dreamplate.gen.settings import apply_draft
from dreamplate.gen.shot import generated_count, shot_outputs
from dreamplate.io.exr import ExrImage
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)

MODEL_PRIMARIES = "lin_rec709_scene"
"""The colorInteropID of what a video model's decoded frames are: linear, Rec.709 primaries, D65."""


def run_generate(spec: GenerateSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the shot first_frame .. first_frame + frames - 1 made from the prompt; return what was written.

    Raises ColorError (a colour space the config lacks, or one that is not scene-linear), InputError (outputs) or
    ModelError before anything is written; Cancelled between denoising steps (nothing written then).
    """
    # 1. Colour space and outputs.
    spec = apply_draft(spec, "generate")
    cfg, space = output_space(spec.ocio, spec.colorspace)
    shot = shot_outputs(spec, dict(options), [], (cfg, space))

    # 2. The model.
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    size = spec.size or info.default_size
    m = info.spatial_multiple
    nearest = (max(m, round(size[0] / m) * m), max(m, round(size[1] / m) * m))
    model = prepare_model(spec.model_copy(update={"size": nearest}), info, "t2v", size)
    generated = generated_count(info, spec.frames, "generate")
    params = model.parameters(spec, first_frame=spec.first_frame, generated_frames=generated, frame_size=list(size))
    for name in ("window", "overlap"):
        params.pop(name, None)

    def provenance(frame: int) -> Provenance:
        return model.provenance("generate", spec, params, [], [], space.name)

    progress = FrameProgress.of("generate", len(shot.wanted), options)
    frame_run = FrameRun(shot.outputs, provenance, progress, PlateResult(output=shot.label))
    todo = frame_run.pending(shot.wanted, options.get("force", False))
    linear = None
    if todo:
        # 3. Generate once.
        def on_step(step: int, steps: int) -> None:
            progress.report(f"step {step}/{steps}")

        kwargs = {**model.call_arguments(spec, spec.seed), "num_frames": generated}
        model_frames = call_pipeline(model.pipe.get(), kwargs, "generate", options.get("cancelled"), on_step)
        linear = decode_frames(model_frames[: spec.frames], model.geometry, model.space, cfg, space.name)

    # 4. Write.
    width, height = size
    box = (0, 0, width - 1, height - 1)

    def write(frame: int, path: Path, frame_provenance: Provenance) -> None:
        assert linear is not None
        rgb = linear[frame - shot.frames[0]]
        channels = {name: rgb[..., i] for i, name in enumerate("RGB")}
        image = ExrImage(channels, dict.fromkeys(channels, "half"), box, box, {})
        shot.writer.write(path, image, frame_provenance)

    result = frame_run.write(shot.wanted, todo, write)
    result.method = f"t2v {model.describe()}"
    return result


def generate_frames(spec: GenerateSpec) -> list[int]:
    """The output frame numbers: first_frame .. first_frame + frames - 1."""
    return list(range(spec.first_frame, spec.first_frame + spec.frames))


def output_space(ocio: str | None, colorspace: str | None) -> tuple[ColorConfig, SpaceChoice]:
    """The config and the scene-linear space frames are written in: `--colorspace`, else the scene_linear role.

    ColorError naming the option and the value for a space the config lacks or one that is not scene-linear.
    """
    import PyOpenColorIO as ocio_lib

    cfg = load_config(ocio)
    if colorspace:
        name = space_name(cfg, colorspace, "--colorspace")
        encoding = cfg.config.getColorSpace(name).getEncoding()
        if encoding and encoding != "scene-linear":
            raise ColorError(f"--colorspace {colorspace}: a {encoding} space; generate writes scene-linear frames")
        return cfg, SpaceChoice(name, f"--colorspace {colorspace}")
    role = cfg.config.getColorSpace(ocio_lib.ROLE_SCENE_LINEAR)
    if role is None:
        raise ColorError(f"{cfg.source}: no scene_linear role; pass --colorspace")
    return cfg, SpaceChoice(role.getName(), "the config's scene_linear role")


def decode_frames(
    model_frames: np.ndarray, geometry: ModelGeometry, space: VideoModelSpace, cfg: ColorConfig, out: str
) -> np.ndarray:
    """Model frames (T, h, w, 3) in [0, 1] -> (T, H, W, 3) float32 scene-linear in `out`, at the geometry's size.

    Cropped and resized in the encoded signal (as display video is), clipped to [0, 1] as the models clamp, decoded
    with the video model space into linear Rec.709 and converted to `out`; without a linear Rec.709 space in the
    config the decoded values are taken as `out`'s own (logged), since nothing else is known about them.
    """
    encoded = np.clip(geometry.from_model_frames(np.clip(model_frames, 0.0, 1.0)), 0.0, 1.0)
    linear = space.decode(encoded.astype(np.float32))
    model_primaries = resolve_input_space(cfg, {"colorInteropID": MODEL_PRIMARIES})
    source = model_primaries.name
    if model_primaries.fallback:
        log.warning("%s: no %s colour space; the model's frames are written as %s as they are", cfg.source,
                    MODEL_PRIMARIES, out)  # fmt: skip
        return linear
    if source == out:
        return linear
    return np.stack([convert(cfg, frame, source, out) for frame in linear])
