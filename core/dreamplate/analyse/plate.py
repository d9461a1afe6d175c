"""What both analysis ops share: the checked plate run, the picture the networks see, and the data frames written.

The networks were trained on display-referred photos, so they see the plate through the display-like video model
space (`dreamplate.color.model_space.VideoModelSpace`: an sRGB-style curve whose white sits 4 stops over display
white, so an HDR sky rolls off instead of flattening), after the primaries are converted to Rec.709 where the OCIO
config knows that space (a log or wide-gamut plate is linearised and brought to the primaries the networks know).
What comes back is a matte or an edge strength, not colour, so nothing is decoded: the exact inverse is not needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dreamplate.color.model_space import video_model_space
from dreamplate.color.ocio import COLOR_ATTRIBUTES, ColorConfig, SpaceChoice, convert, load_config, resolve_input_space
from dreamplate.errors import InputError, ModelError
from dreamplate.io.exr import ExrImage, PartInfo
from dreamplate.io.provenance import Provenance
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs, output_paths
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.reading import colour_channels, read_source, stack_channels
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import check_sources
from dreamplate.ops.plate.writing import FrameWriter
from dreamplate.runtime.weights import PinnedWeights, find_weights, verified_weights

log = logging.getLogger(__name__)

NETWORK_PRIMARIES = "lin_rec709_scene"
"""The space (interop ID / alias) the plate is converted to before encoding: the networks' photos were sRGB."""


@dataclass(frozen=True)
class PlatePicture:
    """How plate frames become the networks' picture: the OCIO config, the plate's space and the space to convert to."""

    cfg: ColorConfig
    space: SpaceChoice
    target: str | None  # None: the config has no Rec.709 linear space; the plate's own primaries are used

    def picture(self, image: ExrImage, size: tuple[int, int] | None = None) -> np.ndarray:
        """The frame's colour on its data window as the networks see it: float32 H x W x 3 in [0, 1].

        `size` (width, height): the picture at that size instead. A large frame is first area-averaged in scene-linear
        to at most twice that size (the colour conversion then runs on a fraction of the pixels), and brought the rest
        of the way in the encoded signal, as a display picture is resized. NaN and Inf are treated as 0, so a damaged
        pixel never spreads through a network's receptive field.
        """
        rgb = stack_channels(image.channels, colour_channels(image.channels))
        rgb = np.where(np.isfinite(rgb), rgb, np.float32(0.0))
        if size is not None:
            height, width = rgb.shape[:2]
            coarse = (min(width, 2 * size[0]), min(height, 2 * size[1]))
            if coarse != (width, height):
                rgb = cv2.resize(rgb, coarse, interpolation=cv2.INTER_AREA)
        if self.target is not None and self.target != self.space.name:
            rgb = convert(self.cfg, rgb, self.space.name, self.target)
        encoded = np.clip(video_model_space().encode(rgb), 0.0, 1.0)
        if size is None or (encoded.shape[1], encoded.shape[0]) == tuple(size):
            return encoded
        shrinking = size[0] <= encoded.shape[1] and size[1] <= encoded.shape[0]
        resized = cv2.resize(encoded, tuple(size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        return np.ascontiguousarray(resized, np.float32)


@dataclass
class AnalysisRun:
    """A checked analysis run: every plate frame (the temporal filter reads neighbours), those to write, the outputs."""

    operation: str
    spec: Any
    options: RunOptions
    sequence: list[int]  # every plate frame in the range, in order
    paths: dict[int, Path]
    frames: list[int]  # the frames this run writes (all, or the chunk `only_frames` asks for)
    outputs: dict[int, Path]
    label: str
    infos: list[PartInfo]
    picture: PlatePicture
    writer: FrameWriter

    def read(self, frame: int) -> ExrImage:
        """One plate frame, the part and view the spec asks for."""
        return read_source(self.paths[frame], self.spec.part, self.spec.view)

    def frame_run(self, provenance: Callable[[int], Provenance]) -> FrameRun:
        progress = FrameProgress.of(self.operation, len(self.frames), self.options)
        return FrameRun(self.outputs, provenance, progress, PlateResult(output=self.label))


def plate_sequence(pattern: str, frames: str | None) -> tuple[list[int], dict[int, Path]]:
    """The plate's frame numbers and paths; InputError for a single image, a gap or a non-EXR pattern."""
    if not is_sequence_pattern(pattern):
        raise InputError(f"{pattern}: give a frame pattern such as plate.####.exr")
    seq = FrameSequence.from_pattern(pattern, frames)
    if seq.suffix.lower() != ".exr":
        raise InputError(f"{seq.pattern}: analysis reads scene-linear EXR plates; convert {seq.suffix} first")
    return list(seq.frames), {f: seq.path(f) for f in seq.frames}


def plate_picture(ocio: str | None, attributes: Mapping[str, Any], colorspace: str | None) -> PlatePicture:
    """The plate's colour space (`colorspace`, else its tags) and the Rec.709 linear space to convert to, if any."""
    cfg = load_config(ocio)
    space = resolve_input_space(cfg, attributes, colorspace)
    target = cfg.config.getColorSpace(NETWORK_PRIMARIES)
    if target is None:
        log.info("%s has no %s space: the networks see the plate's own primaries", cfg.source, NETWORK_PRIMARIES)
    log.info("colour space: %s (%s)", space.name, space.reason)
    return PlatePicture(cfg, space, None if target is None else target.getName())


def prepare_analysis(spec: Any, operation: str, options: RunOptions) -> AnalysisRun:
    """Step 1 of matte and edges: plate frames and headers, colour space, outputs; nothing is loaded or written.

    Raises InputError/ColorError naming the file or option when any of them is wrong.
    """
    sequence, paths = plate_sequence(spec.inputs[0], spec.frames)
    infos = check_sources(paths, spec.part, spec.view, same_channels=False)
    for path, info in zip(paths.values(), infos, strict=True):
        names = {c.name for c in info.channels}
        if not ({"R", "G", "B"} <= names or "Y" in names):
            raise InputError(f"{path}: no R, G, B (or Y) channels to analyse; has {', '.join(sorted(names))}")
    picture = plate_picture(spec.ocio, infos[0].attributes, spec.colorspace)
    label, outputs = output_paths(spec.output, sequence)
    if Path(label).suffix.lower() != ".exr":
        raise InputError(f"{spec.output}: {operation} writes EXR frames; use an .exr name")
    check_outputs(outputs, paths.values())
    only_frames = options.get("only_frames")
    check_only_frames(label, sequence, only_frames)
    frames = [f for f in sequence if only_frames is None or f in set(only_frames)]
    writer = FrameWriter(picture.cfg, None, spec.pixel_type, spec.compression)  # data: no colour tags
    return AnalysisRun(operation, spec, options, sequence, paths, frames, outputs, label, infos, picture, writer)


def data_image(channels: dict[str, np.ndarray], source: ExrImage) -> ExrImage:
    """A data frame (matte, line art) on the source frame's windows, with its header minus the colour tags.

    A matte or an edge map is not colour: a chromaticities or interop tag carried over would tell a comp to convert it.
    """
    attributes = {k: v for k, v in source.attributes.items() if k not in COLOR_ATTRIBUTES}
    return ExrImage(
        channels=channels,
        pixel_types=dict.fromkeys(channels, "half"),
        data_window=source.data_window,
        display_window=source.display_window,
        attributes=attributes,
    )


def installed(entry: PinnedWeights) -> PinnedWeights:
    """`entry`, its weights found and their hash checked now; ModelError saying how to install them otherwise."""
    if find_weights(entry) is None:
        raise ModelError(
            f"model {entry.name}: weights are not installed; run: dreamplate models pull {entry.name} "
            "(or install/setup.sh)"
        )
    verified_weights(entry)
    return entry
