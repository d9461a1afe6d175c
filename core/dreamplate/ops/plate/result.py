"""`PlateResult`: what a run of any plate operation did, as the CLI, the job runner and the hosts read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class PlateResult:
    """The frames a run wrote and the finished ones it skipped, where they went, and what made them.

    `output` is the output as the user named it (a `####` pattern or a file); `method` says what made the frames,
    e.g. "flow", "learned (rife-hdv3 on CPUExecutionProvider)" or "WanVideoToVideoPipeline (wan-t2v) on cuda".
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    output: str = ""
    method: str = ""
