"""Reframe: a new framing of a plate; the plate's pixels come back bit for bit where they land, the rest outpainted.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the plate, the colour space and the outputs; work out the new frame (`new_frame`): `--aspect` gives the
   smallest frame of that aspect holding the plate's display window, `--size` a frame of its own (a side smaller
   than the plate's crops it); `--position X,Y` puts the plate at X * (new width - plate width), likewise Y;
2. the windows: the new frame's display window is (0, 0, W - 1, H - 1) and its data window the same. The plate's
   overscan (data outside its display window) lands beside it like the rest of its pixels: kept where it falls
   inside the new frame (real picture, nothing to invent), dropped outside it; the new frame has no overscan;
3. the model, at the model's size for the new frame's aspect (InputError when that aspect fills less than half a
   block of the model's multiple on a side): Wan VACE outpaints with its inpainting mask (255 on the new area,
   grey there in the control video, the plate in it elsewhere); LTX-Video and Wan T2V, which have no mask, run
   video-to-video on the new frame with the plate's edge stretched over the new area (`--strength`);
4. each plate frame extended to the new frame (the new area holds the stretched edge) in a temporary sequence
   beside the outputs, with the new area as its matte, and streamed through the windows as relight does;
5. written: inside the plate's area the pixels are the plate's own, bit for bit (R, G, B and alpha; `--repaint`
   lets the model change them too), the new area the model's, blended over a `--feather` seam inside it.
A new frame that only crops (no new area) and no `--repaint` needs no model: the kept pixels are written as they are.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

import cv2
import numpy as np

from dreamplate.errors import InputError
from dreamplate.gen.create_spec import ReframeSpec
from dreamplate.gen.model_run import ModelRun, prepare_model
from dreamplate.gen.pipeline_call import StepCallback, call_pipeline, to_pil, v2v_inputs
from dreamplate.gen.settings import apply_draft, settings_parameters
from dreamplate.gen.sources import PlateRun, PlateSequence, check_plate, exr_outputs, plate_colour
from dreamplate.gen.stream import stream_windows
from dreamplate.gen.windows import Window
from dreamplate.io.exr import Box, ExrImage, write_exr
from dreamplate.io.provenance import Provenance, carried_attributes
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.reading import place_on_window, read_source, union_window
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.writing import FrameWriter

log = logging.getLogger(__name__)

GREY = 0.5
"""VACE's "nothing here" value in the control video (128 of 255) where the mask asks for new content."""


@dataclass(frozen=True)
class NewFrame:
    """Where the plate sits in the new frame: sizes (width, height) and the plate display window's top-left corner.

    `offset` (x, y) may be negative where the new frame is smaller than the plate (that side is cropped).
    """

    plate_size: tuple[int, int]
    size: tuple[int, int]
    offset: tuple[int, int]

    @property
    def box(self) -> Box:
        """The new frame's display (and data) window."""
        return 0, 0, self.size[0] - 1, self.size[1] - 1


def new_frame(plate_size: tuple[int, int], spec: ReframeSpec) -> NewFrame:
    """The new frame for a plate of `plate_size` (its display window): from `--aspect` or `--size`, and `--position`."""
    width, height = plate_size
    if spec.size is not None:
        size = spec.size
    else:
        assert spec.aspect is not None
        aspect = spec.aspect[0] / spec.aspect[1]
        if width / height > aspect:
            size = (width, max(1, round(width / aspect)))
        else:
            size = (max(1, round(height * aspect)), height)
    x, y = spec.position
    offset = (round(x * (size[0] - width)), round(y * (size[1] - height)))
    return NewFrame(plate_size, size, offset)


def extend_frame(image: ExrImage, frame: NewFrame) -> tuple[ExrImage, np.ndarray]:
    """A plate frame on the new frame, and the new area's matte (H, W) float32 (1: new, 0: the plate's pixels).

    R, G, B (Y as all three) and A of the plate's display and data windows land at `frame.offset`, float32 copies
    of the stored values (so a half plate comes back bit for bit); the new area holds the nearest kept pixel
    (the stretched edge), alpha 0 there. Header attributes are the plate's (what still holds).
    """
    (px0, py0, *_), box = image.display_window, union_window(image.display_window, image.data_window)
    kx0, ky0 = box[0] - px0 + frame.offset[0], box[1] - py0 + frame.offset[1]
    kx1, ky1 = box[2] - px0 + frame.offset[0] + 1, box[3] - py0 + frame.offset[1] + 1
    width, height = frame.size
    x0, y0, x1, y1 = max(kx0, 0), max(ky0, 0), min(kx1, width), min(ky1, height)
    if x0 >= x1 or y0 >= y1:
        raise InputError(f"--position: the plate lands outside the {width}x{height} frame")
    channels: dict[str, np.ndarray] = {}
    for name in ("R", "G", "B", "A"):
        source = image.channels.get(name, image.channels.get("Y")) if name != "A" else image.channels.get("A")
        if source is None:
            continue
        pixels = place_on_window(source.astype(np.float32), image.data_window, box)
        kept = pixels[y0 - ky0 : y1 - ky0, x0 - kx0 : x1 - kx0]
        if name == "A":
            out = np.zeros((height, width), np.float32)
            out[y0:y1, x0:x1] = kept
        else:
            out = cv2.copyMakeBorder(kept, y0, height - y1, x0, width - x1, cv2.BORDER_REPLICATE)
        channels[name] = out
    matte = np.ones((height, width), np.float32)
    matte[y0:y1, x0:x1] = 0.0
    attributes = carried_attributes(image.attributes)
    extended = ExrImage(channels, dict.fromkeys(channels, "float"), frame.box, frame.box, attributes)
    return extended, matte


def run_reframe(spec: ReframeSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the plate reframed as `spec` asks; return what was written and skipped.

    Raises InputError/ColorError/ModelError before any output exists when the plate, the new frame, the outputs or
    the model do not fit; Cancelled between frames or denoising steps (finished frames stay).
    """
    # 1. Plate, colour, outputs, the new frame.
    spec = apply_draft(spec, "reframe")
    plate = check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    cfg, space = plate_colour(spec.ocio, plate.info.attributes, spec.colorspace)
    label, outputs = exr_outputs(spec.output, plate.frames)
    check_outputs(outputs, plate.paths.values())
    only = options.get("only_frames")
    check_only_frames(label, plate.frames, only)
    wanted = [f for f in plate.frames if only is None or f in set(only)]
    writer = FrameWriter(cfg, space, spec.pixel_type, spec.compression)
    frame = new_frame(plate.size, spec)
    first = read_source(plate.paths[plate.frames[0]], spec.part, spec.view)
    _, first_matte = extend_frame(first, frame)  # InputError now for a plate that lands outside the frame
    extra = {
        "frame_size": list(frame.size),
        "offset": list(frame.offset),
        "aspect": list(spec.aspect) if spec.aspect else None,
        "position": list(spec.position),
        "repaint": spec.repaint,
    }
    log.info("reframe: %dx%d plate at %d,%d in a %dx%d frame", *plate.size, *frame.offset, *frame.size)

    # 2. Nothing new to make: the kept pixels as they are.
    if not first_matte.any() and not spec.repaint:
        return _crop(spec, plate, frame, writer, label, outputs, wanted, options, extra)

    # 3. The model.
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    purpose = "control" if "control" in info.capabilities else "v2v"
    model = prepare_model(spec.model_copy(update={"size": None}), info, purpose, frame.size)
    _check_reachable(spec, frame, model)
    if purpose == "v2v" and info.family == "wan":
        v2v_inputs(info, [], spec.strength, model.settings.steps)  # refuses a strength that leaves no step
    windows = model.windows(len(plate.frames))
    params = model.parameters(spec, purpose=purpose, window=model.settings.window, overlap=model.settings.overlap)
    params.update(extra)
    if purpose == "control":
        params.pop("strength", None)  # VACE follows its mask; strength does not apply
    kept_model = _kept_in_model(first_matte, model)

    def provenance(f: int) -> Provenance:
        strength = spec.strength if purpose == "v2v" else None
        sources, frames_ = [str(plate.paths[f])], [float(f)]
        return model.provenance("reframe", spec, params, sources, frames_, space.name, strength=strength)

    def generate(win: Window, model_in: np.ndarray, seed: int, on_step: StepCallback) -> np.ndarray:
        kwargs = model.call_arguments(spec, seed)
        if purpose == "control":
            from PIL import Image

            control = model_in.copy()
            control[:, ~kept_model] = GREY
            mask = np.full(kept_model.shape, 255, np.uint8) if spec.repaint else np.where(kept_model, 0, 255)
            masks = [Image.fromarray(mask.astype(np.uint8))] * len(model_in)
            kwargs.update(video=to_pil(control), mask=masks, num_frames=len(model_in))
        else:
            kwargs.update(v2v_inputs(info, to_pil(model_in), spec.strength, model.settings.steps))
        return call_pipeline(model.pipe.get(), kwargs, f"reframe window {win.index}", options.get("cancelled"), on_step)

    # 4-5. The extended plate streamed through the windows.
    with tempfile.TemporaryDirectory(prefix=".dreamplate-reframe-", dir=Path(label).parent) as folder:
        extended = _write_extended(spec, plate, frame, Path(folder))
        run = PlateRun(
            operation="reframe",
            spec=spec.model_copy(update={"part": None, "view": None}),
            options=options,
            plate=extended,
            frames=wanted,
            masks=None if spec.repaint else dict.fromkeys(plate.frames, Path(folder) / "new_area.exr"),
            space=space,
            writer=writer,
            label=label,
            outputs=outputs,
        )
        result = stream_windows(run, model, windows, generate, provenance)
    result.method = f"{purpose} {model.describe()}"
    return result


def reframe_frames(spec: ReframeSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the plate's frames), for chunking."""
    return check_plate(spec.inputs[0], spec.frames, spec.part, spec.view).frames


def _check_reachable(spec: ReframeSpec, frame: NewFrame, model: ModelRun) -> None:
    """InputError when the new frame's aspect fills less than half a block of the model's multiple on a side.

    The model frame is a whole number of blocks each side and the picture is fitted inside it (the rest padding that
    is cropped away); a short side under half a block would leave the model mostly padding to outpaint.
    """
    m = model.info.spatial_multiple
    content = model.geometry.content_size
    if 2 * min(content) >= m:
        return
    option = (
        f"--aspect {spec.aspect[0]:g}:{spec.aspect[1]:g}" if spec.aspect else f"--size {frame.size[0]}x{frame.size[1]}"
    )
    target = model.settings.target_size
    longest = 2 * max(target) // m
    raise InputError(
        f"{option}: a {frame.size[0]}x{frame.size[1]} frame is {content[0]}x{content[1]} pixels in the model's "
        f"{target[0]}x{target[1]} frame, under half a {m}-pixel block; this model reaches aspects up to {longest}:1"
    )


def _kept_in_model(matte: np.ndarray, model: ModelRun) -> np.ndarray:
    """(h, w) bool at model size: True where the model frame shows only the plate's own pixels (not the padding)."""
    geometry = model.geometry
    kept = geometry.shrink((1.0 - matte)[..., None].astype(np.float32))
    kept = kept[..., 0] if kept.ndim == 3 else kept
    out = np.zeros((geometry.model_size[1], geometry.model_size[0]), bool)
    (ox, oy), (cw, ch) = geometry.offset, geometry.content_size
    out[oy : oy + ch, ox : ox + cw] = kept >= 1.0 - 1e-6
    return out


def _write_extended(spec: ReframeSpec, plate: PlateSequence, frame: NewFrame, folder: Path) -> PlateSequence:
    """Each plate frame on the new frame as `folder/extended.####.exr` (float, so the kept pixels stay exact),
    and the new area's matte as `folder/new_area.exr`; the sequence of the extended frames."""
    paths: dict[int, Path] = {}
    matte = None
    for f in plate.frames:
        extended, matte = extend_frame(read_source(plate.paths[f], spec.part, spec.view), frame)
        paths[f] = folder / f"extended.{f:08d}.exr"
        write_exr(paths[f], extended, pixel_type="float", compression="zip")
    assert matte is not None
    write_exr(folder / "new_area.exr", ExrImage({"R": matte}, {"R": "float"}, frame.box, frame.box))
    from dreamplate.io.exr import read_info

    info = read_info(paths[plate.frames[0]])[0]
    return PlateSequence(str(folder / "extended.########.exr"), list(plate.frames), paths, info)


def _crop(
    spec: ReframeSpec,
    plate: PlateSequence,
    frame: NewFrame,
    writer: FrameWriter,
    label: str,
    outputs: dict[int, Path],
    wanted: list[int],
    options: RunOptions,
    extra: dict[str, Any],
) -> PlateResult:
    """A new frame inside the plate: its pixels written as they are, no model resolved or loaded."""
    params = settings_parameters(spec, **extra)

    def provenance(f: int) -> Provenance:
        return Provenance(
            operation="reframe",
            method="crop",
            parameters=params,
            sources=[str(plate.paths[f])],
            source_frames=[float(f)],
            seed=spec.seed,
            prompt=spec.prompt or None,
            colorspace=writer.space.name if writer.space else None,
        )

    def write(f: int, path: Path, frame_provenance: Provenance) -> None:
        extended, _ = extend_frame(read_source(plate.paths[f], spec.part, spec.view), frame)
        types = {n: "half" for n in extended.channels}
        writer.write(
            path, ExrImage(extended.channels, types, frame.box, frame.box, extended.attributes), frame_provenance
        )

    progress = FrameProgress.of("reframe", len(wanted), options)
    frame_run = FrameRun(outputs, provenance, progress, PlateResult(output=label))
    result = frame_run.write(wanted, frame_run.pending(wanted, options.get("force", False)), write)
    result.method = "crop (no new area)"
    return result
