"""How an op is run and reports back: the options every op takes, progress, and cooperative cancel.

`ProgressCallback` and `RunOptions` are defined here once for every op, the job runner and the CLI; the module
needs the standard library only, so the job layer imports them without loading any op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TypedDict

from dreamplate.errors import Cancelled

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
"""Called after each output frame with (frames done, frames total, what happened), e.g. to drive a progress bar."""

CancelCheck = Callable[[], bool]
"""Polled between frames and denoising steps: True once the user (or a server shutting down) asks the run to stop."""


class RunOptions(TypedDict, total=False):
    """The keywords every op's run function takes besides its spec: `run_relight(spec, progress=..., force=True)`."""

    progress: ProgressCallback | None  # called after each output frame
    cancelled: CancelCheck | None  # a cancel raises Cancelled and leaves every finished frame in place
    only_frames: Collection[int] | None  # just these output frame numbers: one chunk of a job split across workers
    force: bool  # write every frame, finished or not (default False: finished frames are skipped)


@dataclass
class FrameProgress:
    """Where one run over `total` output frames stands: `done` so far, reported to `callback` as it moves.

    `cancelled` is polled between frames (and by the generative ops between denoising steps); a cancel raises
    `Cancelled` naming `operation` and how far the run got.
    """

    operation: str
    total: int
    callback: ProgressCallback | None = None
    cancelled: CancelCheck | None = None
    done: int = 0

    @classmethod
    def of(cls, operation: str, total: int, options: RunOptions) -> FrameProgress:
        """Progress over `total` frames, reported and cancelled as the run's `options` say.

        Every op builds its progress here once per run, so a misspelled option fails here as a wrong keyword would.
        """
        unknown = sorted(set(options) - set(RunOptions.__annotations__))
        if unknown:
            raise TypeError(
                f"{operation}: unknown run option {unknown[0]!r}; known: {', '.join(RunOptions.__annotations__)}"
            )
        return cls(operation, total, options.get("progress"), options.get("cancelled"))

    def check_cancelled(self) -> None:
        """Raise Cancelled when a cancel was asked for; called where stopping leaves nothing half written."""
        if self.cancelled is not None and self.cancelled():
            raise Cancelled(f"{self.operation}: cancelled after {self.done} of {self.total} frames")

    def report(self, message: str) -> None:
        """Tell the callback where the run stands, with what just happened."""
        log.debug("%d/%d %s", self.done, self.total, message)
        if self.callback is not None:
            self.callback(self.done, self.total, message)

    def frame_done(self, message: str) -> None:
        """Count one more finished output frame and report it."""
        self.done += 1
        self.report(message)
