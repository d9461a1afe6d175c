"""Specs of the longer-shot ops: extend a plate forward or backward, and loop a plate or a still.

Checks that need no file or model happen here (one direction, counts above zero); the ones that need the plate or
the model (its length and frame rate, the window, the family's conditioning) happen in the op before any write.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from dreamplate.gen.spec import _PlateSpec
from dreamplate.ops.fields import FrameRange, setting

CONTEXT_HELP = (
    "plate frames the model is conditioned on (default: Wan VACE the window overlap, LTX-Video that rounded down to "
    "k*8+1, Wan image-to-video its one frame)"
)


class ExtendSpec(_PlateSpec):
    """A plate continued forward (`after`) or backward (`before`) by a video model conditioned on its end frames."""

    schema_: Literal["dreamplate.extend/1"] = Field("dreamplate.extend/1", alias="schema")
    after: int | None = setting(None, ge=1, le=100_000, help="frames to add after the plate's last frame")
    before: int | None = setting(
        None, ge=1, le=100_000, help="frames to add before the plate's first (numbered down: 1000, 999, ... -1, -2)"
    )
    seconds: float | None = setting(
        None, gt=0.0, le=3600.0, help="seconds to add at the plate's frame rate (its framesPerSecond), at --at"
    )
    at: Literal["end", "start"] = setting("end", help="with --seconds: the end of the plate to extend")
    context: int | None = setting(None, ge=1, le=1000, help=CONTEXT_HELP, advanced=True)
    anchor: Literal["plate", "off"] = setting(
        "plate",
        help="colour of every window after the first anchored to the plate's end frames and the first window's "
        "change (off: each window follows only the frames before it)",
        advanced=True,
    )

    @model_validator(mode="after")
    def _extend(self) -> ExtendSpec:
        given = [name for name in ("after", "before", "seconds") if getattr(self, name) is not None]
        if not given:
            raise ValueError("--after: give --after N, --before N or --seconds S")
        if len(given) > 1:
            raise ValueError(f"give one of --after, --before, --seconds, not {' and '.join('--' + n for n in given)}")
        if self.at == "start" and self.seconds is None:  # a host sends the default "end" with every job
            raise ValueError("--at start: only with --seconds (--after and --before say their end)")
        if self.model is None and self.from_draft is None:
            raise ValueError("--model: extend needs a model that conditions on frames (Wan VACE, Wan i2v, LTX-Video)")
        return self

    @property
    def backward(self) -> bool:
        """True when the new frames come before the plate."""
        return self.before is not None or (self.seconds is not None and self.at == "start")


class LoopSpec(_PlateSpec):
    """A plate made to loop seamlessly by a generated bridge from its last frames to its first, or a still looped."""

    schema_: Literal["dreamplate.loop/1"] = Field("dreamplate.loop/1", alias="schema")
    frames: FrameRange | None = setting(
        None,
        help="a plate: its frame range (1001-1100); a still: the loop's length (48) or output frame range "
        "(1001-1048); the frame after the last is the still again",
    )
    bridge: int | None = setting(
        None,
        ge=1,
        le=10_000,
        help="a plate: frames generated from its last frame back to its first, numbered on after the last "
        "(default: the window overlap)",
    )
    context: int | None = setting(None, ge=1, le=1000, help=CONTEXT_HELP, advanced=True)

    @model_validator(mode="after")
    def _loop(self) -> LoopSpec:
        if self.model is None and self.from_draft is None:
            raise ValueError("--model: loop needs a model that conditions on frames (Wan VACE, Wan i2v, LTX-Video)")
        return self
