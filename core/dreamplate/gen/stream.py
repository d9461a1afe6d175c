"""The windowed streams: a long shot run through a video model window by window, each frame written when done.

`stream_windows` (relight, sketch): windows overlap (`gen.windows`); each window's frames are encoded, generated,
colour-anchored to window 0 and decoded against their own plate frames, and a frame is the blend of the windows that
cover it, composited over the plate inside the matte and written as soon as the last of them is done, so memory
holds a window, not a shot.

`stream_chain` (extend, loop, keyframes past one window): windows made one after another, each conditioned on the
known frames inside it (plate frames, keys) and on the frames the window before it made there, as they were written;
`condition_inputs` turns those conditioning frames into each family's pipeline arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dreamplate.errors import JobError
from dreamplate.gen.model_run import ModelRun
from dreamplate.gen.pipeline_call import StepCallback
from dreamplate.gen.plate import composite_with_matte, from_model, onto_plate, read_matte, to_model
from dreamplate.gen.sources import PlateRun, read_plate
from dreamplate.gen.windows import Window, anchor_colour, blend_weights, measure_shift, seed_for_window
from dreamplate.io.exr import ExrImage
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.result import PlateResult

Generate = Callable[[Window, np.ndarray, int, StepCallback], np.ndarray]
"""(window, model-space input frames (length, h, w, 3), seed, step callback) -> model frames (length, h, w, 3)."""


def stream_windows(
    run: PlateRun,
    model: ModelRun,
    windows: list[Window],
    generate: Generate,
    provenance: Callable[[int], Provenance],
) -> PlateResult:
    """Generate window by window, blend the overlaps frame by frame and write each frame once no window is left.

    Per window: read only its plate frames, encode (`to_model`), generate with the window's seed, anchor its colour
    to window 0's change (`anchor_colour`), decode against its own plate frames (`from_model`). A frame is the
    `blend_weights` sum of its windows, matte-composited over the plate, written as soon as the last window that
    covers it is done. Windows whose frames are all finished (same provenance) are skipped; window 0 is still run
    when a later window needs its colour reference.
    """
    spec, plate = run.spec, run.plate
    weights = blend_weights(windows, len(plate.frames))
    frames = run.frame_run(provenance)
    pending = frames.pending(run.frames, run.options.get("force", False))
    for frame in sorted(set(run.frames) - set(pending)):
        frames.skipped(frame)
    index = {frame: i for i, frame in enumerate(plate.frames)}
    todo = {index[frame] for frame in pending}
    covering = {i: {w.index for w in windows if weights[w.index, i] > 0} for i in todo}
    needed = [w for w in windows if any(w.index in covering[i] for i in todo)]
    if needed and needed[0].index != 0:
        needed.insert(0, windows[0])  # the colour reference every later window is anchored to
    reference = None
    acc: dict[int, np.ndarray] = {}
    plates: dict[int, tuple[ExrImage, np.ndarray]] = {}
    for count, win in enumerate(needed, start=1):
        frames.progress.check_cancelled()
        frames_rgb = []
        for i in win.source_indices():
            if i in plates:
                frames_rgb.append(plates[i][1])
                continue
            image, rgb = read_plate(plate.paths[plate.frames[i]], spec.part, spec.view)
            if i in todo:
                plates[i] = (image, rgb)
            frames_rgb.append(rgb)
        plate_lin = np.stack(frames_rgb)
        model_in = to_model(plate_lin, model.geometry, model.space)

        def on_step(step: int, steps: int, count: int = count) -> None:
            frames.progress.report(f"window {count}/{len(needed)}: step {step}/{steps}")

        out = generate(win, model_in, seed_for_window(spec.seed, win.index), on_step)
        if win.index == 0:
            reference = measure_shift(out, model_in)
        else:
            assert reference is not None
            out = anchor_colour(out, model_in, reference)
        real = win.stop - win.start
        linear = from_model(out[:real], model.geometry, model.space, plate_lin[:real])
        for j in range(real):
            i = win.start + j
            if i not in todo:
                continue
            acc[i] = acc.get(i, 0.0) + weights[win.index, i] * linear[j].astype(np.float64)
            covering[i].discard(win.index)
            if covering[i]:
                continue
            frame = plate.frames[i]
            image, rgb = plates.pop(i)
            generated = acc.pop(i).astype(np.float32)
            if run.masks is not None:
                matte = read_matte(run.matte_source(frame, image), image.display_window, spec.mask_channel)
                generated = composite_with_matte(generated[None], rgb[None], matte[None], spec.feather)[0]
            run.writer.write(run.outputs[frame], onto_plate(image, generated), provenance(frame))
            frames.wrote(frame)
    return frames.result


# --- conditioned chains -----------------------------------------------------------------------------------------------

ChainGenerate = Callable[[Window, dict[int, np.ndarray], int, StepCallback], np.ndarray]
"""(window, conditioning model frames by position in the window as the model sees it, seed, step callback) ->
the window's model frames (length, h, w, 3) in that same order."""


@dataclass
class Chain:
    """A shot made by `stream_chain`, in generation order (index 0 is where the known frames start).

    `known`: model-space frames (h, w, 3) fixed before anything runs (plate frames, keys). `pending(i)`: the output at
    shot index i must be written by this run; `finished(i)`: it is on disk already, and `load(i)` gives it back as a
    model-space frame. `emit(i, frame, write)`: decode frame i, write it when `write`, and return it as written, in
    the model space (what a later window is conditioned on, the same whether it was made now or read back). `flip`:
    the model sees each window in reverse order (a backward extension played forward). `adjust(window, frames,
    new)`: the window's output (shot order) after colour correction, given the shot indices it makes.
    `reference_first`: window 0 runs whenever a later one does (its output is their colour reference).
    """

    known: Mapping[int, np.ndarray]
    pending: Callable[[int], bool]
    finished: Callable[[int], bool]
    load: Callable[[int], np.ndarray]
    emit: Callable[[int, np.ndarray, bool], np.ndarray]
    flip: bool = False
    adjust: Callable[[Window, np.ndarray, list[int]], np.ndarray] | None = None
    reference_first: bool = False


def stream_chain(
    chain: Chain,
    windows: list[Window],
    generate: ChainGenerate,
    seed: int,
    check_cancelled: Callable[[], None],
    report: Callable[[str], None],
) -> None:
    """Run the windows in order; each is conditioned on what is known or already made inside it, then emitted.

    A window runs when one of the frames it makes is pending, or a later window that runs needs one of them and it
    is not on disk. Frames a window shares with earlier ones (its conditioning) keep the earlier value; padded frames
    are dropped. Window i generates with `seed_for_window(seed, i)`, so a re-run of one window reproduces it. Memory
    holds the frames of the window before, not the shot.
    """
    made_by = {}
    for win in windows:
        for i in range(win.start, win.stop):
            if i not in chain.known and i not in made_by:
                made_by[i] = win.index
    runs = [False] * len(windows)
    for win in reversed(windows):
        own = [i for i, k in made_by.items() if k == win.index]
        later_needs = any(
            runs[other.index] and made_by.get(i) == win.index and not chain.finished(i)
            for other in windows[win.index + 1 :]
            for i in range(other.start, other.stop)
        )
        runs[win.index] = any(chain.pending(i) for i in own) or later_needs
    if chain.reference_first and any(runs[1:]):
        runs[0] = True
    made: dict[int, np.ndarray] = {}
    todo = [w for w in windows if runs[w.index]]
    for count, win in enumerate(todo, start=1):
        check_cancelled()
        cond: dict[int, np.ndarray] = {}
        for i in range(win.start, win.stop):
            if i in chain.known:
                frame = chain.known[i]
            elif made_by[i] < win.index:
                frame = made[i] if i in made else chain.load(i)
            else:
                continue
            offset = i - win.start
            cond[win.length - 1 - offset if chain.flip else offset] = frame

        def on_step(step: int, steps: int, count: int = count) -> None:
            report(f"window {count}/{len(todo)}: step {step}/{steps}")

        out = generate(win, cond, seed_for_window(seed, win.index), on_step)
        if chain.flip:
            out = out[::-1]
        new = [i for i in range(win.start, win.stop) if made_by.get(i) == win.index]
        if chain.adjust is not None:
            out = chain.adjust(win, out, new)
        made = {i: f for i, f in made.items() if i >= win.start}  # the window before is what the next one may need
        for i in new:
            made[i] = chain.emit(i, out[i - win.start], chain.pending(i))


def condition_inputs(
    purpose: str,
    family: str,
    length: int,
    frames: Mapping[int, np.ndarray],
    size: tuple[int, int],
    hold: np.ndarray | None = None,
    moving: np.ndarray | None = None,
) -> dict[str, Any]:
    """Pipeline arguments that condition a `length`-frame call on model-space `frames` at their positions.

    Wan VACE: the frames in the control video with mask 0 (keep), grey with mask 255 (make) elsewhere; with `hold`
    and `moving` (a model-size matte in [0, 1]) a made frame shows `hold` and may change only inside the matte.
    LTX-Video: one condition per frame at its index, a leading run of frames as one video condition at 0 (the
    family's video extension; LTX keeps k*8+1 of them). Wan image-to-video ("flf2v"): `image` at 0 and `last_image`
    at the end, nothing between. Raises JobError for positions a family cannot take.
    """
    from PIL import Image

    from dreamplate.gen.pipeline_call import to_pil

    positions = sorted(frames)
    bad = [p for p in positions if not 0 <= p < length]
    if bad:
        raise JobError(f"conditioning frames at {bad[:5]} fall outside the {length}-frame call")
    if family == "ltx":
        from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

        lead = 0
        while lead in frames:
            lead += 1
        conditions = []
        if lead > 1:
            conditions.append(
                LTXVideoCondition(video=to_pil(np.stack([frames[p] for p in range(lead)])), frame_index=0)
            )
        conditions += [
            LTXVideoCondition(image=to_pil(frames[p][None])[0], frame_index=p, strength=1.0)
            for p in positions
            if lead <= 1 or p >= lead
        ]
        return {"conditions": conditions}
    if purpose == "flf2v":
        if 0 not in frames or any(p not in (0, length - 1) for p in positions):
            raise JobError(f"image-to-video takes a first frame and a last frame only; got frames at {positions[:5]}")
        args: dict[str, Any] = {"image": to_pil(frames[0][None])[0]}
        if length > 1 and length - 1 in frames:
            args["last_image"] = to_pil(frames[length - 1][None])[0]
        return args
    grey = Image.new("RGB", size, (128, 128, 128))  # VACE's "nothing here" value
    keep, make = Image.new("L", size, 0), Image.new("L", size, 255)
    made_frame, made_mask = grey, make
    if hold is not None and moving is not None:
        made_frame = to_pil(hold[None])[0]
        made_mask = Image.fromarray(np.rint(np.clip(moving, 0.0, 1.0) * 255.0).astype(np.uint8))
    pictures = to_pil(np.stack([frames[p] for p in positions])) if positions else []
    at = dict(zip(positions, pictures, strict=True))
    return {
        "video": [at.get(i, made_frame) for i in range(length)],
        "mask": [keep if i in at else made_mask for i in range(length)],
    }
