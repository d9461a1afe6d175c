"""What animate, paths and generate share: a new shot made in one model call, and the still it may start on.

A new shot is `frames` frames numbered from `first_frame`; a frame count the model cannot take (k*m+1) is generated
at the next valid one and the extra frames dropped. A still is one EXR frame with colour; its matte (`--mask`) says
what may move. Per family, the still enters the model as (`first_frame_inputs`):
- Wan image-to-video (WanImageToVideoPipeline): `image` (CLIP embedding + first-frame latent);
- Wan VACE (WanVACEPipeline): the control video's frame 0, mask 0 there (keep) and 255 after (make), or the matte;
- LTX-Video (LTXConditionPipeline): an image condition at frame 0, strength 1.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamplate.errors import InputError, ModelError
from dreamplate.gen.models import ModelInfo
from dreamplate.gen.plate import read_matte
from dreamplate.gen.sources import PlateSequence, exr_outputs, made_mattes, plate_colour, read_plate
from dreamplate.io.exr import ExrImage, PartInfo, window_size
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs
from dreamplate.ops.plate.sources import check_sources
from dreamplate.ops.plate.writing import FrameWriter

log = logging.getLogger(__name__)


@dataclass
class Still:
    """A checked still: its path, header, image and colour on the display window ((H, W, 3) float32 scene-linear)."""

    path: Path
    info: PartInfo
    image: ExrImage
    rgb: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the display window: what the model frame covers."""
        return window_size(self.info.display_window)


@dataclass
class ShotOutputs:
    """A new shot's frame numbers, output paths, the frames this run writes (a chunk, or all) and its writer."""

    frames: list[int]
    label: str
    outputs: dict[int, Path]
    wanted: list[int]
    writer: FrameWriter


def check_still(text: str, part: str | None, view: str | None) -> Still:
    """The still named `text`: one existing EXR frame with R, G, B (or Y); InputError naming it otherwise.

    A frame pattern (what a host renders its input to) names its first frame on disk; the others are not used.
    """
    path = Path(text)
    if is_sequence_pattern(text):
        seq = FrameSequence.from_pattern(text)
        path = seq.path(seq.frames[0])
        if len(seq.frames) > 1:
            log.info("%s: the still is its first frame, %s (%d frames found)", text, path.name, len(seq.frames))
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() != ".exr":
        raise InputError(f"{path}: the still must be a scene-linear EXR frame; convert {path.suffix} first")
    info = check_sources({0: path}, part, view, same_channels=False)[0]
    names = {c.name for c in info.channels}
    if not ({"R", "G", "B"} <= names or "Y" in names):
        raise InputError(f"{path}: the still has no R, G, B (or Y) channels to animate; has {', '.join(sorted(names))}")
    image, rgb = read_plate(path, part, view)
    return Still(path, info, image, rgb)


def shot_outputs(spec: Any, options: dict[str, Any], inputs: list[Path], colour: tuple[Any, Any]) -> ShotOutputs:
    """Frames first_frame .. first_frame + frames - 1, their outputs checked (nothing written), the chunk asked for."""
    cfg, space = colour
    frames = list(range(spec.first_frame, spec.first_frame + spec.frames))
    label, outputs = exr_outputs(spec.output, frames)
    check_outputs(outputs, inputs)
    only = options.get("only_frames")
    check_only_frames(label, frames, only)
    wanted = [f for f in frames if only is None or f in set(only)]
    return ShotOutputs(frames, label, outputs, wanted, FrameWriter(cfg, space, spec.pixel_type, spec.compression))


def still_colour(spec: Any, still: Still) -> tuple[Any, Any]:
    """(OCIO config, the still's colour space): `--colorspace`, else its header tags, else scene_linear."""
    return plate_colour(spec.ocio, still.info.attributes, spec.colorspace)


def still_matte(spec: Any, still: Still) -> np.ndarray | None:
    """`--mask` on the still: (H, W) float32 in [0, 1] on its display window (1: may move), or None without one.

    A file (EXR or PNG/TIFF/JPEG), `alpha` for the still's own, or `subject` / `background` made by the matte op.
    InputError names the option and the file.
    """
    if spec.mask is None:
        return None
    window = still.info.display_window
    if spec.made_matte_kind is not None:
        plate = PlateSequence(str(still.path), [0], {0: still.path}, still.info)
        return read_matte(made_mattes(spec, plate)(0), window)
    if spec.mask.lower() == "alpha":
        if "A" not in still.image.channels and spec.mask_channel is None:
            raise InputError(f"--mask alpha: {still.path} has no alpha channel")
        return read_matte(still.image, window, spec.mask_channel or "A")
    if is_sequence_pattern(spec.mask):
        raise InputError(f"--mask {spec.mask}: give one matte file for the still, not a frame pattern")
    if not Path(spec.mask).is_file():
        raise InputError(f"--mask {spec.mask}: no such file")
    return read_matte(Path(spec.mask), window, spec.mask_channel)


def generated_count(info: ModelInfo, frames: int, what: str) -> int:
    """Frames the model makes for a shot of `frames`: the next k*m+1 (the extra ones are dropped)."""
    if info.valid_frames(frames):
        return frames
    m = info.temporal_multiple
    generated = -(-(frames - 1) // m) * m + 1
    log.info("%s: %d frames generated as %d (the last %d dropped)", what, frames, generated, generated - frames)
    return generated


def check_starts_on_still(info: ModelInfo, pipeline_class: str, what: str) -> None:
    """Refuse a Wan first-last-frame checkpoint (FLF2V): its image embedding takes two images, never one.

    Wan2.1 FLF2V and I2V share WanImageToVideoPipeline; FLF2V's transformer declares `pos_embed_seq_len` (two CLIP
    embeddings in a row), so it cannot start a shot on a still alone.
    """
    if pipeline_class != "WanImageToVideoPipeline":
        return
    config_path = info.path / "transformer" / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if config.get("pos_embed_seq_len"):
        raise ModelError(
            f"{what}: model {info.name or info.path} is a Wan first-last-frame (FLF2V) checkpoint, which needs a last "
            "frame too; use a Wan image-to-video (I2V), Wan VACE or LTX-Video model"
        )


def first_frame_inputs(
    pipeline_class: str, still: Any, generated: int, size: tuple[int, int], matte: Any | None = None
) -> dict[str, Any]:
    """The pipeline arguments that start the shot on `still` (a PIL image at model size), per family.

    `matte`: an 8-bit PIL mask at model size (255: may move). Only VACE takes it into the model (its mask for the
    frames after the first); the others are composited afterwards.
    """
    from PIL import Image

    if pipeline_class == "WanImageToVideoPipeline":
        return {"image": still, "num_frames": generated}
    if pipeline_class == "LTXConditionPipeline":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        return {"conditions": [LTXVideoCondition(image=still, frame_index=0, strength=1.0)], "num_frames": generated}
    if pipeline_class == "WanVACEPipeline":
        keep = Image.new("L", size, 0)
        make = matte if matte is not None else Image.new("L", size, 255)
        return {"video": [still] * generated, "mask": [keep] + [make] * (generated - 1), "num_frames": generated}
    raise ModelError(f"{pipeline_class}: cannot start a shot on a still")


def matte_image(matte: np.ndarray, geometry: Any) -> Any:
    """A still's matte (H, W) as the 8-bit PIL mask VACE takes at model size: 255 wherever anything may move."""
    from PIL import Image

    model = geometry.to_model_frames(matte[None, ..., None].astype(np.float32))[0, ..., 0]
    return Image.fromarray(np.where(model > 0, 255, 0).astype(np.uint8))


def generated_image(still: Still, linear: np.ndarray) -> ExrImage:
    """A generated frame of a shot that starts on `still`: `linear` (H, W, 3) on the still's windows.

    The still's overscan is kept as it is (the model never saw it); its alpha and other channels are left out, since
    they describe the still, not a frame whose content has moved.
    """
    from dreamplate.gen.plate import onto_plate

    out = onto_plate(still.image, linear)
    out.channels.pop("A", None)
    out.pixel_types.pop("A", None)
    return out
