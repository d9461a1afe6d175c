"""What a generative op reads: the plate sequence (checked whole before any model loads), its mattes, a reference.

`prepare_plate_run` is step 1 of relight and sketch: the spec with its draft applied, the plate's headers, the
mattes, the colour space and the outputs, all checked before anything is written; `read_plate` reads one frame's
colour as the model side wants it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dreamplate.color.model_space import VideoModelSpace
from dreamplate.color.ocio import ColorConfig, SpaceChoice, load_config, resolve_input_space
from dreamplate.errors import InputError
from dreamplate.gen.pipeline_call import to_pil
from dreamplate.gen.settings import apply_draft
from dreamplate.io.exr import ExrImage, PartInfo, window_size
from dreamplate.io.provenance import Provenance
from dreamplate.io.raster import read_raster
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs, output_paths
from dreamplate.ops.plate.progress import CancelCheck, FrameProgress, RunOptions
from dreamplate.ops.plate.reading import colour_channels, place_on_window, read_source, stack_channels
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import check_sources, is_raster
from dreamplate.ops.plate.writing import FrameWriter

log = logging.getLogger(__name__)


@dataclass
class PlateSequence:
    """A checked plate sequence: frame numbers in order, their paths, the chosen part's header of the first."""

    pattern: str
    frames: list[int]
    paths: dict[int, Path]
    info: PartInfo

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the display window: what the model frame covers."""
        return window_size(self.info.display_window)


@dataclass
class PlateRun:
    """What a plate op has checked before any model loads: its spec (draft applied), plate, mattes, outputs.

    `frames` are the plate frames this run writes (all, or the chunk `options` asks for), in order. `masks` is None
    without a mask, {} for the plate's own alpha or a matte made on the fly, else the matte file per plate frame;
    `made_matte` makes the matte of a frame for `--mask subject` / `background`.
    """

    operation: str
    spec: Any
    options: RunOptions
    plate: PlateSequence
    frames: list[int]
    masks: dict[int, Path] | None
    space: SpaceChoice
    writer: FrameWriter
    label: str
    outputs: dict[int, Path]
    made_matte: Callable[[int], ExrImage] | None = None

    def matte_source(self, frame: int, image: ExrImage) -> Path | ExrImage:
        """Where frame `frame`'s matte comes from: its file, the made matte, or the plate frame `image` itself."""
        if self.made_matte is not None:
            return self.made_matte(frame)
        assert self.masks is not None
        return self.masks.get(frame, image)

    @property
    def cancelled(self) -> CancelCheck | None:
        """The run's cancel check, which the pipeline calls poll between denoising steps."""
        return self.options.get("cancelled")

    def frame_run(self, provenance: Callable[[int], Provenance]) -> FrameRun:
        """This run's output frames, each with its provenance, as the run goes through them."""
        progress = FrameProgress.of(self.operation, len(self.frames), self.options)
        return FrameRun(self.outputs, provenance, progress, PlateResult(output=self.label))


def check_plate(pattern: str, frames: str | None, part: str | None, view: str | None) -> PlateSequence:
    """Every frame's header read and compared (display window, RGB channels, no deep data) before any work."""
    if not is_sequence_pattern(pattern):
        raise InputError(f"{pattern}: give a sequence pattern such as plate.####.exr")
    seq = FrameSequence.from_pattern(pattern, frames)
    if seq.suffix.lower() != ".exr":
        raise InputError(f"{seq.pattern}: generative ops read scene-linear EXR plates; convert {seq.suffix} first")
    paths = {f: seq.path(f) for f in seq.frames}
    infos = check_sources(paths, part, view, same_channels=False)
    for path, info in zip(paths.values(), infos, strict=True):
        names = {c.name for c in info.channels}
        if not ({"R", "G", "B"} <= names or "Y" in names):
            raise InputError(f"{path}: no R, G, B (or Y) channels to generate from; has {', '.join(sorted(names))}")
    return PlateSequence(seq.pattern, list(seq.frames), paths, infos[0])


def plate_colour(ocio: Any, attributes: dict[str, Any], colorspace: str | None) -> tuple[ColorConfig, SpaceChoice]:
    """The OCIO config and the plate's colour space (`colorspace`, else from its header tags), logged once."""
    cfg = load_config(ocio)
    space = resolve_input_space(cfg, attributes, colorspace)
    log.info("colour space: %s (%s)", space.name, space.reason)
    return cfg, space


def prepare_plate_run(spec: Any, operation: str, options: RunOptions) -> PlateRun:
    """Step 1 of relight and sketch: plate frames and headers, mattes, colour space, outputs; nothing is written.

    Raises InputError/ColorError naming the file or option when any of them is wrong.
    """
    spec = apply_draft(spec, operation)
    plate = check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    masks = mask_paths(spec, plate)
    cfg, space = plate_colour(spec.ocio, plate.info.attributes, spec.colorspace)
    label, outputs = exr_outputs(spec.output, plate.frames)
    check_outputs(outputs, [*plate.paths.values(), *(masks or {}).values()])
    only_frames = options.get("only_frames")
    check_only_frames(label, plate.frames, only_frames)
    frames = [f for f in plate.frames if only_frames is None or f in set(only_frames)]
    writer = FrameWriter(cfg, space, spec.pixel_type, spec.compression)
    made = made_mattes(spec, plate) if spec.made_matte_kind is not None else None
    return PlateRun(operation, spec, options, plate, frames, masks, space, writer, label, outputs, made)


MATTE_MAKER = "dreamplate.analyse.matte:subject_mattes"
"""The matte operation's on-the-fly mattes, named by import string: gen and analyse sit side by side and do not
import each other (tests/test_layers.py), so the function is looked up when a run asks for it."""


def made_mattes(spec: Any, plate: PlateSequence) -> Callable[[int], ExrImage]:
    """`--mask subject` / `background`: the matte operation's matte of each plate frame, made when asked for.

    The matte weights are checked now (ModelError before anything is written); the network loads with the first
    frame that needs its matte.
    """
    module, _, name = MATTE_MAKER.partition(":")
    make = getattr(importlib.import_module(module), name)
    log.info(
        "--mask %s: mattes made on the fly (dreamplate matte%s)",
        spec.mask,
        " --invert" * (spec.made_matte_kind == "background"),
    )
    return make(
        plate.paths,
        part=spec.part,
        view=spec.view,
        colorspace=spec.colorspace,
        ocio=spec.ocio,
        invert=spec.made_matte_kind == "background",
    )


def exr_outputs(output: str, frames: list[int]) -> tuple[str, dict[int, Path]]:
    """(label, frame -> path) for an output pattern; InputError for a single file or a non-EXR name."""
    label, outputs = output_paths(output, frames)
    if Path(label).suffix.lower() != ".exr":
        raise InputError(f"{output}: outputs are scene-linear EXR; use an .exr name")
    return label, outputs


def mask_paths(spec: Any, plate: PlateSequence) -> dict[int, Path] | None:
    """The matte file per plate frame; InputError for missing ones.

    None: no mask; {}: the plate's own channel (`alpha`) or a matte made on the fly (`subject`, `background`).
    """
    if spec.mask is None:
        return None
    if spec.mask.lower() == "alpha" or spec.made_matte_kind is not None:
        return {}
    if not is_sequence_pattern(spec.mask):
        path = Path(spec.mask)
        if not path.is_file():
            raise InputError(f"--mask {spec.mask}: no such file")
        return dict.fromkeys(plate.frames, path)  # one still matte for the whole shot
    seq = FrameSequence.from_pattern(spec.mask)
    missing = [f for f in plate.frames if f not in set(seq.frames)]
    if missing:
        raise InputError(f"--mask {seq.pattern}: no matte for plate frames {missing[:5]}")
    return {f: seq.path(f) for f in plate.frames}


def read_plate(path: Path, part: str | None, view: str | None) -> tuple[ExrImage, np.ndarray]:
    """A plate frame and its colour on the display window: (image, (H, W, 3) float32 scene-linear)."""
    image = read_source(path, part, view)
    rgb = stack_channels(image.channels, colour_channels(image.channels))
    return image, place_on_window(rgb, image.data_window, image.display_window)


def read_reference(path: Path, model_size: tuple[int, int], space: VideoModelSpace) -> Any:
    """A reference image as the model sees it: an EXR encoded with the video model space, a PNG/TIFF/JPEG as is.

    Resized to the model frame (width, height); returned as an 8-bit PIL image. InputError for a missing file.
    """
    if not path.is_file():
        raise InputError(f"--light-reference {path}: no such file")
    if is_raster(path):
        pixels = read_raster(path).pixels[..., :3]
        if pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, 3, axis=-1)
    else:
        _image, linear = read_plate(path, None, None)
        pixels = space.encode(np.nan_to_num(linear, nan=0.0, posinf=0.0, neginf=0.0))
    resized = cv2.resize(np.ascontiguousarray(pixels, np.float32), model_size, interpolation=cv2.INTER_AREA)
    return to_pil(resized[None])[0]
