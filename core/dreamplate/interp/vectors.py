"""Motion vectors out, as Nuke's motion channels, and the `vectors` operation for a plate without retiming.

Nuke's convention (VectorGenerator, https://learn.foundry.com/nuke/12.0/content/comp_environment/kronos_motionblur/
vectorgenerator.html): each frame carries two fields of per-pixel (x, y) offsets in pixels, `forward` to the next
frame and `backward` to the previous one; the offset applied to that neighbour warps it onto the current frame, so
the pixel at (x, y) now is found at (x + u, y + v) in the neighbour. The channels are `forward.u`, `forward.v`,
`backward.u`, `backward.v` (the `motion` layer set is the four together), which VectorBlur, Kronos's vector inputs
and VectorToMotion read.

Nuke's pixel coordinates have their origin at the bottom left and y growing upward (the NDK's `DD::Image::Box` is
left, bottom, right, top: https://learn.foundry.com/nuke/developers/14.1/ndkreference/Plugins/classDD_1_1Image_1_1Box
.html), while dreamplate's flows, like the EXR's scanlines, count rows downward. So `u` is the flow's dx as it is and
`v` is minus its dy: a subject moving down the picture has negative `forward.v`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from dreamplate.ops.fields import FramePattern, FrameRange, LearnedModelName, setting
from dreamplate.ops.spec import OpSpec

FORWARD = ("forward.u", "forward.v")
BACKWARD = ("backward.u", "backward.v")
VECTOR_CHANNELS = (*FORWARD, *BACKWARD)


def nuke_channels(forward: np.ndarray, backward: np.ndarray) -> dict[str, np.ndarray]:
    """Nuke's four motion channels from displacements to the next and previous frames (H x W x 2 dx, dy rows-down).

    Values are pixels of the frame they are written into; v flips sign for Nuke's y-up coordinates.
    """
    return {
        "forward.u": np.ascontiguousarray(forward[..., 0], np.float32),
        "forward.v": np.ascontiguousarray(-forward[..., 1], np.float32),
        "backward.u": np.ascontiguousarray(backward[..., 0], np.float32),
        "backward.v": np.ascontiguousarray(-backward[..., 1], np.float32),
    }


def rows_down(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Nuke's (u, v) back to a dreamplate displacement (H x W x 2, dx, dy rows-down): the inverse of nuke_channels."""
    return np.dstack([u, -v]).astype(np.float32)


class VectorsSpec(OpSpec):
    """Motion vectors for a plate as it is: every frame written with its own pixels plus Nuke's motion channels.

    Versioned (`schema`) so a spec written today still loads when the job store grows.
    """

    schema_: Literal["dreamplate.vectors/1"] = Field("dreamplate.vectors/1", alias="schema")
    inputs: list[FramePattern] = Field(
        min_length=1, max_length=1, description="the plate's sequence pattern (plate.####.exr)"
    )
    method: Literal["auto", "flow", "learned"] = setting(
        "auto", help="auto: learned when its weights are installed, else flow"
    )
    model: LearnedModelName | None = setting(None, help="learned model (dreamplate models list; default rife-hdv3)")
    frames: FrameRange | None = setting(None, help="source frame range, e.g. 1001-1100")
    matte: FramePattern | None = setting(
        None,
        help="foreground matte sequence: subject and background get their own motion, as Kronos's Matte input",
        input_role="matte",
    )
    threads: int | None = setting(None, ge=1, le=256, help="worker threads (default: all cores)", advanced=True)


def interpolate_spec(spec: VectorsSpec):
    """The interpolation that writes these vectors: every source frame passed through (factor 1), vectors on.

    `retime.run_vectors` runs it (declared as the op's `run`), so this module never imports the retimer.
    """
    from dreamplate.interp.spec import InterpolateSpec

    # Every setting of VectorsSpec is one of InterpolateSpec's, under the same name: passed through as it is.
    return InterpolateSpec(**spec.model_dump(exclude={"schema_"}), factor=1, vectors=True)
