"""Specs of the shot-making ops (animate, generate, reframe, paths): validated before any file is read or model loads.

Versioned (`schema`) like every dreamplate spec. Checks that need no file or model happen here (ranges, exclusive
options, the aspect and position text); checks that need the still, the strokes or the model (frame bounds, the
model's multiples, its capabilities) happen in the op, before anything is written.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dreamplate.gen.spec import GenSpec, MaskRules
from dreamplate.ops.fields import ColorSpaceName, FilePath, FramePattern, FrameRange, MattePattern, setting

DEFAULT_FIRST_FRAME = 1001
"""The first frame number of a new shot: where a show's plates start."""


def parse_aspect(value: Any) -> tuple[float, float] | None:
    """`9:16`, `2.39` (means 2.39:1) or (9, 16) -> (9.0, 16.0); None stays None. ValueError names the bad text."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.replace(" ", "")
        parts = text.split(":") if ":" in text else [text, "1"]
        try:
            value = (float(parts[0]), float(parts[1])) if len(parts) == 2 else None
        except ValueError:
            value = None
        if value is None:
            raise ValueError(f"aspect must be W:H such as 9:16 or a ratio such as 2.39, got {text!r}")
    width, height = (float(v) for v in value)
    if not (width > 0 and height > 0) or width == float("inf") or height == float("inf"):
        raise ValueError(f"aspect must be two positive numbers, got {width:g}:{height:g}")
    return width, height


def parse_position(value: Any) -> tuple[float, float]:
    """`0.33,0.5` or (0.33, 0.5) -> (0.33, 0.5), each in [0, 1]; ValueError names the bad text."""
    if isinstance(value, str):
        parts = value.replace(" ", "").split(",")
        try:
            value = tuple(float(p) for p in parts)
        except ValueError:
            raise ValueError(f"position must be X,Y such as 0.5,0.5, got {value!r}") from None
    x, y = (float(v) for v in value)
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"position must be X,Y each in 0..1, got {x:g},{y:g}")
    return x, y


class _NewShotSpec(GenSpec):
    """A shot made in one model call: its length and first frame number."""

    frames: int = setting(81, ge=1, le=2000, help="frames in the shot (the model's k*m+1 counts run as they are)")
    first_frame: int = setting(DEFAULT_FIRST_FRAME, ge=0, help="frame number of the shot's first frame")

    @model_validator(mode="after")
    def _needs_model(self) -> _NewShotSpec:
        if self.model is None and self.from_draft is None:
            raise ValueError("--model: give a model name or directory")
        return self


class _FromStillSpec(MaskRules, _NewShotSpec):
    """A shot that starts on a still: the still is its first frame, bit for bit."""

    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the still: one EXR frame")
    mask: MattePattern | None = setting(
        None,
        help="matte of what may move (an EXR/PNG matte of the still, 'alpha' for its own, or 'subject' / "
        "'background' made on the fly): outside it the still stays still",
    )
    mask_channel: str | None = setting(None, help="matte channel (default: alpha, else R)", advanced=True)
    feather: float = setting(4.0, ge=0.0, le=1000.0, help="soft edge inside the matte, in still pixels")

    @model_validator(mode="after")
    def _still(self) -> _FromStillSpec:
        self.check_mask_channel()
        if self.frames < 2:
            raise ValueError(f"--frames: a shot from a still needs 2 or more frames, got {self.frames}")
        return self


class AnimateSpec(_FromStillSpec):
    """Image to video: the still is the first frame and the model makes the motion it implies (prompt optional)."""

    schema_: Literal["dreamplate.animate/1"] = Field("dreamplate.animate/1", alias="schema")


class PathsSpec(_FromStillSpec):
    """Motion paths drawn on the still: each stroke moves its region along it; the model makes the shot."""

    schema_: Literal["dreamplate.paths/1"] = Field("dreamplate.paths/1", alias="schema")
    path: FilePath = setting(
        help="strokes JSON (dreamplate.strokes/1): polylines in pixels over the still, optional per-point frames, "
        "each with a matte of what it moves or the region under its start"
    )
    radius: float = setting(
        32.0, ge=1.0, le=4096.0, help="a stroke without a matte moves the region under its start, up to this radius"
    )
    conditioning_scale: float = setting(1.0, ge=0.0, le=10.0, help="how closely to follow the layout (VACE)")


class GenerateSpec(_NewShotSpec):
    """Text to video: a plate from nothing, decoded into a scene-linear colour space and tagged with it."""

    schema_: Literal["dreamplate.generate/1"] = Field("dreamplate.generate/1", alias="schema")
    inputs: list[FramePattern] = Field(default_factory=list, max_length=0, description="none: made from the prompt")
    size: tuple[int, int] | None = setting(
        None, help="frame size WxH, e.g. 832x480 (default: the model's); the model runs at its nearest multiples"
    )
    colorspace: ColorSpaceName | None = setting(
        None, help="the scene-linear colour space the frames are written in (default: the config's scene_linear role)"
    )

    @model_validator(mode="after")
    def _prompt(self) -> GenerateSpec:
        if not self.prompt.strip() and self.from_draft is None:
            raise ValueError("--prompt: generate makes the shot from a prompt; give one")
        return self


class ReframeSpec(GenSpec):
    """A new framing of a plate: its pixels kept where they land, the new area outpainted by the model."""

    schema_: Literal["dreamplate.reframe/1"] = Field("dreamplate.reframe/1", alias="schema")
    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    frames: FrameRange | None = setting(None, help="plate frame range, e.g. 1001-1100")
    aspect: tuple[float, float] | None = setting(
        None, help="the new frame's aspect W:H, e.g. 9:16: the smallest frame of that aspect holding the plate"
    )
    size: tuple[int, int] | None = setting(
        None, help="the new frame WxH in plate pixels, e.g. 1080x1920 (instead of --aspect; may crop a side)"
    )
    position: tuple[float, float] = setting(
        (0.5, 0.5), help="where the plate sits in the new frame, X,Y in 0..1 (0,0 top left; 0.5,0.5 centred)"
    )
    repaint: bool = setting(False, help="let the model repaint the plate's own pixels too (kept bit for bit otherwise)")
    feather: float = setting(8.0, ge=0.0, le=1000.0, help="soft seam inside the new area, in pixels")
    strength: float = setting(
        0.9, ge=0.0, le=1.0, help="models without an inpainting mask (LTX, Wan T2V): how far the new area may leave "
        "the stretched edge it starts from", advanced=True,
    )  # fmt: skip

    @field_validator("aspect", mode="before")
    @classmethod
    def _aspect(cls, value: Any) -> tuple[float, float] | None:
        return parse_aspect(value)

    @field_validator("position", mode="before")
    @classmethod
    def _position(cls, value: Any) -> tuple[float, float]:
        return parse_position(value)

    @model_validator(mode="after")
    def _frame(self) -> ReframeSpec:
        if (self.aspect is None) == (self.size is None):
            raise ValueError("give --aspect W:H or --size WxH (one of them)")
        if self.model is None and self.from_draft is None:
            raise ValueError("--model: give a model name or directory")
        return self

    @property
    def made_matte_kind(self) -> None:
        """Reframe takes no matte: the new area is its matte."""
        return None

    @property
    def mask_channel(self) -> str:
        """The channel of the new area's matte that reframe writes for the windowed stream."""
        return "R"
