"""Specs of the generative ops (relight, sketch, keyframes): everything a run needs, validated before any model loads.

Versioned (`schema`) like every dreamplate spec. Checks that need no file or model happen here (ranges, exclusive
options, sizes); checks that need the model (multiples, capabilities) happen in the op before anything is written.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dreamplate.ops.fields import (
    FilePath,
    FramePattern,
    FrameRange,
    KeyframeFiles,
    MattePattern,
    ModelRef,
    setting,
)
from dreamplate.ops.spec import OpSpec

MADE_MATTES = ("subject", "background")
"""`--mask` words for a matte made on the fly by the matte operation: the salient subject, or everything else."""
DRAFT_STEPS_DIVISOR = 4
"""A draft runs max(2, steps // 4) denoising steps."""
MAX_CANDIDATES = 16
"""--candidates: at most this many drafts per round."""
MAX_REFINE_ROUNDS = 2
"""--refine: at most this many rounds after the first."""


def made_matte_kind(mask: str | None) -> str | None:
    """`subject` or `background` when a `--mask` value asks for a matte made on the fly, else None."""
    word = (mask or "").lower()
    return word if word in MADE_MATTES else None


class MaskRules:
    """The `--mask` / `--mask-channel` rules of every spec whose change a matte may limit (its `mask`, `mask_channel`).

    A mixin, not a model: the specs declare the two fields themselves, with help that names their own input.
    """

    @property
    def made_matte_kind(self) -> str | None:
        """`subject` or `background` when the matte is made on the fly, else None."""
        return made_matte_kind(self.mask)

    def check_mask_channel(self) -> None:
        """ValueError unless `mask_channel`, when given, picks a channel of a matte file (or of the input's alpha)."""
        if self.mask_channel is not None and self.mask is None:
            raise ValueError("--mask-channel needs --mask (a matte pattern, or 'alpha' for the input's own)")
        if self.mask_channel is not None and self.made_matte_kind is not None:
            raise ValueError(f"--mask-channel: --mask {self.mask} makes its own matte; give a matte pattern to choose")


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


class GenSpec(OpSpec):
    """Settings shared by the generative ops; an op's spec adds its inputs and defaults."""

    prompt: str = setting("", help="what the result should look like", multiline=True)
    negative_prompt: str = setting("", help="what it should not look like", advanced=True)
    model: ModelRef | None = setting(None, help="a registered model name or a diffusers-layout folder")
    seed: int = setting(0, ge=0, lt=2**63, help="window 0's seed; later windows derive theirs from it")
    steps: int = setting(30, ge=1, le=1000, help="denoising steps (a draft runs max(2, steps // 4))")
    guidance: float = setting(5.0, ge=0.0, le=50.0, help="classifier-free guidance scale", advanced=True)
    light_reference: FilePath | None = setting(
        None, help="image of the wanted light (Wan VACE reference image)", advanced=True, input_role="light reference"
    )
    size: tuple[int, int] | None = setting(
        None, help="model frame size WxH the plate is fitted into, e.g. 832x480 (default: the model's)", advanced=True
    )
    max_area: int | None = setting(None, ge=1, help="at most this many model pixels per frame", advanced=True)
    window: int | None = setting(None, ge=1, help="frames per model call (default: the model's)", advanced=True)
    overlap: int | None = setting(
        None, ge=0, help="frames shared by neighbouring windows (default window/4)", advanced=True
    )
    draft: bool = setting(False, help="fast preview: about half the model size each side, few steps")
    from_draft: FramePattern | None = setting(
        None, help="a draft's output pattern: render it at full quality, same seed and settings"
    )
    device: str | None = setting(None, help="the device: cpu or cuda[:N] (default: CUDA when available)", advanced=True)
    offload: Literal["auto", "none", "model", "sequential"] = setting(
        "auto", help="CPU offload on CUDA when VRAM is short", advanced=True
    )
    runtime: Literal["auto", "torch", "onnx"] = setting(
        "auto",
        help="what runs the video model: onnx (ONNX Runtime, exporting once if needed), torch, or auto "
        "(onnx where a cached export exists); not a setting: same pixels within tolerance, no re-render on change",
        advanced=True,
    )

    candidates: int = setting(
        1,
        ge=1,
        le=MAX_CANDIDATES,
        help="render this many drafts with different seeds, score them (contact sheet and report beside the "
        "output), then render the best at full quality",
    )
    drafts_only: bool = setting(False, help="with --candidates: stop after the scored drafts")
    pick: int | None = setting(
        None, ge=1, help="with --candidates: render candidate K (1-based, as the report numbers them), not the best"
    )
    strength_spread: float = setting(
        0.0, ge=0.0, le=1.0, help="with --candidates: strengths spread over strength +- this", advanced=True
    )
    guidance_spread: float = setting(
        0.0, ge=0.0, le=50.0, help="with --candidates: guidance spread over guidance +- this", advanced=True
    )
    refine: int = setting(
        1,
        ge=0,
        le=MAX_REFINE_ROUNDS,
        help="with --candidates: more rounds of drafts, changed as the scores say, while the best fails a bound",
        advanced=True,
    )
    judge_model: str | None = setting(
        None,
        help="image-text model (CLIP / SigLIP) scoring prompt adherence: a registered name or a folder "
        "(default: the first registered; none: not scored)",
        advanced=True,
    )

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> tuple[int, int] | None:
        return parse_size(value)

    @model_validator(mode="after")
    def _common(self) -> GenSpec:
        if self.draft and self.from_draft is not None:
            raise ValueError("give --draft or --from-draft, not both")
        if self.candidates > 1 and self.from_draft is not None:
            raise ValueError("give --candidates or --from-draft, not both")
        if self.candidates == 1 and (self.drafts_only or self.pick is not None):
            raise ValueError(f"--{'drafts-only' if self.drafts_only else 'pick'} needs --candidates 2 or more")
        if self.pick is not None and self.pick > self.candidates * (self.refine + 1):
            raise ValueError(
                f"--pick: {self.candidates} candidates in at most {self.refine + 1} round(s) number "
                f"1-{self.candidates * (self.refine + 1)}, got {self.pick}"
            )
        if self.window is not None and self.overlap is not None and self.overlap >= self.window:
            raise ValueError(f"--overlap must be smaller than --window ({self.window}), got {self.overlap}")
        return self

    def draft_steps(self) -> int:
        """Denoising steps this run makes: `steps`, or a draft's few."""
        return max(2, self.steps // DRAFT_STEPS_DIVISOR) if self.draft else self.steps


class _PlateSpec(MaskRules, GenSpec):
    """An op on one plate sequence, with an optional matte limiting the change."""

    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    frames: FrameRange | None = setting(None, help="plate frame range, e.g. 1001-1100")
    mask: MattePattern | None = setting(
        None,
        help="matte frame pattern (matte.####.exr), 'alpha' for the plate's own, or 'subject' / 'background' for a "
        "matte made on the fly (dreamplate matte, or its inverse): only its area may change",
    )
    mask_channel: str | None = setting(None, help="matte channel (default: alpha, else R)", advanced=True)
    feather: float = setting(4.0, ge=0.0, le=1000.0, help="soft edge inside the matte, in plate pixels")

    @model_validator(mode="after")
    def _plate(self) -> _PlateSpec:
        self.check_mask_channel()
        return self


class RelightSpec(_PlateSpec):
    """Video-to-video on a plate: keep structure and motion, change the light and look as the prompt says."""

    schema_: Literal["dreamplate.relight/1"] = Field("dreamplate.relight/1", alias="schema")
    strength: float = setting(0.5, ge=0.0, le=1.0, help="how far the result may leave the plate (0: unchanged)")

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
    strength: float = setting(0.9, ge=0.0, le=1.0, help="models without a control input only: v2v strength")
    conditioning_scale: float = setting(1.0, ge=0.0, le=10.0, help="VACE: how closely to follow the blocking")
    control: Literal["plate", "edges"] = setting(
        "plate",
        help="VACE: the control video is the blocking pass itself (plate) or its HED line art (edges: layout and "
        "shapes only, colours and textures left to the prompt)",
    )

    @model_validator(mode="after")
    def _sketch(self) -> SketchSpec:
        if self.from_draft is None and (not self.prompt.strip() or self.model is None):
            missing = "--prompt" if not self.prompt.strip() else "--model"
            raise ValueError(f"{missing}: sketch needs a prompt and a model")
        return self


class KeyframesSpec(GenSpec):
    """Frames generated between two or more keyframes at any frame numbers; the result passes through each key."""

    schema_: Literal["dreamplate.keyframes/1"] = Field("dreamplate.keyframes/1", alias="schema")
    keys: KeyframeFiles = setting(
        default_factory=dict, help="FRAME=IMAGE, one per keyframe (two or more)", cli_name="key"
    )
    inputs: list[FramePattern] = Field(
        default_factory=list, description="the key files (jobs); must match `keys` if both"
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_text(cls, value: Any) -> Any:
        """`["1001=a.exr", "1030=b.exr"]` (the CLI's repeated --key) -> {1001: "a.exr", 1030: "b.exr"}."""
        if not isinstance(value, list | tuple):
            return value
        keys: dict[int, str] = {}
        for text in value:
            frame, sep, path = str(text).partition("=")
            if not sep or not frame.strip().lstrip("-").isdigit() or not path:
                raise ValueError(f"expected FRAME=IMAGE such as 1001=key_a.exr, got {text!r}")
            if int(frame) in keys:
                raise ValueError(f"frame {int(frame)} given twice")
            keys[int(frame)] = path
        return keys

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
