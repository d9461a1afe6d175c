"""A throwaway operation declared in one place, here in the tests, to show every consumer picks it up by itself.

`throwaway_op()` registers it (a context manager, so the product's registry is left as it was). The tests describe
it, list it and build host nodes from it; none runs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from pydantic import Field

from dreamplate.ops import OPS, Op
from dreamplate.ops.fields import FilePath, FramePattern, MattePattern, ModelRef, setting
from dreamplate.ops.spec import OpSpec

NAME = "dp_test_throwaway"


class ThrowawaySpec(OpSpec):
    """A test-only operation with one setting of each kind a host must show."""

    schema_: Literal["dreamplate.dp_test_throwaway/1"] = Field("dreamplate.dp_test_throwaway/1", alias="schema")
    inputs: list[FramePattern] = Field(min_length=1, max_length=1, description="the plate's frame pattern")
    gain: float = setting(1.5, ge=0.0, le=4.0, help="how much brighter")
    passes: int = setting(3, ge=1, le=9, help="how many passes")
    look: Literal["warm", "cool"] = setting("cool", help="which look")
    keep_alpha: bool = setting(True, help="keep the plate's alpha")
    note: str = setting("hello", help="a free text")
    matte: MattePattern | None = setting(None, help="a matte, or alpha")
    reference: FilePath | None = setting(None, help="a reference image", input_role="reference")
    model: ModelRef | None = setting(None, help="a model", advanced=True)


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
