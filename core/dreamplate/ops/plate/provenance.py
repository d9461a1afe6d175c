"""A written frame's header: the source attributes that still hold, the colour tags, and the frame's provenance.

Every op writes its frames' headers through `frame_header`, so colour tags and provenance are stamped alike
whatever made the pixels; `spec_parameters` turns the settings that decide the pixels into the provenance
parameters a re-run compares to decide what is finished.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from dreamplate.color.ocio import COLOR_ATTRIBUTES, ColorConfig, SpaceChoice, output_attributes
from dreamplate.io.provenance import Provenance, carried_attributes


def frame_header(
    source: Mapping[str, Any],
    provenance: Provenance,
    cfg: ColorConfig,
    space: SpaceChoice | None,
    *,
    keep_timecode: bool = True,
    fps: float | None = None,
) -> dict[str, Any]:
    """The header of a frame made from a frame with header `source`.

    Its attributes that still hold, the colour tags of `space` (none for display-referred outputs) and this
    frame's provenance. The colour tags are rewritten as a set: a stale tag left beside new ones would contradict
    them. A frame between two source frames has no timecode of its own (`keep_timecode` False), so the source's is
    dropped rather than repeated; after a frame-rate change (`fps`) no source timecode holds, and framesPerSecond
    becomes the new rate.
    """
    attributes = carried_attributes(source)
    if space is not None:
        for name in COLOR_ATTRIBUTES:
            attributes.pop(name, None)
        attributes.update(output_attributes(cfg, space.name, source, keep_source=space.fallback))
    attributes.update(provenance.to_attributes())
    if not keep_timecode or fps is not None:
        attributes.pop("timeCode", None)
    if fps is not None:
        attributes["framesPerSecond"] = Fraction(fps).limit_denominator(1001)
    return attributes


def spec_parameters(spec: Any, names: Iterable[str]) -> dict[str, Any]:
    """The spec's `names` settings that are set, as JSON data: tuples as lists, paths as text.

    As a re-run reads them back from the header, so that the same settings compare equal and the frame is skipped.
    """
    params: dict[str, Any] = {}
    for name in names:
        value = getattr(spec, name, None)
        if value is None:
            continue
        params[name] = list(value) if isinstance(value, tuple) else str(value) if isinstance(value, Path) else value
    return params
