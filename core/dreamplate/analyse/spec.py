"""Specs of the analysis ops (matte, edges): everything a run needs, validated before any network loads."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dreamplate.ops.fields import FramePattern, FrameRange, setting
from dreamplate.ops.spec import OpSpec


class _AnalysisSpec(OpSpec):
    """One plate sequence in, one data EXR per frame out."""

    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    frames: FrameRange | None = setting(None, help="plate frame range, e.g. 1001-1100")
    threads: int | None = setting(None, ge=1, le=256, help="CPU threads (default: ONNX Runtime's)", advanced=True)


class MatteSpec(_AnalysisSpec):
    """A salient-subject matte per frame (U2-Netp), steady over time, for `--mask` or a comp's mask input."""

    schema_: Literal["dreamplate.matte/1"] = Field("dreamplate.matte/1", alias="schema")
    invert: bool = setting(False, help="the background instead: 1 - the subject's matte")
    temporal: int = setting(
        2, ge=0, le=8, help="frames each side a still subject's matte is averaged over, against flicker (0: off)"
    )
    motion_tolerance: float = setting(
        0.05,
        gt=0.0,
        le=1.0,
        help="picture change (display-encoded) from which a pixel counts as moving and keeps its own frame's matte",
        advanced=True,
    )
    clip_black: float = setting(0.05, ge=0.0, lt=1.0, help="matte values up to this become 0", advanced=True)
    clip_white: float = setting(0.95, gt=0.0, le=1.0, help="matte values from this become 1", advanced=True)

    @model_validator(mode="after")
    def _clips(self) -> MatteSpec:
        if self.clip_black >= self.clip_white:
            raise ValueError(f"--clip-black ({self.clip_black}) must be below --clip-white ({self.clip_white})")
        return self


class EdgesSpec(_AnalysisSpec):
    """Line art per frame (HED): white lines on black, the form edge-control videos take."""

    schema_: Literal["dreamplate.edges/1"] = Field("dreamplate.edges/1", alias="schema")
    resolution: int = setting(
        1024, ge=64, le=8192, help="long side, in pixels, of the picture HED sees (the plate's own if smaller)"
    )
    thin: bool = setting(False, help="thin the lines to about one pixel (non-maximum suppression)")
    threshold: float = setting(
        0.0, ge=0.0, lt=1.0, help="above 0: binary lines, 1 where the edge strength reaches it, else 0"
    )
    invert: bool = setting(False, help="black lines on white")
