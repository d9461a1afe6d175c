"""A throwaway operation declared in one place, here in the tests, to show every consumer picks it up by itself.

`throwaway_op()` registers it (a context manager, so the product's registry is left as it was). The tests describe
it, list it and build host nodes from it; none runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import Field, field_validator

from dreamplate.gen.spec import parse_size
from dreamplate.ops import OPS, Op
from dreamplate.ops.fields import FilePath, FramePattern, FrameRange, MattePattern, ModelRef, setting
from dreamplate.ops.spec import OpSpec

NAME = "dp_test_throwaway"


class ThrowawaySpec(OpSpec):
    """A test-only operation: one setting of each type and kind a host meets."""

    schema_: Literal["dreamplate.dp_test_throwaway/1"] = Field("dreamplate.dp_test_throwaway/1", alias="schema")
    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    gain: float = setting(1.5, ge=0.0, le=4.0, help="how much brighter")
    glow: bool = setting(True, help="a switch that starts on")
    passes: int = setting(7, ge=1, le=50, help="an integer with bounds")
    amount: float = setting(0.25, ge=0.0, le=2.0, help="a number with bounds")
    look: Literal["soft", "hard", "neon"] = setting("hard", help="a choice")
    scale: Literal["auto", 1.0, 0.5] = setting("auto", help="a choice among numbers")
    caption: str = setting("hello", help="a string with a default")
    source: str = setting("studio", help="a name a host may use itself (where its inputs come from)")
    matte: MattePattern | None = setting(None, help="a matte, or alpha")
    reference: FilePath | None = setting(None, help="a reference image", input_role="reference")
    model: ModelRef | None = setting(None, help="a model")
    limit: int | None = setting(None, ge=1, help="an integer the server picks unless set")
    size: tuple[int, int] | None = setting(None, help="a value parsed from text, WxH")
    frames: FrameRange | None = setting(None, help="plate frame range")
    grain: float = setting(0.1, ge=0.0, le=1.0, help="an advanced number", advanced=True)

    @field_validator("size", mode="before")
    @classmethod
    def _size_text(cls, value: object) -> object:
        return parse_size(value)  # "832x480", as hosts send a text-typed setting


def _frames(spec: ThrowawaySpec) -> list[int]:
    return [1]


def _run(spec: ThrowawaySpec, **_: object) -> None:
    raise AssertionError("the throwaway operation is described, never run")


THROWAWAY = Op(
    name=NAME,
    title="Throwaway",
    summary="a test-only operation that appears everywhere without host code",
    spec=ThrowawaySpec,
    run=_run,
    frames=_frames,
    argument="plate",
    roles=("plate",),
)


@contextmanager
def throwaway_op() -> Iterator[Op]:
    """The throwaway operation registered for the duration of the block."""
    OPS.register(THROWAWAY)
    try:
        yield THROWAWAY
    finally:
        OPS.unregister(NAME)
