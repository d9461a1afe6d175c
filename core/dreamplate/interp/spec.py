"""`InterpolateSpec`: everything an interpolation run needs, validated before any file is touched.

Settings a command line gives as text (`--times 0.25,0.5`, `--fps 24:60`, `--scale 0.5`) are parsed here, so the
CLI, a job file and a host's node all send the same values and get the same one-line errors.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dreamplate.ops.fields import FilePath, FramePattern, FrameRange, LearnedModelName, setting
from dreamplate.ops.spec import OpSpec

MAX_SHUTTER = 720.0
"""Two output frames: past that the blur of one frame overlaps the next frame's twice over."""
MAX_SHUTTER_SAMPLES = 256


MOTIONLESS_METHODS = ("blend", "frame")
"""Methods that estimate no motion: Kronos's Blend (a mix of the two frames by time) and Frame (the nearest source
frame), quick to render while a retime's timing is set (https://learn.foundry.com/nuke/14.1/content/comp_environment/
kronos_motionblur/retiming_sequence.html)."""


class InterpolateSpec(OpSpec):
    """One interpolation job: two frames and in-between times, or a sequence and a retime rule.

    Versioned (`schema`) so a spec written today still loads when the job store grows.
    """

    schema_: Literal["dreamplate.interpolate/1"] = Field("dreamplate.interpolate/1", alias="schema")
    inputs: list[FramePattern] = Field(
        min_length=1, max_length=2, description="two frames (A B) or one sequence pattern (plate.####.exr)"
    )
    method: Literal["auto", "flow", "learned", "blend", "frame", "generative"] = setting(
        "auto",
        help="auto: learned when its weights are installed, else flow; blend: the two frames mixed by time, frame: "
        "the nearest source frame (Kronos's quick Blend and Frame, for setting the timing); generative: a video "
        "model fills the gap (runs as keyframes, with --frames the number of frames)",
    )
    model: LearnedModelName | None = setting(
        None, help="learned model (dreamplate models list; default rife-hdv3); generative: the video model"
    )
    runtime: Literal["auto", "onnx", "torch", "torch-bf16"] = setting(
        "auto",
        help="learned: onnx (TensorRT > CUDA > CPU), torch, or torch-bf16 (CPUs with native bf16); auto: onnx on a "
        "GPU, torch-bf16 for rife-hdv3 where the CPU has bf16, else onnx",
        advanced=True,
    )
    scale: Literal["auto", 1.0, 0.5, 0.25] = setting(
        "auto", help="learned: working scale of the motion estimate", advanced=True
    )
    tta: bool = setting(False, help="learned: add mirrored and time-reversed passes (slower)", advanced=True)
    fusion: bool = setting(
        True,
        help="learned: per pixel, take the flow method's motion where it matches the frames clearly better than the "
        "network's (about twice the network's time; off: the network alone, as plain RIFE)",
        advanced=True,
        flag="--no-fusion",
        flag_value=False,
    )
    resample: Literal["auto", "adaptive", "bilinear", "cubic", "lanczos"] = setting(
        "auto",
        help="how the frames are sampled along the motion (Kronos's Resampling): adaptive: per pixel, cubic where "
        "the two frames then agree better, else bilinear; cubic, lanczos (sharpest): for clean CG renders; bilinear: "
        "as RIFE; auto: adaptive, bilinear with --no-fusion (its speed path) and under --shutter",
        advanced=True,
    )
    factor: int | None = setting(None, ge=1, le=1000, help="sequence: N-1 in-betweens per gap (default 2)")
    times: list[float] | None = setting(None, help="two frames: times in [0, 1], e.g. 0.25,0.5,0.75")
    retime: FilePath | None = setting(
        None, help="sequence: text file 'output_frame source_frame' per line (Kronos frame mode)"
    )
    fps: tuple[float | None, float] | None = setting(
        None, help="sequence: frame-rate change SOURCE:TARGET (24:60), or TARGET with the source rate from the file"
    )
    speed: float | None = setting(
        None,
        gt=0.0,
        le=1000.0,
        help="sequence: Kronos's Speed timing, source frames per output frame (0.5: half speed, twice the frames; "
        "2: double speed)",
    )
    frames: FrameRange | None = setting(
        None, help="source frame range, e.g. 1001-1100; generative: the number of frames, keys included"
    )
    threads: int | None = setting(None, ge=1, le=256, help="worker threads (default: all cores)", advanced=True)
    shutter: float = setting(
        0.0,
        ge=0.0,
        le=MAX_SHUTTER,
        help="motion blur: shutter angle in degrees of an output frame (180: open half the frame; 0: none)",
    )
    shutter_samples: int = setting(
        8, ge=1, le=MAX_SHUTTER_SAMPLES, help="motion blur: sub-frames averaged per output frame", advanced=True
    )
    shutter_offset: Literal["centred", "start", "end", "custom"] = setting(
        "centred",
        help="motion blur: shutter open around the frame (centred), from it (start), up to it (end), or from the "
        "frame plus --shutter-custom-offset (custom)",
        advanced=True,
    )
    shutter_custom_offset: float = setting(
        0.0,
        ge=-MAX_SHUTTER / 360.0,
        le=MAX_SHUTTER / 360.0,
        help="motion blur, with --shutter-offset custom: where the shutter opens, in output frames from the frame "
        "(-0.5: half a frame before; Nuke's shuttercustomoffset)",
        advanced=True,
    )
    vectors: bool = setting(
        False, help="write the motion used as Nuke motion channels (forward.u/v, backward.u/v, pixels)"
    )
    matte: FramePattern | None = setting(
        None,
        help="sequence: foreground matte (its A, else its first channel); foreground and background are retimed "
        "with their own motion and composited (Kronos's Matte input)",
        input_role="matte",
    )

    @field_validator("times", mode="before")
    @classmethod
    def _times_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return [float(part) for part in value.replace(" ", "").split(",") if part]
        except ValueError:
            raise ValueError("give numbers separated by commas, e.g. 0.25,0.5,0.75") from None

    @field_validator("fps", mode="before")
    @classmethod
    def _fps_text(cls, value: Any) -> Any:
        """`24:60` -> (24, 60); `60` -> (None, 60): the source rate then comes from the file."""
        if not isinstance(value, str):
            return value
        source, _, target = value.rpartition(":")
        try:
            return (float(source) if source else None, float(target))
        except ValueError:
            raise ValueError("give SOURCE:TARGET such as 24:60, or TARGET such as 60") from None

    @field_validator("scale", mode="before")
    @classmethod
    def _scale_text(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "auto":
            try:
                return float(value)
            except ValueError:
                raise ValueError("expected auto, 1, 0.5 or 0.25") from None
        return value

    @model_validator(mode="after")
    def _one_timing_rule(self) -> InterpolateSpec:
        """Two frames take `times`; a sequence takes `factor`, `fps`, `speed` or `retime`; never two rules at once."""
        if self.method == "generative":
            raise ValueError("method generative runs as a keyframes job; submit it through the interpolate operation")
        rules = [name for name in ("factor", "times", "retime", "fps", "speed") if getattr(self, name) is not None]
        if len(rules) > 1:
            raise ValueError(f"give one of --factor, --times, --retime, --fps, --speed, not {' and '.join(rules)}")
        for rule in ("retime", "fps", "speed", "factor"):
            if len(self.inputs) == 2 and getattr(self, rule) is not None:
                raise ValueError(f"--{rule} needs a sequence pattern as input, not two frames")
        if len(self.inputs) == 2 and self.frames is not None:
            raise ValueError("--frames needs a sequence pattern as input, not two frames")
        if len(self.inputs) == 2 and self.matte is not None:
            raise ValueError("--matte needs a sequence pattern as input, not two frames")
        if self.method in ("flow", *MOTIONLESS_METHODS):
            learned_only = [n for n in ("model", "tta") if getattr(self, n) not in (None, False)]
            learned_only += [] if self.fusion else ["no-fusion"]
            if self.scale != "auto" or self.runtime != "auto":
                learned_only += ["scale" if self.scale != "auto" else "runtime"]
            if learned_only:
                raise ValueError(f"--{learned_only[0]} applies to --method learned, not {self.method}")
        if self.method in MOTIONLESS_METHODS:
            # Nothing is moved, so there is no motion to write, no foreground to move apart from its background and
            # nothing to resample.
            for name in ("vectors", "matte", "resample"):
                if getattr(self, name) not in (None, False, "auto"):
                    raise ValueError(
                        f"--{name} needs motion; --method {self.method} estimates none (use flow or learned)"
                    )
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
