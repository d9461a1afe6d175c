"""A generative run's settings: which decide the pixels, what draft mode makes of them, and `--from-draft`.

The settings a run records in provenance are the ones a re-run compares (resume) and a full render takes over
from its draft, so the three lists are kept here together: `SETTINGS`, `FROM_DRAFT_SKIP` and `render_settings`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamplate.errors import InputError, JobError
from dreamplate.gen.models import ModelInfo
from dreamplate.gen.spec import GenSpec
from dreamplate.gen.windows import valid_length
from dreamplate.io.exr import read_info
from dreamplate.io.provenance import Provenance
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.ops.plate.provenance import spec_parameters

log = logging.getLogger(__name__)

SETTINGS = (
    "prompt",
    "negative_prompt",
    "model",
    "seed",
    "steps",
    "guidance",
    "strength",
    "conditioning_scale",
    "control",
    "light_reference",
    "size",
    "max_area",
    "window",
    "overlap",
    "frames",
    "mask",
    "mask_channel",
    "feather",
    "colorspace",
    "part",
    "view",
    "pixel_type",
    # the shot operations' own (extend, loop, animate, generate, reframe, paths)
    "after",
    "before",
    "seconds",
    "at",
    "context",
    "anchor",
    "bridge",
    "first_frame",
    "aspect",
    "position",
    "repaint",
    "path",
    "radius",
)
"""Spec fields that decide the pixels: recorded in provenance, compared on resume, taken over by --from-draft."""
FROM_DRAFT_SKIP = {"colorspace", "part", "view", "pixel_type"}
"""Settings --from-draft does not take over: they describe the files, which the full render names itself."""


@dataclass(frozen=True)
class RenderSettings:
    """The model-facing settings of a run after draft mode: model frame size, steps, window and overlap."""

    target_size: tuple[int, int]
    steps: int
    window: int
    overlap: int


def settings_parameters(spec: GenSpec, **extra: Any) -> dict[str, Any]:
    """The spec's pixel-deciding settings as JSON data (paths as given), plus `extra`."""
    params = spec_parameters(spec, SETTINGS)
    params["draft"] = spec.draft
    if spec.from_draft is not None:
        params["from_draft"] = spec.from_draft
    params.update(extra)
    return params


def render_settings(spec: GenSpec, info: ModelInfo) -> RenderSettings:
    """Model frame size, steps, window and overlap for `info`; a draft halves each side (to the multiple)."""
    m = info.spatial_multiple
    width, height = spec.size or info.default_size
    if spec.draft:
        width, height = (max(m, round(v / 2 / m) * m) for v in (width, height))
    if width < m or height < m:
        raise JobError(f"--size: {width}x{height} is smaller than one {m}-pixel block of {info.family} models")
    window = valid_length(spec.window or info.default_window, info.temporal_multiple)
    if window < 1:
        raise JobError(f"--window: {spec.window} frames is too short for this model (frames must be k*{m}+1)")
    overlap = spec.overlap if spec.overlap is not None else (window - 1) // 4
    if window > 1 and not 0 <= overlap < window:
        raise JobError(f"--overlap: must be smaller than the {window}-frame window, got {overlap}")
    return RenderSettings((width, height), spec.draft_steps(), window, overlap)


def apply_draft(spec: GenSpec, operation: str) -> GenSpec:
    """With --from-draft: the spec with the draft's seed, prompt and settings, except those given explicitly now.

    Reads the first frame of the draft; InputError when it is missing, not a draft, or made by another op.
    """
    if spec.from_draft is None:
        return spec
    seq = FrameSequence.from_pattern(spec.from_draft) if is_sequence_pattern(spec.from_draft) else None
    first = seq.path(seq.frames[0]) if seq is not None and seq.frames else Path(spec.from_draft)
    if not first.is_file():
        raise InputError(f"--from-draft {spec.from_draft}: no draft frames found")
    provenance = Provenance.from_attributes(read_info(first)[0].attributes, str(first))
    if provenance is None or not provenance.parameters.get("draft"):
        raise InputError(f"{first}: not a dreamplate draft (render one with --draft first)")
    if provenance.operation != operation:
        raise InputError(f"{first}: a {provenance.operation} draft, not {operation}")
    recorded = provenance.parameters
    update: dict[str, Any] = {}
    for name in SETTINGS:
        if name in FROM_DRAFT_SKIP or name not in type(spec).model_fields or name in spec.model_fields_set:
            continue
        if name in recorded:
            value = recorded[name]  # JSON holds a pair (size, aspect, position) as a list; the spec as a tuple
            update[name] = tuple(value) if isinstance(value, list) else value
    overridden = sorted(n for n in spec.model_fields_set if n in recorded and recorded[n] != getattr(spec, n))
    if overridden:
        log.warning("--from-draft: %s given now override the draft's", ", ".join(overridden))
    log.info("from draft %s: seed %s, prompt %r", first, update.get("seed", spec.seed), update.get("prompt"))
    return spec.model_copy(update=update)
