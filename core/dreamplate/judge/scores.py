"""The judge's scores: how steady, how true to the plate's structure and how faithful to its inputs a candidate is.

Every score lies in [0, 1], 1 the best; each is documented in `SCORES` (what the report prints beside it):
- temporal: the candidate's warping error along the PLATE's own motion (DIS flow of the plate; occluded pixels, motion
  edges and pixels flowing out of frame masked) plus its flicker (the change of its mean along that motion beyond
  the plate's), relative to the plate's own warping error: 1 is as steady as the plate, 0.5 twice its error;
- structure: cosine of the candidate's luminance gradients against the plate's, times the share of the plate's
  gradient energy it kept, so a relight that keeps the shot's shapes scores near 1 and a smeared or scrambled one low;
- adherence: the weakest of exactness at the keys (`keys`: frames the result must pass through), the plate kept
  outside the matte, and the candidate's colour offset to the plate holding steady from window to window;
- prompt: (cosine + 1) / 2 of the frames' and the prompt's embeddings in a local CLIP / SigLIP (see `image_text`).
Pixels are compared in log2 of scene-linear (a gain is an offset there, so a clean relight keeps its warping error
and its structure); temporal and structure run at a working size of at most `WORK_SIDE` pixels, exactness checks at
full size. Model-free and streamed: the plate is analysed once, each candidate read once, frame by frame.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dreamplate.errors import InputError
from dreamplate.gen.plate import read_matte
from dreamplate.gen.sources import read_plate
from dreamplate.interp.flow import estimate_flow
from dreamplate.interp.warp import outside, remap
from dreamplate.io.raster import read_raster
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.judge.image_text import PROMPT_FRAMES, default_image_text_model, display_picture, prompt_similarity
from dreamplate.ops.plate.sources import is_raster

log = logging.getLogger(__name__)

WORK_SIDE = 320
"""Longest side (pixels) of the frames the flow, warping error and structure are measured on."""
FLOW_SIDE = 192
"""Longest side (pixels) the plate's flow is estimated at before it is scaled up to the working size."""
LOG_FLOOR = 2.0**-6
"""Added before log2, so noise in the blacks does not dominate (stops are measured from here)."""
TAU_WARP = 0.02
"""Stops of warping error added to both sides of the temporal ratio, so a perfectly still plate is not divided by 0."""
TAU_EXACT = 0.01
"""Stops of mean error at which an exactness check (keys, outside the matte) scores exp(-1); half floats give ~0.001."""
TAU_DRIFT = 0.1
"""Stops of colour drift between windows at which colour holding scores exp(-1)."""
MOTION_EDGE = 0.5
"""Flow change (pixels per pixel) that marks a motion edge, masked from the warping error with the occlusions."""
MOTION_EDGE_REACH = 0.03
"""How far around motion edges and occlusions the mask reaches, as a share of the working frame's longer side."""
STRUCTURE_BLUR = 1.0
"""Gaussian sigma (working pixels) before the gradients: structure is shapes, not per-pixel grain."""
CAUGHT_MARGIN = 0.05
"""A candidate is named as caught by a score when it trails the best candidate there by more than this."""
WEIGHTS = {"temporal": 1.0, "structure": 1.0, "adherence": 1.0, "prompt": 0.5}
"""How the scored scores make the overall one (a weighted mean of those that were scored)."""

SCORES: dict[str, dict[str, str]] = {
    "temporal": {
        "range": "0-1, 1 best",
        "meaning": "warping error and flicker along the plate's own motion (flow of the plate, occlusions masked), "
        "relative to the plate's own warping error: 1 as steady as the plate, 0.5 twice its error",
    },
    "structure": {
        "range": "0-1, 1 best",
        "meaning": "cosine of luminance gradients against the plate (or control video) times the share of its "
        "gradient energy kept: 1 the plate's shapes, 0 none of them",
    },
    "adherence": {
        "range": "0-1, 1 best",
        "meaning": "the weakest of: exactness at the keys, the plate kept outside the matte, the colour offset to the "
        "plate steady from window to window; each exp(-error / tolerance)",
    },
    "prompt": {
        "range": "0-1, 1 best",
        "meaning": "(cosine + 1) / 2 of frame and prompt embeddings in a local image-text model (CLIP / SigLIP)",
    },
    "overall": {
        "range": "0-1, 1 best",
        "meaning": "weighted mean of the scored scores (temporal 1, structure 1, adherence 1, prompt 0.5); "
        "scores not scored carry no weight",
    },
}


@dataclass(frozen=True)
class JudgeInputs:
    """What candidates are judged against: the plate (or control video), a matte, keys, the prompt.

    `plate` None (a keyframes or text-to-video run): temporal uses the candidate's own motion, structure and colour
    are not scored. `mask` is a matte pattern or `alpha` (the plate's own). `keys`: frame -> an image the result
    must pass through exactly. `window`: frames per colour window.
    """

    plate: str | None = None
    frames: str | None = None
    mask: str | None = None
    mask_channel: str | None = None
    keys: dict[int, str] = field(default_factory=dict)
    prompt: str = ""
    part: str | None = None
    view: str | None = None
    window: int = 4
    judge_model: str | None = None


@dataclass
class Score:
    """One score: its value in [0, 1] (None: not scored, with `note` saying why) and what it was made of."""

    value: float | None
    parts: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"value": None if self.value is None else round(self.value, 4), **self.parts}
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class CandidateScores:
    """A candidate's scores, overall score and how it compares with the others (filled by `rank`)."""

    label: str
    path: str
    scores: dict[str, Score]
    overall: float = 0.0
    rank: int = 0
    caught_by: str | None = None
    details: dict[str, float] = field(default_factory=dict)  # every scored value by dotted name


# --- reading ---------------------------------------------------------------------------------------------------------


def log_signal(linear: np.ndarray) -> np.ndarray:
    """log2 of scene-linear (H, W, 3) from `LOG_FLOOR`, NaN/Inf and negatives as 0: a gain becomes an offset."""
    clean = np.nan_to_num(linear.astype(np.float32, copy=False), nan=0.0, posinf=0.0, neginf=0.0)
    return np.log2(np.maximum(clean, 0.0) + np.float32(LOG_FLOOR))


def read_linear(path: Path, part: str | None, view: str | None) -> np.ndarray:
    """A frame's colour (H, W, 3) float32: an EXR's scene-linear RGB on its display window, a PNG/TIFF/JPEG decoded
    from sRGB (so a key given as an 8-bit image compares with an EXR result within its quantisation)."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if is_raster(path):
        pixels = read_raster(path).pixels[..., :3].astype(np.float32)
        return np.where(pixels <= 0.04045, pixels / 12.92, ((pixels + 0.055) / 1.055) ** 2.4).astype(np.float32)
    return read_plate(path, part, view)[1]


def sequence_paths(pattern: str, frames: str | None, what: str) -> dict[int, Path]:
    """Frame -> file of a sequence pattern (or one file, as frame 1); InputError naming `what` when none exist."""
    if not is_sequence_pattern(pattern):
        if not Path(pattern).is_file():
            raise InputError(f"{what} {pattern}: no such file")
        return {1: Path(pattern)}
    seq = FrameSequence.from_pattern(pattern, frames)
    if not seq.frames:
        raise InputError(f"{what} {pattern}: no frames found")
    return {frame: seq.path(frame) for frame in seq.frames}


def colour_of(linear: np.ndarray) -> np.ndarray:
    """A frame's colour: log2 of its mean scene-linear value per channel (moving light around keeps it; a gain is an
    offset). An area-shrunk frame has the same mean, so it is taken at the working size."""
    clean = np.nan_to_num(linear, nan=0.0, posinf=0.0, neginf=0.0)
    return np.log2(np.maximum(clean, 0.0).mean(axis=(0, 1), dtype=np.float64) + LOG_FLOOR).astype(np.float32)


def working_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) shrunk so the longer side is at most `WORK_SIDE` (never grown)."""
    scale = min(1.0, WORK_SIDE / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


def _shrink(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (frame.shape[1], frame.shape[0]) == size:
        return np.ascontiguousarray(frame, np.float32)
    return cv2.resize(np.ascontiguousarray(frame, np.float32), size, interpolation=cv2.INTER_AREA)


def _gradients(log_rgb: np.ndarray) -> np.ndarray:
    """Luminance-log gradients (H, W, 2) after a light blur."""
    luma = cv2.GaussianBlur(log_rgb.mean(axis=2), (0, 0), STRUCTURE_BLUR)
    return np.dstack([cv2.Sobel(luma, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3)])


def _motion(log_rgb: np.ndarray) -> np.ndarray:
    """The [0, 1] signal DIS estimates on: log2 from the floor (-6) to 16x white (+4) stops."""
    return np.clip((log_rgb + 6.0) / 10.0, 0.0, 1.0)


# --- the plate, analysed once ----------------------------------------------------------------------------------------


@dataclass
class PairMotion:
    """The flow from frame `frame` to the next one of the reference: where each pixel of the next came from."""

    backward: np.ndarray  # (h, w, 2) working pixels: next(x) ~ this(x + backward(x))
    valid: np.ndarray  # (h, w) float32 1 where the pixel is seen in both frames and stays in frame


@dataclass
class Reference:
    """The plate at working size: its log signal, gradients, mean colour and motion per frame, and its own errors."""

    frames: list[int]
    paths: dict[int, Path]
    size: tuple[int, int]  # full (width, height)
    work: tuple[int, int]
    logs: dict[int, np.ndarray]
    gradients: dict[int, np.ndarray]
    means: dict[int, np.ndarray]  # per channel log2 of the mean (`colour_of`)
    motion: dict[int, PairMotion]  # by the pair's first frame
    warp_errors: dict[int, float]
    warp_means: dict[int, np.ndarray]  # signed mean residual per channel along the motion


def pair_motion(first: np.ndarray, second: np.ndarray, threads: int | None = None) -> PairMotion:
    """Flow between two working-size log frames, with its occlusions and out-of-frame samples masked.

    Estimated at most `FLOW_SIDE` pixels wide (the cost of judging is mostly this), then scaled to the working size.
    """
    height, width = first.shape[:2]
    scale = min(1.0, FLOW_SIDE / max(width, height))
    small = (max(8, round(width * scale)), max(8, round(height * scale)))
    flow = estimate_flow(_motion(_shrink(first, small)), _motion(_shrink(second, small)), threads=threads)
    if small != (width, height):
        ratio = np.float32([width / small[0], height / small[1]])
        backward = cv2.resize(flow.backward, (width, height), interpolation=cv2.INTER_LINEAR) * ratio
        occluded = cv2.resize(flow.occluded_b, (width, height), interpolation=cv2.INTER_LINEAR)
        flow = replace(flow, backward=backward.astype(np.float32), occluded_b=occluded)
    # Motion edges: where the flow jumps, a pixel's neighbours move differently, and anything soft across the edge
    # (a glow, a blur, a soft matte) is pulled apart by the warp however steady it is. Masked with the occlusions.
    jump = np.abs(np.diff(flow.backward, axis=0, append=flow.backward[-1:])).sum(axis=2) + np.abs(
        np.diff(flow.backward, axis=1, append=flow.backward[:, -1:])
    ).sum(axis=2)
    edges = ((jump > MOTION_EDGE) | (flow.occluded_b > 0)).astype(np.uint8)
    reach = max(1, round(MOTION_EDGE_REACH * max(first.shape[:2])))
    near = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2)) > 0
    valid = np.where(near, 0.0, 1.0 - outside(flow.backward))
    return PairMotion(flow.backward, valid.astype(np.float32))


def warp_residual(first: np.ndarray, second: np.ndarray, motion: PairMotion) -> tuple[float, np.ndarray]:
    """Mean |second - first moved along `motion`| over valid pixels (stops), and the signed mean per channel."""
    residual = second - remap(first, motion.backward, nearest=False)
    weight = motion.valid[..., None]
    mass = max(float(motion.valid.sum()), 1.0)
    signed = (residual * weight).sum(axis=(0, 1)) / mass
    return float((np.abs(residual) * weight).sum() / (mass * residual.shape[2])), signed


def analyse_reference(
    inputs: JudgeInputs, threads: int | None = None, cancelled: Callable[[], bool] | None = None
) -> Reference:
    """Read the plate once: working-size signals and gradients, its motion pair by pair and its own warping error."""
    assert inputs.plate is not None
    paths = sequence_paths(inputs.plate, inputs.frames, "--plate")
    frames = sorted(paths)
    logs, gradients, means = {}, {}, {}
    size = work = (0, 0)
    for frame in frames:
        linear = read_linear(paths[frame], inputs.part, inputs.view)
        if not size[0]:
            size = (linear.shape[1], linear.shape[0])
            work = working_size(*size)
        elif (linear.shape[1], linear.shape[0]) != size:
            raise InputError(f"{paths[frame]}: {linear.shape[1]}x{linear.shape[0]}, the plate's first frame is {size}")
        shrunk = _shrink(linear, work)
        small = log_signal(shrunk)
        logs[frame], gradients[frame], means[frame] = small, _gradients(small), colour_of(shrunk)
    motion, errors, signed = {}, {}, {}
    for a, b in zip(frames, frames[1:], strict=False):
        if cancelled is not None and cancelled():
            break
        motion[a] = pair_motion(logs[a], logs[b], threads)
        errors[a], signed[a] = warp_residual(logs[a], logs[b], motion[a])
    return Reference(frames, paths, size, work, logs, gradients, means, motion, errors, signed)


# --- one candidate ---------------------------------------------------------------------------------------------------


def score_candidate(
    label: str, pattern: str, inputs: JudgeInputs, reference: Reference | None, threads: int | None = None
) -> CandidateScores:
    """Every model-free score of one candidate (the prompt score is added by `score_prompts`)."""
    paths = sequence_paths(pattern, None, f"candidate {label}")
    frames = sorted(set(paths) & set(reference.frames)) if reference is not None else sorted(paths)
    if reference is not None and len(frames) == 0:
        raise InputError(
            f"candidate {label} {pattern}: no frame in common with the plate ({reference.frames[0]}-"
            f"{reference.frames[-1]})"
        )
    size = reference.size if reference is not None else None
    work = reference.work if reference is not None else None
    mattes = _matte_paths(inputs, reference)
    following = dict(zip(reference.frames, reference.frames[1:], strict=False)) if reference is not None else {}
    warp, flicker, plate_warp, cosines, kept, offsets = [], [], [], [], [], {}
    key_errors: dict[int, float] = {}
    outside_errors: list[float] = []
    previous: tuple[int, np.ndarray] | None = None
    for frame in frames:
        linear = read_linear(paths[frame], inputs.part, inputs.view)
        shape = (linear.shape[1], linear.shape[0])
        if size is None:
            size, work = shape, working_size(*shape)
        elif shape != size:
            raise InputError(f"{paths[frame]}: {shape[0]}x{shape[1]}, expected {size[0]}x{size[1]} like the plate")
        shrunk = _shrink(linear, work)
        small = log_signal(shrunk)
        full_log = log_signal(linear) if frame in inputs.keys or mattes is not None else None
        if frame in inputs.keys:
            key_errors[frame] = _key_error(full_log, Path(inputs.keys[frame]), inputs, f"candidate {label}")
        if reference is not None:
            if mattes is not None:
                plate_log = log_signal(read_linear(reference.paths[frame], inputs.part, inputs.view))
                outside_errors.append(_outside_error(full_log, plate_log, mattes(frame)))
            cos, share = _structure(_gradients(small), reference.gradients[frame])
            cosines.append(cos)
            kept.append(share)
            offsets[frame] = colour_of(shrunk) - reference.means[frame]
        if previous is not None:
            before_frame, before = previous
            if reference is None:
                error, signed = warp_residual(before, small, pair_motion(before, small, threads))
                warp.append(error)
                plate_warp.append(0.0)
                flicker.append(float(np.abs(signed).mean()))
            elif before_frame in reference.motion and following.get(before_frame) == frame:
                error, signed = warp_residual(before, small, reference.motion[before_frame])
                warp.append(error)
                plate_warp.append(reference.warp_errors[before_frame])
                flicker.append(float(np.abs(signed - reference.warp_means[before_frame]).mean()))
        previous = (frame, small)
    scores = {
        "temporal": _temporal_score(warp, flicker, plate_warp, reference is not None),
        "structure": _structure_score(cosines, kept),
        "adherence": _adherence_score(key_errors, outside_errors, offsets, inputs, mattes is not None),
    }
    return CandidateScores(label, pattern, scores)


def _matte_paths(inputs: JudgeInputs, reference: Reference | None) -> Callable[[int], np.ndarray] | None:
    """frame -> the matte (H, W) in [0, 1] on the plate's frame, or None without a matte (or without a plate)."""
    if inputs.mask is None or reference is None:
        return None
    box = (0, 0, reference.size[0] - 1, reference.size[1] - 1)
    if inputs.mask.lower() == "alpha":
        return lambda frame: read_matte(reference.paths[frame], box, inputs.mask_channel or "A")
    if inputs.mask.lower() in ("subject", "background"):
        return None  # a matte made on the fly: the run's own, not on disk to compare against
    if not is_sequence_pattern(inputs.mask):
        still = Path(inputs.mask)
        return lambda frame: read_matte(still, box, inputs.mask_channel)
    seq = FrameSequence.from_pattern(inputs.mask)
    return lambda frame: read_matte(seq.path(frame), box, inputs.mask_channel)


def _key_error(candidate_log: np.ndarray, key_path: Path, inputs: JudgeInputs, label: str) -> float:
    key = read_linear(key_path, inputs.part, inputs.view)
    if key.shape != candidate_log.shape:
        key = cv2.resize(key, (candidate_log.shape[1], candidate_log.shape[0]), interpolation=cv2.INTER_AREA)
    return float(np.abs(candidate_log - log_signal(key)).mean())


def _outside_error(candidate_log: np.ndarray, plate_log: np.ndarray, matte: np.ndarray) -> float:
    """Mean |candidate - plate| (stops) where the matte is 0: there the result must be the plate."""
    out = matte <= 0.0
    if not out.any():
        return 0.0
    return float(np.abs(candidate_log - plate_log)[out].mean())


def _structure(grad: np.ndarray, plate_grad: np.ndarray) -> tuple[float, float]:
    """(cosine of the gradient fields, share of the plate's gradient RMS kept, at most 1)."""
    dot = float((grad * plate_grad).sum())
    own, plate = float((grad * grad).sum()), float((plate_grad * plate_grad).sum())
    if plate <= 1e-12:
        return (1.0 if own <= 1e-12 else 0.0), 1.0
    cosine = dot / math.sqrt(max(own, 1e-12) * plate)
    return cosine, min(1.0, own / plate)


def _temporal_score(warp: list[float], flicker: list[float], plate_warp: list[float], along_plate: bool) -> Score:
    if not warp:
        return Score(None, note="not scored: a single frame has no motion")
    error, flick, own = float(np.mean(warp)), float(np.mean(flicker)), float(np.mean(plate_warp))
    value = min(1.0, (own + TAU_WARP) / (error + flick + TAU_WARP))
    parts = {
        "warp_error": round(error, 5),
        "flicker": round(flick, 5),
        "plate_warp_error": round(own, 5) if along_plate else None,
        "worst_pair_error": round(max(warp), 5),
        "unit": "mean stops (log2) per pixel",
    }
    note = "" if along_plate else "no plate: measured along the candidate's own motion, against a still ideal"
    return Score(value, parts, note)


def _structure_score(cosines: list[float], kept: list[float]) -> Score:
    if not cosines:
        return Score(None, note="not scored: no plate or control video to compare with")
    cosine, share = float(np.mean(cosines)), float(np.mean(kept))
    value = max(0.0, cosine) * share
    return Score(value, {"gradient_cosine": round(cosine, 4), "energy_kept": round(share, 4)})


def _adherence_score(
    key_errors: dict[int, float],
    outside_errors: list[float],
    offsets: dict[int, np.ndarray],
    inputs: JudgeInputs,
    has_matte: bool,
) -> Score:
    parts: dict[str, Any] = {}
    values: dict[str, float] = {}
    if key_errors:
        worst = max(key_errors, key=key_errors.__getitem__)
        values["keys"] = math.exp(-key_errors[worst] / TAU_EXACT)
        parts["keys"] = {
            "value": round(values["keys"], 4),
            "worst_frame": worst,
            "error": round(key_errors[worst], 5),
            "frames": sorted(key_errors),
        }
    if has_matte and outside_errors:
        error = float(np.mean(outside_errors))
        values["outside_matte"] = math.exp(-error / TAU_EXACT)
        parts["outside_matte"] = {"value": round(values["outside_matte"], 4), "error": round(error, 5)}
    if offsets:
        frames = sorted(offsets)
        size = max(1, inputs.window)
        windows = [frames[i : i + size] for i in range(0, len(frames), size)]
        means = [np.mean([offsets[f] for f in window], axis=0) for window in windows]
        drifts = [float(np.abs(m - means[0]).max()) for m in means]
        values["colour"] = math.exp(-max(drifts) / TAU_DRIFT)
        parts["colour"] = {
            "value": round(values["colour"], 4),
            "drift": round(max(drifts), 5),
            "per_window": [round(d, 4) for d in drifts],
            "window_frames": size,
        }
    if not values:
        return Score(None, note="not scored: no keys, matte or plate to adhere to")
    weakest = min(values, key=values.__getitem__)
    parts["weakest"] = weakest
    return Score(values[weakest], parts)


def score_prompts(candidates: list[CandidateScores], inputs: JudgeInputs) -> None:
    """Add the `prompt` score to each candidate (`CandidateScores`), or "not scored" saying why."""
    why = ""
    info = None
    if not inputs.prompt.strip():
        why = "not scored: no prompt"
    else:
        info = default_image_text_model(inputs.judge_model)
        if info is None:
            why = "not scored: no image-text model registered (dreamplate models add-judge NAME DIR)"
    for candidate in candidates:
        if info is None:
            candidate.scores["prompt"] = Score(None, note=why)
            continue
        paths = sequence_paths(candidate.path, None, f"candidate {candidate.label}")
        frames = sorted(paths)
        picks = sorted({frames[round(i * (len(frames) - 1) / max(1, PROMPT_FRAMES - 1))] for i in range(PROMPT_FRAMES)})
        pictures = [display_picture(read_linear(paths[f], inputs.part, inputs.view)) for f in picks]
        cosine = prompt_similarity(info, pictures, inputs.prompt)
        parts = {"cosine": round(cosine, 4), "model": info.name or str(info.path), "frames": picks}
        note = "random weights: this score is noise" if info.random_weights else ""
        candidate.scores["prompt"] = Score((cosine + 1.0) / 2.0, parts, note)


# --- the set ---------------------------------------------------------------------------------------------------------


def rank(candidates: list[CandidateScores]) -> list[CandidateScores]:
    """Fill each candidate's overall score, rank (1 best) and the score that caught it; returns them best first.

    `caught_by` names the (sub-)score where a candidate trails the best of the set the most, when by more than
    `CAUGHT_MARGIN`: what to look at for why it lost.
    """
    for candidate in candidates:
        total = weight = 0.0
        details: dict[str, float] = {}
        for name, score in candidate.scores.items():
            if score.value is None:
                continue
            total += WEIGHTS[name] * score.value
            weight += WEIGHTS[name]
            details[name] = round(score.value, 4)  # as the parts are rounded, so equal ones tie exactly
            for sub, part in score.parts.items():
                if isinstance(part, dict) and "value" in part:
                    details[f"{name}.{sub}"] = float(part["value"])
        candidate.overall = total / weight if weight else 0.0
        candidate.details = details
    ordered = sorted(candidates, key=lambda c: -c.overall)
    for position, candidate in enumerate(ordered, start=1):
        candidate.rank = position
    for candidate in candidates:
        gaps = {
            name: max(other.details.get(name, value) for other in candidates) - value
            for name, value in candidate.details.items()
        }
        # Prefer the sub-score (adherence.keys) over its parent when they trail by the same amount.
        name = max(gaps, key=lambda n: (round(gaps[n], 6), n.count("."))) if gaps else None
        candidate.caught_by = name if name is not None and gaps[name] > CAUGHT_MARGIN else None
    return ordered


def score_set(
    inputs: JudgeInputs,
    candidates: list[tuple[str, str]],
    *,
    threads: int | None = None,
    cancelled: Callable[[], bool] | None = None,
    on_scored: Callable[[int, int], None] | None = None,
) -> tuple[list[CandidateScores], dict[str, Any]]:
    """Score (label, pattern) candidates against `inputs`; returns them ranked best first, and what it cost.

    The prompt is scored with the image-text model when one is available, else reported as not scored.
    """
    import time

    started = time.perf_counter()
    reference = analyse_reference(inputs, threads, cancelled) if inputs.plate is not None else None
    analysed = time.perf_counter()
    scored = []
    for index, (label, pattern) in enumerate(candidates):
        if cancelled is not None and cancelled():
            from dreamplate.errors import Cancelled

            raise Cancelled(f"judge: cancelled after {index} of {len(candidates)} candidates")
        scored.append(score_candidate(label, pattern, inputs, reference, threads))
        if on_scored is not None:
            on_scored(index + 1, len(candidates))
    model_free = time.perf_counter()
    score_prompts(scored, inputs)
    finished = time.perf_counter()
    cost = {
        "plate_seconds": round(analysed - started, 4),
        "model_free_seconds": round(model_free - started, 4),
        "prompt_seconds": round(finished - model_free, 4),
        "working_size": list(reference.work) if reference is not None else None,
    }
    return rank(scored), cost
