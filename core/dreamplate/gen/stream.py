"""The windowed stream: a long plate run through a video model window by window, each frame written when done.

Windows overlap (`gen.windows`); each window's frames are encoded, generated, colour-anchored to window 0 and
decoded against their own plate frames, and a frame is the blend of the windows that cover it, composited over
the plate inside the matte and written as soon as the last of them is done, so memory holds a window, not a shot.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

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
