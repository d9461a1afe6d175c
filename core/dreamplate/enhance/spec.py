"""`UpscaleSpec`: everything an upscale run needs, validated before any file is touched or a network loads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dreamplate.ops.fields import FramePattern, FrameRange, setting
from dreamplate.ops.spec import OpSpec

DEFAULT_MODEL = "x4plus"
"""The network used when none is named: the one that measures better on the shared plates (README figures)."""


class UpscaleSpec(OpSpec):
    """A plate (or a draft) made 2x or 4x larger each side by a learned upscaler, HDR kept, windows scaled.

    Versioned (`schema`) so a spec written today still loads when the job store grows.
    """

    schema_: Literal["dreamplate.upscale/1"] = Field("dreamplate.upscale/1", alias="schema")
    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    scale: Literal[2, 4] = setting(2, help="output size over input size, each side: 2 or 4")
    model: Literal["x4plus", "animevideov3"] = setting(
        DEFAULT_MODEL,
        help="the Real-ESRGAN net: x4plus (RRDBNet, most detail, slow on CPU) or animevideov3 (compact, 27x faster, "
        "softer)",
    )
    keep_size: bool = setting(
        False,
        help="write at the input's size: reduce by --scale, then upscale (new detail for a soft draft that was made "
        "at a lower resolution and resized up)",
    )
    frames: FrameRange | None = setting(None, help="plate frame range, e.g. 1001-1100")
    white: float = setting(
        1.0,
        ge=1.0,
        le=16.0,
        help="scene-linear value the network's picture tops out at; brighter comes back from the plate, bilinear "
        "(1: the net sees [0, 1] as a display does; 16: its detail in highlights too, over-sharpened midtones)",
        advanced=True,
    )
    tile: int = setting(
        384,
        ge=32,
        le=4096,
        help="input pixels per side the network sees at once (memory, not the picture)",
        advanced=True,
    )
    tile_pad: int = setting(
        32, ge=2, le=512, help="context pixels kept around each tile's written part (seams)", advanced=True
    )
    runtime: Literal["onnx", "torch"] = setting("onnx", help="onnx (TensorRT > CUDA > CPU) or torch", advanced=True)
    threads: int | None = setting(None, ge=1, le=256, help="CPU threads (default: all cores)", advanced=True)

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_text(cls, value: Any) -> Any:
        """`--scale 2` arrives as text from a command line or a host's menu."""
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @model_validator(mode="after")
    def _tile_holds_its_pad(self) -> UpscaleSpec:
        if self.tile <= 2 * self.tile_pad:
            raise ValueError(f"--tile ({self.tile}) must be more than twice --tile-pad ({self.tile_pad})")
        return self
