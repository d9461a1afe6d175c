"""`InterpolateSpec`: everything an interpolation run needs, validated before any file is touched."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InterpolateSpec(BaseModel):
    """One interpolation job: two frames and in-between times, or a sequence and a retime rule.

    Versioned (`schema`) so a spec written today still loads when the job store grows (issue 7).
    """

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["dreamplate.interpolate/1"] = Field("dreamplate.interpolate/1", alias="schema")
    inputs: list[str] = Field(min_length=1, max_length=2)
    output: str
    method: Literal["auto", "flow", "learned"] = Field(
        "auto", description="auto: learned when its weights are installed, else flow"
    )
    model: str | None = Field(None, description="learned model name (dreamplate models list); default rife-hdv3")
    runtime: Literal["onnx", "torch"] = "onnx"
    scale: Literal["auto", 1.0, 0.5, 0.25] = Field("auto", description="working scale of the learned motion estimate")
    tta: bool = Field(False, description="learned: add mirrored and time-reversed passes (3x the network time)")
    factor: int | None = Field(None, ge=1, le=1000)
    times: list[float] | None = None
    retime: Path | None = None
    fps: tuple[float | None, float] | None = None
    frames: str | None = None
    colorspace: str | None = None
    ocio: Path | None = None
    part: str | None = None
    view: str | None = None
    pixel_type: Literal["half", "float"] = "half"
    compression: str = "zip"
    threads: int | None = Field(None, ge=1, le=256)

    @model_validator(mode="after")
    def _one_timing_rule(self) -> InterpolateSpec:
        """Two frames take `times`; a sequence takes `factor` or `retime`; never two rules at once."""
        rules = [name for name in ("factor", "times", "retime", "fps") if getattr(self, name) is not None]
        if len(rules) > 1:
            raise ValueError(f"give one of --factor, --times, --retime, --fps, not {' and '.join(rules)}")
        for rule in ("retime", "fps", "factor"):
            if len(self.inputs) == 2 and getattr(self, rule) is not None:
                raise ValueError(f"--{rule} needs a sequence pattern as input, not two frames")
        if len(self.inputs) == 2 and self.frames is not None:
            raise ValueError("--frames needs a sequence pattern as input, not two frames")
        if self.method == "flow":
            learned_only = [n for n in ("model", "tta") if getattr(self, n) not in (None, False)]
            if self.scale != "auto" or self.runtime != "onnx":
                learned_only += ["scale" if self.scale != "auto" else "runtime"]
            if learned_only:
                raise ValueError(f"--{learned_only[0]} applies to --method learned, not flow")
        if self.times is not None:
            if not self.times:
                raise ValueError("--times: give at least one time")
            bad = [t for t in self.times if not 0.0 <= t <= 1.0]
            if bad:
                raise ValueError(f"--times must lie in [0, 1], got {bad[0]}")
        return self

    @property
    def is_pair(self) -> bool:
        """True for `interpolate A B`, False for a sequence pattern."""
        return len(self.inputs) == 2
