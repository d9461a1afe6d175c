"""Settings that hand a job to another operation, converted to the target's spec by plain data rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from dreamplate.errors import InputError


def generative_interpolation(inputs: list[str], output: str, params: dict[str, Any]) -> tuple[list[str], str, dict]:
    """`interpolate FIRST LAST --method generative --frames N` as a keyframes job: N frames, keys included.

    FIRST's own frame number (the digits before its extension, plate.1001.exr) numbers the first output frame and
    the rest follow; without digits the output starts at 1. Interpolation-only settings are refused by the
    keyframes spec that receives the rest, so a flow setting on a generative run is an error, not ignored.
    """
    if len(inputs) != 2:
        raise InputError(f"--method generative: give two keyframes FIRST LAST, got {len(inputs)} inputs")
    params = {key: value for key, value in params.items() if key != "method"}
    count = str(params.pop("frames", None) or "")
    if not count.isdigit() or int(count) < 3:
        raise InputError(
            f"--frames: with --method generative, the number of frames (3 or more, keys included), got {count!r}"
        )
    match = re.search(r"(\d+)\.[^.]+$", Path(inputs[0]).name)
    start = int(match.group(1)) if match else 1
    params["keys"] = {start: inputs[0], start + int(count) - 1: inputs[1]}
    return list(inputs), output, params
