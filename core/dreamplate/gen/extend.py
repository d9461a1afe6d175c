"""Extend a plate: new frames after its last (or before its first) made by a video model conditioned on its end.

Steps, in order (nothing is written before step 5, no model loads before step 3):
1. check the plate, the matte, the colour space, how many frames to add (`--seconds` at the plate's framesPerSecond)
   and the outputs: the plate's frames and the new ones numbered on (before 1001 come 1000, 999, ... -1);
2. finished frames (same provenance) are skipped: an interrupted extend resumes and rewrites nothing;
3. resolve the model and how it is conditioned on the plate's end frames (`--context`):
   Wan VACE: those frames in the control video with mask 0 (kept), the new frames masked 255 (made);
   LTX-Video: a video condition at frame 0 (forward; k*8+1 frames) or one image condition per frame (backward);
   Wan image-to-video: the edge frame as its first frame (backward: generated forward from the plate's first frame,
   then played in reverse, so motion runs backwards out of the plate; VACE or LTX-Video continue backward in time);
   a model that cannot condition on frames (Wan text-to-video) is refused;
4. windows (`plan_chain`): each window is conditioned on the last `context` frames before it, as written, and with
   `--anchor plate` its colour is anchored to the plate's end frames plus the first window's change, so tint and
   exposure do not build up window after window;
5. write: the plate's frames bit for bit, then each new frame as its window finishes, decoded against the plate's
   edge frame (its highlights and detail where the model kept them) and, with `--mask`, the edge frame held outside
   the matte: only the matte's area moves.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from dreamplate.errors import InputError, ModelError
from dreamplate.gen.extend_spec import ExtendSpec
from dreamplate.gen.model_run import ModelRun, prepare_model
from dreamplate.gen.pipeline_call import StepCallback, call_pipeline
from dreamplate.gen.plate import composite_with_matte, from_model, onto_plate, read_matte, to_model
from dreamplate.gen.settings import apply_draft
from dreamplate.gen.sources import (
    PlateRun,
    PlateSequence,
    check_plate,
    exr_outputs,
    made_mattes,
    mask_paths,
    plate_colour,
    read_plate,
)
from dreamplate.gen.stream import Chain, condition_inputs, stream_chain
from dreamplate.gen.windows import ColourShift, Window, anchor_colour, measure_shift, plan_chain, valid_length
from dreamplate.io.exr import ExrImage
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.reading import place_on_window, read_source, stack_channels
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.writing import FrameWriter

log = logging.getLogger(__name__)


def run_extend(spec: ExtendSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the plate's frames and the new ones `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError/JobError before any output exists when something is wrong, Cancelled
    between denoising steps or frames (finished frames stay; a re-run makes only the missing ones).
    """
    # 1. The plate, the count, the outputs.
    spec = apply_draft(spec, "extend")
    plate = check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    count = extension_length(spec, plate)
    backward = spec.backward
    new_numbers = (
        [plate.frames[0] - k for k in range(1, count + 1)]
        if backward
        else [plate.frames[-1] + k for k in range(1, count + 1)]
    )
    run = prepare_run(spec, "extend", options, plate, new_numbers)

    # 3 (before 2: provenance names the model). The model and its conditioning.
    model = conditioning_model(spec, "extend", plate.size)
    if model.purpose == "flf2v" and needs_last_frame(model.info.path):
        raise ModelError(
            f"--model {spec.model}: a first-last-frame (FLF2V) Wan checkpoint needs a last frame, which an extension "
            "does not have; use a first-frame Wan image-to-video (I2V), Wan VACE or LTX-Video model"
        )
    context = context_frames(spec.context, model, len(plate.frames), leading=not backward or model.purpose == "flf2v")
    window = model.settings.window
    if context >= window:
        raise InputError(f"--context {context}: must be smaller than the {window}-frame window (--window)")
    # Shot indices in generation order: 0 .. context-1 the plate's end frames (nearest the new ones last), then new.
    edge = plate.frames[:context][::-1] if backward else plate.frames[-context:]
    numbers = [*edge, *new_numbers]
    windows = plan_chain(len(numbers), window, context, model.info.temporal_multiple)
    flip = backward and model.purpose != "flf2v"
    log.info(
        "extend: %d frames %s %s in %d window(s) of up to %d, conditioned on %d plate frame(s), %s",
        count,
        "before" if backward else "after",
        plate.pattern,
        len(windows),
        windows[0].length,
        context,
        model.describe(),
    )
    params = model.parameters(
        spec,
        after=spec.after,
        before=spec.before,
        seconds=spec.seconds,
        at=spec.at,
        added=count,
        context=context,
        anchor=spec.anchor,
        conditioning=plate_conditioning(model),
        window=window,
    )
    shot = ChainShot(run, model, numbers, {i: plate.paths[f] for i, f in enumerate(edge)}, windows, params)

    # 2 and 4-5. Skip what is finished, write the plate, stream the windows.
    held = read_plate(plate.paths[edge[-1]], spec.part, spec.view)
    shift: dict[str, ColourShift] = {}
    plate_model = np.stack(list(shot.known.values()))

    def adjust(win: Window, out: np.ndarray, new: list[int]) -> np.ndarray:
        at = [i - win.start for i in new]
        if win.index == 0:
            shift["reference"] = measure_shift(out[at], plate_model)
            return out
        out = out.copy()
        out[at] = anchor_colour(out[at], plate_model, shift["reference"])
        return out

    anchored = spec.anchor == "plate"
    return shot.run(
        "extend",
        lambda i: held,
        hold_index=context - 1,
        flip=flip,
        adjust=adjust if anchored else None,
        reference_first=anchored,
    )


def extend_frames(spec: ExtendSpec) -> list[int]:
    """The output frame numbers in order: the new ones before the plate, or the plate's then the new ones."""
    plate = check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    count = extension_length(spec, plate)
    if spec.backward:
        return [*range(plate.frames[0] - count, plate.frames[0]), *plate.frames]
    return [*plate.frames, *range(plate.frames[-1] + 1, plate.frames[-1] + count + 1)]


def extension_length(spec: ExtendSpec, plate: PlateSequence) -> int:
    """Frames to add: --after / --before, or --seconds at the plate's framesPerSecond (InputError without one)."""
    if spec.seconds is None:
        return int(spec.after or spec.before or 0)
    fps = plate_fps(plate)
    if fps is None:
        first = plate.paths[plate.frames[0]]
        raise InputError(f"--seconds {spec.seconds:g}: {first} has no framesPerSecond; give --after or --before")
    count = round(spec.seconds * fps)
    if count < 1:
        raise InputError(f"--seconds {spec.seconds:g}: less than one frame at {fps:g} fps")
    return count


def plate_fps(plate: PlateSequence) -> float | None:
    """The plate's frame rate from its first frame's framesPerSecond, if it has one."""
    value = plate.info.attributes.get("framesPerSecond")
    if isinstance(value, tuple | list) and len(value) == 2 and value[1]:
        value = Fraction(int(value[0]), int(value[1]))
    if isinstance(value, Fraction | int | float) and value > 0:
        return float(value)
    return None


# --- what extend and loop share ---------------------------------------------------------------------------------------


def prepare_run(spec: Any, operation: str, options: RunOptions, plate: PlateSequence, new: list[int]) -> PlateRun:
    """Step 1 of extend and loop: mattes, colour space and outputs for the plate's frames plus `new` ones."""
    masks = mask_paths(spec, plate)
    cfg, space = plate_colour(spec.ocio, plate.info.attributes, spec.colorspace)
    every = sorted({*plate.frames, *new})
    label, outputs = exr_outputs(spec.output, every)
    check_outputs(outputs, [*plate.paths.values(), *(masks or {}).values()])
    only_frames = options.get("only_frames")
    check_only_frames(label, every, only_frames)
    frames = [f for f in every if only_frames is None or f in set(only_frames)]
    writer = FrameWriter(cfg, space, spec.pixel_type, spec.compression)
    made = made_mattes(spec, plate) if spec.made_matte_kind is not None else None
    return PlateRun(operation, spec, options, plate, frames, masks, space, writer, label, outputs, made)


def conditioning_model(spec: Any, operation: str, plate_size: tuple[int, int]) -> ModelRun:
    """The model, served for conditioning on frames: VACE and LTX-Video as "keyframes", Wan i2v as "flf2v".

    ModelError naming the model and what it can do when it cannot condition on frames.
    """
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    if "keyframes" in info.capabilities:
        purpose = "keyframes"
    elif "flf2v" in info.capabilities:
        purpose = "flf2v"
    else:
        raise ModelError(
            f"--model {spec.model}: {info.pipeline_class} cannot condition on frames, so it cannot {operation}; "
            f"it can: {', '.join(sorted(info.capabilities))}; use a Wan VACE, Wan image-to-video or LTX-Video model"
        )
    if spec.light_reference is not None and info.pipeline_class != "WanVACEPipeline":
        raise ModelError(f"--light-reference: {info.pipeline_class} takes no reference image; use a Wan VACE model")
    return prepare_model(spec, info, purpose, plate_size)


def needs_last_frame(model_dir: Path) -> bool:
    """True for a Wan first-last-frame (FLF2V) transformer: its image embedding is made for two images."""
    try:
        config = json.loads((model_dir / "transformer" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return config.get("pos_embed_seq_len") is not None


def plate_conditioning(model: ModelRun, ends: bool = False) -> str:
    """How this model is conditioned on frames, for provenance; `ends`: on a first and a last frame."""
    if model.purpose == "flf2v":
        return "image-to-video first and last frame" if ends else "image-to-video first frame"
    return "LTX frame conditions" if model.info.family == "ltx" else "VACE frames + mask"


def context_frames(given: int | None, model: ModelRun, plate_length: int, *, leading: bool) -> int:
    """Plate frames to condition on: `--context`, else the family's default, never more than the plate has.

    `leading`: the frames open the model's window (LTX-Video then takes a video condition of k*m+1 frames).
    InputError naming --context when the plate or the family cannot give that many.
    """
    multiple = model.info.temporal_multiple
    if model.purpose == "flf2v":
        if given not in (None, 1):
            raise InputError(f"--context {given}: {model.pipeline_class} conditions on one frame (its first)")
        return 1
    ltx_leading = model.info.family == "ltx" and leading
    if given is not None:
        if given > plate_length:
            raise InputError(f"--context {given}: the plate has only {plate_length} frames to condition on")
        if ltx_leading and (given - 1) % multiple:
            lower = valid_length(given, multiple)
            raise InputError(f"--context {given}: LTX-Video conditions on k*{multiple}+1 frames; try {lower}")
        return given
    default = max(1, model.settings.overlap)
    default = min(default, plate_length)
    return valid_length(default, multiple) if ltx_leading else default


def encode(rgb: np.ndarray, model: ModelRun) -> np.ndarray:
    """One scene-linear frame (H, W, 3) as the model sees it (h, w, 3)."""
    return to_model(rgb[None], model.geometry, model.space)[0]


def as_written(image: ExrImage, pixel_type: str) -> np.ndarray:
    """The colour of `image` on its display window as a re-read of the written file gives it (half rounded)."""
    rgb = place_on_window(stack_channels(image.channels, ["R", "G", "B"]), image.data_window, image.display_window)
    return rgb.astype(np.float16).astype(np.float32) if pixel_type == "half" else rgb.astype(np.float32)


@dataclass
class ChainShot:
    """A chain of windows over shot indices whose output frames are `numbers[i]`; `plate` holds the known ones.

    Known shot indices (`plate`, index -> file) are conditioning only: plate frames or keys, written through unchanged
    by `run` when they are output frames of this run. Every other index is made by a window.
    """

    plate_run: PlateRun
    model: ModelRun
    numbers: list[int]
    plate: dict[int, Path]
    windows: list[Window]
    params: dict[str, Any]
    known_method: str = "plate"  # the provenance method of a known frame written through ("key" for keyframes)
    ends: bool = False  # conditioned at both ends (loop, keyframes): how the method names the conditioning

    def __post_init__(self) -> None:
        spec = self.plate_run.spec
        self.known = {i: encode(read_plate(p, spec.part, spec.view)[1], self.model) for i, p in self.plate.items()}
        self.index = {number: i for i, number in enumerate(self.numbers)}
        self.made_by: dict[int, Window] = {}
        for win in self.windows:
            for i in range(win.start, win.stop):
                if i not in self.plate:
                    self.made_by.setdefault(i, win)

    def sources(self, i: int) -> tuple[list[str], list[float]]:
        """The frames shot index i is conditioned on: the known and earlier-made frames of its window."""
        win = self.made_by[i]
        at = [j for j in range(win.start, win.stop) if j in self.plate or self.made_by[j].index < win.index]
        paths = [str(self.plate[j]) if j in self.plate else str(self.plate_run.outputs[self.numbers[j]]) for j in at]
        return paths, [float(self.numbers[j]) for j in at]

    def provenance(self, operation: str) -> Callable[[int], Provenance]:
        """Each output frame's provenance: a plate frame passed through, or a new frame and its conditioning."""
        spec, plate = self.plate_run.spec, self.plate_run.plate
        space = self.plate_run.space.name

        def provenance(number: int) -> Provenance:
            if number in plate.paths:
                sources, frames = [str(plate.paths[number])], [float(number)]
                method = self.known_method
                return self.model.provenance(operation, spec, self.params, sources, frames, space, method=method)
            i = self.index[number]
            sources, frames = self.sources(i)
            params = {**self.params, "window_index": self.made_by[i].index}
            return self.model.provenance(operation, spec, params, sources, frames, space)

        return provenance

    def run(
        self,
        operation: str,
        under: Callable[[int], tuple[ExrImage, np.ndarray]],
        *,
        hold_index: int | None = None,
        flip: bool = False,
        adjust: Callable[[Window, np.ndarray, list[int]], np.ndarray] | None = None,
        reference_first: bool = False,
    ) -> PlateResult:
        """Write the plate's frames through, then stream the windows and write each new frame as it is made.

        `under(i)`: the plate frame (image, scene-linear RGB) a new shot index is decoded against, and held outside
        the matte. `hold_index`: with a matte, VACE sees that known frame where the new frames may not change.
        """
        run, model = self.plate_run, self.model
        spec, plate = run.spec, run.plate
        provenance = self.provenance(operation)
        frames = run.frame_run(provenance)
        force = run.options.get("force", False)
        wanted = set(run.frames)
        unfinished = set(frames.pending(sorted(run.outputs), False))
        to_write = {f for f in wanted if force or f in unfinished}
        for number in run.frames:
            if number in plate.paths:
                frames.progress.check_cancelled()
                if number in to_write:
                    source = read_source(plate.paths[number], spec.part, spec.view)
                    run.writer.passthrough(run.outputs[number], source, provenance(number))
                    frames.wrote(number)
                else:
                    frames.skipped(number)
        for number in run.frames:
            if number not in plate.paths and number not in to_write:
                frames.skipped(number)
        hold = moving = None
        if (
            hold_index is not None
            and run.masks is not None
            and model.purpose == "keyframes"
            and model.info.family == "wan"
        ):
            image, _rgb = read_plate(self.plate[hold_index], spec.part, spec.view)
            source = run.matte_source(self.numbers[hold_index], image)
            matte = read_matte(source, image.display_window, spec.mask_channel)
            hold, moving = self.known[hold_index], model.geometry.to_model_frames(matte[None, ..., None])[0, ..., 0]

        def emit(i: int, out: np.ndarray, write: bool) -> np.ndarray:
            image, rgb = under(i)
            number = self.numbers[i]
            linear = from_model(out[None], model.geometry, model.space, rgb[None])[0]
            if run.masks is not None:
                source = run.matte_source(self._nearest_plate_frame(i), image)
                matte = read_matte(source, image.display_window, spec.mask_channel)
                linear = composite_with_matte(linear[None], rgb[None], matte[None], spec.feather)[0]
            result = onto_plate(image, linear)
            if write:
                run.writer.write(run.outputs[number], result, provenance(number), keep_timecode=False)
                frames.wrote(number)
            return encode(as_written(result, spec.pixel_type), model)

        def load(i: int) -> np.ndarray:
            return encode(read_plate(run.outputs[self.numbers[i]], spec.part, spec.view)[1], model)

        def generate(win: Window, cond: dict[int, np.ndarray], seed: int, on_step: StepCallback) -> np.ndarray:
            kwargs = model.call_arguments(spec, seed)
            kwargs["num_frames"] = win.length
            kwargs.update(
                condition_inputs(
                    model.purpose, model.info.family, win.length, cond, model.geometry.model_size, hold, moving
                )
            )
            if spec.light_reference is not None:
                from dreamplate.gen.sources import read_reference

                size = model.geometry.model_size
                kwargs["reference_images"] = [read_reference(Path(spec.light_reference), size, model.space)]
            what = f"{operation} window {win.index}"
            return call_pipeline(model.pipe.get(), kwargs, what, run.cancelled, on_step)

        chain = Chain(
            known=self.known,
            pending=lambda i: self.numbers[i] in to_write,
            finished=lambda i: self.numbers[i] not in unfinished,
            load=load,
            emit=emit,
            flip=flip,
            adjust=adjust,
            reference_first=reference_first,
        )
        stream_chain(chain, self.windows, generate, spec.seed, frames.progress.check_cancelled, frames.progress.report)
        frames.result.method = f"{operation} ({plate_conditioning(model, self.ends)}) {model.describe()}"
        return frames.result

    def _nearest_plate_frame(self, i: int) -> int:
        """The plate frame a new shot index takes its matte from: the known frame nearest it in the shot."""
        plate = self.plate_run.plate.paths
        known = [j for j in self.plate if self.numbers[j] in plate]
        return self.numbers[min(known, key=lambda j: (abs(j - i), j))]
