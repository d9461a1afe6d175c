"""Specs of the generative ops (relight, sketch, keyframes): everything a run needs, validated before any model loads.

Versioned (`schema`) like every dreamplate spec. Checks that need no file or model happen here (ranges, exclusive
options, sizes); checks that need the model (multiples, capabilities) happen in the op before anything is written.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DRAFT_STEPS_DIVISOR = 4
"""A draft runs max(2, steps // 4) denoising steps."""


def parse_size(value: Any) -> tuple[int, int] | None:
    """`832x480`, `[832, 480]` or (832, 480) -> (832, 480); None stays None. ValueError names the bad text."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.lower().replace(" ", "").split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"size must be WIDTHxHEIGHT such as 832x480, got {value!r}")
        value = (int(parts[0]), int(parts[1]))
    width, height = (int(v) for v in value)
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    return width, height


class GenSpec(BaseModel):
    """Settings shared by the generative ops; an op's spec adds its inputs and defaults."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    PATH_PARAMS: ClassVar[tuple[str, ...]] = ("ocio", "light_reference", "from_draft")
    """Settings that name files (the server maps them and keeps them inside its roots, as it does inputs)."""

    output: str = Field(description="output frame pattern, e.g. out.####.exr")
    prompt: str = Field("", description="what the result should look like")
    negative_prompt: str = ""
    model: str | None = Field(None, description="registered model name or diffusers-layout directory")
    seed: int = Field(0, ge=0, lt=2**63, description="window 0's seed; later windows derive theirs from it")
    steps: int = Field(30, ge=1, le=1000, description="denoising steps (a draft runs max(2, steps // 4))")
    guidance: float = Field(5.0, ge=0.0, le=50.0, description="classifier-free guidance scale")
    light_reference: str | None = Field(None, description="image of the wanted light (VACE reference image)")
    size: tuple[int, int] | None = Field(None, description="model frame size WxH to fit the plate into")
    max_area: int | None = Field(None, ge=1, description="most model pixels per frame, whatever the aspect")
    window: int | None = Field(None, ge=1, description="frames per model call (default: the model's)")
    overlap: int | None = Field(None, ge=0, description="frames shared by neighbouring windows (default window/4)")
    draft: bool = Field(False, description="fast preview: about half the model size each side, few steps")
    from_draft: str | None = Field(None, description="a draft's output pattern: render it at full quality")
    device: str | None = None
    offload: Literal["auto", "none", "model", "sequential"] = "auto"
    runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        description="what runs the video model: onnx (ONNX Runtime, exporting once if needed), torch, or auto "
        "(onnx where a cached export exists); not a setting: same pixels within tolerance, no re-render on change",
    )
    colorspace: str | None = None
    ocio: str | None = None
    part: str | None = None
    view: str | None = None
    pixel_type: Literal["half", "float"] = "half"
    compression: str = "zip"

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> tuple[int, int] | None:
        return parse_size(value)

    @model_validator(mode="after")
    def _common(self) -> GenSpec:
        if self.draft and self.from_draft is not None:
            raise ValueError("give --draft or --from-draft, not both")
        if self.window is not None and self.overlap is not None and self.overlap >= self.window:
            raise ValueError(f"--overlap must be smaller than --window ({self.window}), got {self.overlap}")
        from dreamplate.io.exr import COMPRESSIONS

        if self.compression not in COMPRESSIONS:
            raise ValueError(f"--compression: unknown {self.compression!r}; choose one of {', '.join(COMPRESSIONS)}")
        return self

    def draft_steps(self) -> int:
        """Denoising steps this run makes: `steps`, or a draft's few."""
        return max(2, self.steps // DRAFT_STEPS_DIVISOR) if self.draft else self.steps


class _PlateSpec(GenSpec):
    """An op on one plate sequence, with an optional matte limiting the change."""

    PATH_PARAMS: ClassVar[tuple[str, ...]] = (*GenSpec.PATH_PARAMS, "mask")

    inputs: list[str] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    frames: str | None = Field(None, description="plate frame range, e.g. 1001-1100")
    mask: str | None = Field(None, description="matte frame pattern, or 'alpha' for the plate's own alpha")
    mask_channel: str | None = Field(None, description="matte channel (default: alpha, else R)")
    feather: float = Field(4.0, ge=0.0, le=1000.0, description="soft edge inside the matte, in plate pixels")

    @model_validator(mode="after")
    def _plate(self) -> _PlateSpec:
        if self.mask_channel is not None and self.mask is None:
            raise ValueError("--mask-channel needs --mask (a matte pattern, or 'alpha' for the plate's own)")
        return self


class RelightSpec(_PlateSpec):
    """Video-to-video on a plate: keep structure and motion, change the light and look as the prompt says."""

    schema_: Literal["dreamplate.relight/1"] = Field("dreamplate.relight/1", alias="schema")
    strength: float = Field(0.5, ge=0.0, le=1.0, description="how far the result may leave the plate (0: unchanged)")

    @model_validator(mode="after")
    def _relight(self) -> RelightSpec:
        if self.strength > 0 and self.from_draft is None:
            if not self.prompt.strip():
                raise ValueError("--prompt: give a prompt (only --strength 0 runs without one)")
            if self.model is None:
                raise ValueError("--model: give a model name or directory (only --strength 0 runs without one)")
        return self


class SketchSpec(_PlateSpec):
    """A blocking pass or rough render made into a finished shot that follows its layout and motion."""

    schema_: Literal["dreamplate.sketch/1"] = Field("dreamplate.sketch/1", alias="schema")
    strength: float = Field(0.9, ge=0.0, le=1.0, description="v2v models only: how far from the blocking")
    conditioning_scale: float = Field(1.0, ge=0.0, le=10.0, description="VACE: how closely to follow the blocking")

    @model_validator(mode="after")
    def _sketch(self) -> SketchSpec:
        if self.from_draft is None and (not self.prompt.strip() or self.model is None):
            missing = "--prompt" if not self.prompt.strip() else "--model"
            raise ValueError(f"{missing}: sketch needs a prompt and a model")
        return self


class KeyframesSpec(GenSpec):
    """Frames generated between two or more keyframes at any frame numbers; the result passes through each key."""

    schema_: Literal["dreamplate.keyframes/1"] = Field("dreamplate.keyframes/1", alias="schema")
    PATH_PARAMS: ClassVar[tuple[str, ...]] = (*GenSpec.PATH_PARAMS, "keys")

    keys: dict[int, str] = Field(default_factory=dict, description="frame number -> keyframe EXR")
    inputs: list[str] = Field(default_factory=list, description="the key files (jobs); must match `keys` if both")

    @model_validator(mode="after")
    def _keys(self) -> KeyframesSpec:
        if not self.keys:
            raise ValueError("--key: give two or more keyframes as FRAME=IMAGE")
        if len(self.keys) < 2:
            raise ValueError(f"--key: give two or more keyframes, got {len(self.keys)}")
        if self.inputs and sorted(self.inputs) != sorted(self.keys.values()):
            raise ValueError("inputs must be the key files named in keys")
        if not self.inputs:
            self.inputs = [self.keys[f] for f in sorted(self.keys)]
        if self.from_draft is None and (not self.prompt.strip() or self.model is None):
            missing = "--prompt" if not self.prompt.strip() else "--model"
            raise ValueError(f"{missing}: keyframes needs a prompt and a model")
        return self
