"""Loop a plate or a still: played on repeat, the cut from the last frame to the first is no cut at all.

Steps, in order (nothing is written before step 4, no model loads before step 2):
1. check the plate (or the still), the matte, the colour space and the outputs;
2. resolve the model (it must condition on frames) and plan the shot:
   a plate: its last `context` frames, the `--bridge` new frames (numbered on after the last), its first frames, in
   one model window conditioned at both ends (VACE frames + mask, LTX frame conditions, Wan first+last frame); a
   bridge that does not fit one window is refused;
   a still: `--frames N` frames from the still (the first frame) to the still again (frame N+1, not written), as a
   keyframe shot with the still at both ends, in windows when it is longer than one;
3. finished frames are skipped (same provenance);
4. write the plate's frames (or the still) bit for bit and each new frame decoded against the nearer end.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

from dreamplate.errors import InputError
from dreamplate.gen.extend import ChainShot, conditioning_model, context_frames, prepare_run
from dreamplate.gen.extend_spec import LoopSpec
from dreamplate.gen.model_run import ModelRun
from dreamplate.gen.settings import apply_draft, render_settings
from dreamplate.gen.sources import PlateRun, PlateSequence, check_plate, read_plate
from dreamplate.gen.windows import Window, plan_chain, valid_length
from dreamplate.io.sequence import is_sequence_pattern, parse_frame_range
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import check_sources

log = logging.getLogger(__name__)

STILL_START = 1001
"""A still looped for `--frames N` is numbered from here (VFX shots start at 1001); give a range to choose."""


def run_loop(spec: LoopSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the looping shot `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError/JobError before any output exists when something is wrong, Cancelled
    between denoising steps or frames (finished frames stay).
    """
    # 1. The plate or the still, and the outputs.
    spec = apply_draft(spec, "loop")
    still = not is_sequence_pattern(spec.inputs[0])
    plate = still_plate(spec) if still else check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    if still:
        numbers = still_numbers(spec.frames)
        if spec.bridge is not None:
            raise InputError(f"--bridge {spec.bridge}: a still loops over --frames; --bridge is for a plate")
    else:
        bridge = spec.bridge or default_bridge(*_settings(spec))
        numbers = [plate.frames[-1] + k for k in range(1, bridge + 1)]
    new = numbers[1:] if still else numbers
    run = prepare_run(spec, "loop", options, plate, new)

    # 2. The model and the shot.
    model = conditioning_model(spec, "loop", plate.size)
    window = model.settings.window
    if still:
        shot = _still_shot(spec, run, model, plate, numbers)
        first = read_plate(plate.paths[plate.frames[0]], spec.part, spec.view)
        return shot.run("loop", lambda i: first, hold_index=0)
    context = context_frames(spec.context, model, len(plate.frames), leading=True)
    length = context + len(numbers) + context
    if model.purpose == "flf2v":
        length = 1 + len(numbers) + 1
        if not model.info.valid_frames(length) or length > window:
            m = model.info.temporal_multiple
            longest = valid_length(window, m) - 2
            raise InputError(
                f"--bridge {len(numbers)}: {model.pipeline_class} makes k*{m}+1 frames with the last and the first "
                f"frame at its ends, so the bridge must be k*{m}-1 frames and at most {longest}"
            )
    else:
        length = -(-(length - 1) // model.info.temporal_multiple) * model.info.temporal_multiple + 1
    if length > window:
        most = window - 2 * context
        raise InputError(
            f"--bridge {len(numbers)}: with {context} plate frames each side that is {length} frames, longer than "
            f"the {window}-frame window; give at most {max(most, 0)} (or a shorter --context, a longer --window)"
        )
    # A count the model cannot take is made up with more plate frames at the ends (LTX-Video: at the start only,
    # its leading video condition keeps k*m+1 frames).
    excess = length - 2 * context - len(numbers)
    head = context if model.info.family == "ltx" or model.purpose == "flf2v" else context + excess // 2
    tail = length - head - len(numbers)
    if max(head, tail) > len(plate.frames):
        raise InputError(
            f"--bridge {len(numbers)}: the {length}-frame loop window needs {max(head, tail)} plate frames at an "
            f"end and the plate has {len(plate.frames)}; give a bridge of {length - 2 * context} or a shorter --context"
        )
    ends = plate.frames[-head:]
    starts = plate.frames[:tail]
    shot_numbers = [*ends, *numbers, *starts]
    known = {i: plate.paths[f] for i, f in enumerate(ends)}
    known |= {head + len(numbers) + i: plate.paths[f] for i, f in enumerate(starts)}
    params = model.parameters(spec, bridge=len(numbers), context=context, window=window, generated_frames=length)
    shot = ChainShot(run, model, shot_numbers, known, [Window(0, 0, length)], params, ends=True)
    log.info(
        "loop: a %d-frame bridge from %s back to its first frame, %s", len(numbers), plate.pattern, model.describe()
    )
    last = read_plate(plate.paths[plate.frames[-1]], spec.part, spec.view)
    first = read_plate(plate.paths[plate.frames[0]], spec.part, spec.view)
    middle = head + len(numbers) / 2

    # 3-4. Skip what is finished, write.
    return shot.run("loop", lambda i: last if i < middle else first, hold_index=head - 1)


def loop_frames(spec: LoopSpec) -> list[int]:
    """The output frame numbers in order: the plate's and its bridge, or the still's loop."""
    if not is_sequence_pattern(spec.inputs[0]):
        return still_numbers(spec.frames)
    plate = check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    bridge = spec.bridge or default_bridge(*_settings(spec))
    return [*plate.frames, *range(plate.frames[-1] + 1, plate.frames[-1] + bridge + 1)]


def default_bridge(overlap: int, temporal_multiple: int, first_last: bool) -> int:
    """The bridge when none is given: about the window overlap, so that with `overlap` plate frames each side (one
    for first+last-frame models) the window is a length the model takes."""
    sides = 2 if first_last else 2 * max(1, overlap)
    total = sides + max(1, overlap)
    return -(-(total - 1) // temporal_multiple) * temporal_multiple + 1 - sides


def still_numbers(frames: str | None) -> list[int]:
    """The frame numbers of a still's loop: `--frames N` from 1001, or the range given (consecutive)."""
    if frames is None:
        raise InputError("--frames: give the loop's length for a still, e.g. --frames 48 (or 1001-1048)")
    text = frames.strip()
    numbers = list(range(STILL_START, STILL_START + int(text))) if text.isdigit() else parse_frame_range(text)
    if len(numbers) < 2:
        raise InputError(f"--frames {frames}: a loop of a still needs 2 or more frames")
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise InputError(f"--frames {frames}: a loop plays every frame; give a range without gaps or steps")
    return numbers


def still_plate(spec: LoopSpec) -> PlateSequence:
    """A still as a one-frame plate; InputError for a missing or non-EXR file."""
    path = Path(spec.inputs[0])
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() != ".exr":
        raise InputError(f"{path}: generative ops read scene-linear EXR stills; convert {path.suffix} first")
    info = check_sources({0: path}, spec.part, spec.view, same_channels=False)[0]
    frame = still_numbers(spec.frames)[0]
    return PlateSequence(str(path), [frame], {frame: path}, info)


def _still_shot(spec: LoopSpec, run: PlateRun, model: ModelRun, plate: PlateSequence, numbers: list[int]) -> ChainShot:
    """The still at shot index 0 and again at N (one past the loop's last frame), windows between."""
    window, m = model.settings.window, model.info.temporal_multiple
    count = len(numbers)
    if model.purpose == "flf2v" and (not model.info.valid_frames(count + 1) or count + 1 > window):
        raise InputError(
            f"--frames {spec.frames}: {model.pipeline_class} makes k*{m}+1 frames from the still back to the still, "
            f"so a loop of k*{m} frames up to {valid_length(window, m) - 1}; or use a Wan VACE or LTX-Video model"
        )
    context = context_frames(spec.context, model, count, leading=True)
    if context >= window:
        raise InputError(f"--context {context}: must be smaller than the {window}-frame window (--window)")
    windows = plan_chain(count + 1, window, context, m, stops=[count])
    path = plate.paths[plate.frames[0]]
    params = model.parameters(spec, context=context, window=window, loop_frames=count)
    log.info("loop: %d frames from the still %s back to it, in %d window(s)", count, path, len(windows))
    return ChainShot(run, model, [*numbers, numbers[-1] + 1], {0: path, count: path}, windows, params, ends=True)


def _settings(spec: LoopSpec) -> tuple[int, int, bool]:
    """(overlap, temporal multiple, first+last-frame model) of the spec's model, read without loading it."""
    from dreamplate.gen.models import resolve_model

    info = resolve_model(spec.model)
    first_last = "keyframes" not in info.capabilities
    return render_settings(spec, info).overlap, info.temporal_multiple, first_last
