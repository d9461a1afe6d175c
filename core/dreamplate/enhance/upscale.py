"""Upscale a plate or a draft 2x or 4x with a learned network: HDR kept, every channel carried, windows scaled.

Steps, in order (nothing is written before step 3; the network loads with the first frame to write):
1. check the spec, every frame's header, the colour space, the outputs and the pinned weights (hash checked);
2. per frame: the colour (R, G, B, or Y) of the data window goes through the net in tiles (`sr_model.upscale_colour`:
   the video model space at `--white` in, its exact inverse out, values over it and below zero back from the plate);
   alpha and every other channel are resampled classically (bicubic; depth, IDs, cryptomatte and UINT channels
   nearest, so no value is invented between two objects), alpha kept within the source's [0, 1];
3. written on the data and display windows scaled by the same factor (pixel (x, y) becomes the block from (s x, s y)),
   with the source's header, the colour tags of its space, and provenance whose `upstream` keeps the source frame's
   own provenance: an upscaled draft still says which prompt, seed and model made it.

`--keep-size` re-details instead: the colour is reduced by `--scale` and upscaled back to the frame's own size, the
other channels and the windows unchanged. That is the cheap path from a generative draft (rendered small, resized
up to the plate, hence soft) to a sharp full-size frame of the very picture that was approved.

A cancel is honoured between tiles as well as between frames: a 4K frame on CPU takes minutes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

import cv2
import numpy as np

from dreamplate.color.model_space import video_model_space
from dreamplate.color.ocio import load_config, resolve_input_space
from dreamplate.enhance.spec import UpscaleSpec
from dreamplate.enhance.sr_model import (
    CLASSICAL,
    DEFAULT_WHITE,
    RunNet,
    classical,
    load_upscaler,
    model_entry,
    upscale_colour,
)
from dreamplate.errors import InputError
from dreamplate.io.exr import Box, ExrImage
from dreamplate.io.provenance import Provenance
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs, output_paths
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.provenance import spec_parameters
from dreamplate.ops.plate.reading import read_source
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import check_sources
from dreamplate.ops.plate.writing import FrameWriter
from dreamplate.runtime.weights import verified_weights

log = logging.getLogger(__name__)

SETTINGS = (
    "scale",
    "model",
    "keep_size",
    "white",
    "tile",
    "tile_pad",
    "frames",
    "colorspace",
    "part",
    "view",
    "pixel_type",
)
"""Spec fields that decide an output frame's pixels: recorded in its provenance, compared on resume."""
# Depth and ID channels hold values that a filter would invent (a depth between two objects, an ID that is neither):
# they are sampled nearest. Matched on the last component of a layer name, as interpolation does.
_NEAREST_NAMES = {"z", "zback", "depth", "id", "objectid", "materialid", "object_id", "material_id"}
_NEAREST_LAYER_WORDS = ("crypto",)


def run_upscale(spec: UpscaleSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the upscaled frames `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError before any output exists when something is wrong, Cancelled when
    `cancelled()` turns true (between tiles; finished frames stay, none is half written).
    """
    # 1. Check everything, the weights included, before anything loads or is written.
    paths = _sources(spec)
    infos = check_sources(paths, spec.part, spec.view, same_channels=False)
    for path, info in zip(paths.values(), infos, strict=True):
        _colour_names(path, {c.name for c in info.channels})
    cfg = load_config(spec.ocio)
    space = resolve_input_space(cfg, infos[0].attributes, spec.colorspace)
    log.info("colour space: %s (%s)", space.name, space.reason)
    label, outputs = output_paths(spec.output, list(paths))
    if Path(label).suffix.lower() != ".exr":
        raise InputError(f"{spec.output}: upscale writes scene-linear EXR frames; use an .exr name")
    check_outputs(outputs, paths.values())
    only_frames = options.get("only_frames")
    check_only_frames(label, list(paths), only_frames)
    frames = [f for f in paths if only_frames is None or f in set(only_frames)]
    entry = model_entry(spec.model)
    verified_weights(entry)
    writer = FrameWriter(cfg, space, spec.pixel_type, spec.compression)
    params = spec_parameters(spec, SETTINGS)
    progress = FrameProgress.of("upscale", len(frames), options)
    net = None

    def provenance(frame: int) -> Provenance:
        return Provenance(
            operation="upscale",
            method=entry.name,
            parameters=params,
            sources=[str(paths[frame])],
            source_frames=[float(frame)],
            model=entry.name,
            weights_sha256=entry.sha256,
            colorspace=space.name,
            runtime=None if net is None else net.runtime,
        )

    # 2-3. Frame by frame, each written atomically once all its tiles have run.
    def write(frame: int, out_path: Path, frame_provenance: Provenance) -> None:
        nonlocal net
        if net is None:
            net = load_upscaler(spec.model, spec.runtime, spec.threads)
        source = read_source(paths[frame], spec.part, spec.view)
        image = upscale_image(
            source,
            spec.scale,
            net.run,
            tile=spec.tile,
            pad=spec.tile_pad,
            white=spec.white,
            keep_size=spec.keep_size,
            check=progress,
        )
        frame_provenance.runtime = net.runtime
        upstream = Provenance.from_attributes(source.attributes, str(paths[frame]))
        frame_provenance.upstream = [] if upstream is None else [upstream.as_data()]
        writer.write(out_path, image, frame_provenance)

    run = FrameRun(outputs, provenance, progress, PlateResult(output=label))
    result = run.write(frames, run.pending(frames, options.get("force", False)), write)
    result.method = f"{entry.name} on {net.runtime}" if net is not None else entry.name
    return result


def upscale_frames(spec: UpscaleSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the plate's frames), for chunking."""
    return list(_sources(spec))


def upscale_image(
    source: ExrImage,
    scale: int,
    run: RunNet,
    *,
    tile: int = 384,
    pad: int = 32,
    white: float = DEFAULT_WHITE,
    keep_size: bool = False,
    check: FrameProgress | None = None,
) -> ExrImage:
    """One frame upscaled: colour through the net (`run`), every other channel classically, windows scaled.

    `keep_size`: the frame keeps its size and windows; its colour is reduced by `scale` (area) and upscaled back,
    values over white and below zero coming from the frame itself, and the other channels pass unchanged.
    Non-finite samples are treated as 0 (logged), since one would spread through every window that sees it.
    The header is the source's; the written frame gets its colour tags and provenance from the writer.
    """
    names = list(source.channels)
    colour = _colour_names(source.path or Path("frame"), set(names))
    stacked = np.stack([_finite(source, n) for n in dict.fromkeys(colour)], axis=-1)
    rgb = stacked if stacked.shape[-1] == 3 else np.repeat(stacked, 3, axis=-1)
    tick = None if check is None else check.check_cancelled
    space = video_model_space(white)
    if keep_size:
        up = _redetail(rgb, scale, run, tile, pad, space, tick)
        scale = 1
    else:
        up = upscale_colour(rgb, scale, run, tile=tile, pad=pad, space=space, progress=tick)
    channels: dict[str, np.ndarray] = {}
    if colour == ["Y"] * 3:
        channels["Y"] = up.mean(axis=-1)
    else:
        channels.update({name: up[..., i] for i, name in enumerate(colour)})
    for name in names:
        if name in channels:
            continue
        kind = source.pixel_types.get(name, "half")
        if scale == 1:
            channels[name] = source.channels[name]
        elif kind == "uint":
            ids = source.channels[name].astype(np.float64)  # exact for every uint32
            channels[name] = classical(ids, scale, cv2.INTER_NEAREST).astype(np.uint32)
        else:
            channels[name] = _resampled(_finite(source, name), name, scale)
    return ExrImage(
        channels={name: channels[name] for name in names},
        pixel_types=dict(source.pixel_types),
        data_window=scaled_window(source.data_window, scale),
        display_window=scaled_window(source.display_window, scale),
        attributes=source.attributes,
    )


def _resampled(plane: np.ndarray, name: str, scale: int) -> np.ndarray:
    """A non-colour channel upscaled: nearest for depth and IDs, bicubic otherwise, alpha kept in [0, 1]."""
    resampled = classical(plane, scale, cv2.INTER_NEAREST if is_nearest_channel(name) else CLASSICAL)
    if _is_alpha(name) and plane.size and plane.min() >= 0.0 and plane.max() <= 1.0:
        np.clip(resampled, 0.0, 1.0, out=resampled)  # cubic overshoot at a hard edge would leave alpha > 1
    return resampled


def _redetail(rgb: np.ndarray, scale: int, run: RunNet, tile: int, pad: int, space, tick) -> np.ndarray:
    """`rgb` at its own size, its detail made again by the net: reduced `scale` x (area), upscaled back.

    For a soft frame made at a lower resolution and resized up (a generative draft): what the net adds is detail
    where the resize left blur. Over white and below zero the frame's own values come back, unresampled: over white
    wholly from twice the white on (easing in from the white itself, so the edge of a highlight has no step), whatever
    the net made of it, since at the frame's own size the frame is the better source of what the net cannot see.
    """
    height, width = rgb.shape[:2]
    small = cv2.resize(rgb, (max(1, round(width / scale)), max(1, round(height / scale))), interpolation=cv2.INTER_AREA)
    up = upscale_colour(small, scale, run, tile=tile, pad=pad, space=space, progress=tick, restore=False)
    if up.shape[:2] != (height, width):  # a size that does not divide: the last fraction of a pixel
        up = cv2.resize(up, (width, height), interpolation=cv2.INTER_LINEAR)
    white = np.float32(space.white)
    weight = np.clip((rgb - white) / white, 0.0, 1.0)
    weight = weight * weight * (np.float32(3.0) - np.float32(2.0) * weight)
    up += weight * (rgb - up)
    up += np.minimum(rgb, np.float32(0.0))
    return up


def scaled_window(box: Box, scale: int) -> Box:
    """A window `scale` times larger: pixel (x, y) becomes the block from (scale x, scale y)."""
    x0, y0, x1, y1 = box
    return x0 * scale, y0 * scale, (x1 + 1) * scale - 1, (y1 + 1) * scale - 1


def is_nearest_channel(name: str) -> bool:
    """True for channels a filter must not blend: depth, object/material IDs, cryptomatte."""
    layer, _, last = name.rpartition(".")
    return last.lower() in _NEAREST_NAMES or any(w in (layer or last).lower() for w in _NEAREST_LAYER_WORDS)


def _is_alpha(name: str) -> bool:
    return name.rpartition(".")[2] in ("A", "alpha")


def _colour_names(path: Path, names: set[str]) -> list[str]:
    """R, G, B, or Y three times; InputError naming the file when it has neither."""
    if {"R", "G", "B"} <= names:
        return ["R", "G", "B"]
    if "Y" in names:
        return ["Y"] * 3
    raise InputError(f"{path}: no R, G, B (or Y) channels to upscale; has {', '.join(sorted(names))}")


def _finite(source: ExrImage, name: str) -> np.ndarray:
    plane = source.channels[name].astype(np.float32, copy=False)
    finite = np.isfinite(plane)
    if finite.all():
        return plane
    log.warning("%s: %d %s samples hold NaN/Inf; upscaled as 0", source.path, int((~finite).sum()), name)
    return np.where(finite, plane, np.float32(0.0))


def _sources(spec: UpscaleSpec) -> dict[int, Path]:
    """Frame number -> source path; InputError for a single image, a gap or a non-EXR pattern."""
    pattern = spec.inputs[0]
    if not is_sequence_pattern(pattern):
        raise InputError(f"{pattern}: give a frame pattern such as draft.####.exr")
    seq = FrameSequence.from_pattern(pattern, spec.frames)
    if seq.suffix.lower() != ".exr":
        raise InputError(f"{seq.pattern}: upscale reads scene-linear EXR frames; convert {seq.suffix} first")
    return {f: seq.path(f) for f in seq.frames}
