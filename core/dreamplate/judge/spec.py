"""`JudgeSpec`: score existing sequences against their plate, as the candidates of a generative run are scored.

`dreamplate judge --plate plate.####.exr --candidate a.####.exr --candidate b.####.exr --json report.json`. A job
gives the same as `inputs` (the plate, then each candidate); the CLI as `--plate` and repeated `--candidate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dreamplate.ops.fields import FilePath, FramePattern, FrameRange, KeyframeFiles, MattePattern, setting
from dreamplate.ops.spec import OpSpec


class JudgeSpec(OpSpec):
    """Rank candidate sequences by temporal stability, structure kept, adherence to the inputs and the prompt."""

    schema_: Literal["dreamplate.judge/1"] = Field("dreamplate.judge/1", alias="schema")
    output: FilePath = setting(
        help="the JSON report (report.json); the contact sheet goes beside it as report.png", cli_name="json"
    )
    plate: FramePattern | None = setting(
        None, help="the plate (or control video) the candidates were made from: its motion, shapes and colour"
    )
    candidates: list[FramePattern] | None = setting(
        None,
        help="a candidate's frame pattern; repeat for each (two or more to rank)",
        cli_name="candidate",
    )
    inputs: list[FramePattern] = Field(
        default_factory=list, min_length=0, description="the plate, then each candidate (jobs)"
    )
    prompt: str = setting("", help="what the candidates were asked to show (scored by an image-text model)")
    frames: FrameRange | None = setting(None, help="plate frame range to judge, e.g. 1001-1100")
    mask: MattePattern | None = setting(
        None, help="the run's matte (matte.####.exr, or 'alpha' for the plate's): outside it the plate must stay"
    )
    mask_channel: str | None = setting(None, help="matte channel (default: alpha, else R)", advanced=True)
    keys: KeyframeFiles = setting(
        default_factory=dict,
        help="FRAME=IMAGE a candidate must pass through exactly (keyframes, first frames); repeat for each",
        cli_name="key",
    )
    window: int = setting(4, ge=1, le=1000, help="frames per window over which colour drift is measured", advanced=True)
    judge_model: str | None = setting(
        None,
        help="image-text model (CLIP / SigLIP) for the prompt score: a registered name or a folder (default: the "
        "first registered; none: not scored)",
        advanced=True,
    )
    contact_sheet: FilePath | None = setting(
        None, help="the contact sheet PNG (default: beside the report, same name)", advanced=True
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_text(cls, value: object) -> object:
        """`["1001=a.exr"]` (the CLI's repeated --key) -> {1001: "a.exr"}."""
        from dreamplate.gen.spec import KeyframesSpec

        return KeyframesSpec._keys_text(value)

    @field_validator("candidates", mode="before")
    @classmethod
    def _one_candidate(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _inputs(self) -> JudgeSpec:
        """`--plate` and `--candidate` win; a job's `inputs` fill what they leave out (the plate first)."""
        rest = list(self.inputs)
        if self.plate is None and rest:
            self.plate = rest.pop(0)
        elif rest and rest[0] == self.plate:
            rest.pop(0)
        if not self.candidates:
            self.candidates = rest  # a host's or job's inputs
        if self.plate is None:
            raise ValueError("--plate: give the plate the candidates were made from")
        if not self.candidates:
            raise ValueError("--candidate: give one or more candidates to score (two or more to rank)")
        self.inputs = [self.plate, *self.candidates]
        if self.output in self.inputs or self.output in self.keys.values():
            raise ValueError(f"--json {self.output}: the report would overwrite an input")
        return self

    def sheet_path(self) -> Path:
        """Where the contact sheet goes."""
        return Path(self.contact_sheet) if self.contact_sheet else Path(self.output).with_suffix(".png")
