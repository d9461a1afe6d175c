"""Writing output frames: an EXR with the header of the frame it was made from, or a source frame passed through.

Every op writes through a `FrameWriter`, so pixel type, compression, colour tags, timecode and provenance follow
one rule; the file appears atomically under its name (see `dreamplate.io.atomic`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from dreamplate.color.ocio import ColorConfig, SpaceChoice
from dreamplate.io.exr import ExrImage, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.provenance import frame_header


@dataclass(frozen=True)
class FrameWriter:
    """How one run writes its frames: colour config and space for the tags, EXR pixel type and compression.

    `space` None writes no colour tags (display-referred outputs). `fps`: the run changes the frame rate to it, so
    framesPerSecond is rewritten and no source timecode is kept.
    """

    cfg: ColorConfig
    space: SpaceChoice | None
    pixel_type: str = "half"
    compression: str = "zip"
    fps: float | None = None

    def write(self, path: Path, image: ExrImage, provenance: Provenance, *, keep_timecode: bool = True) -> None:
        """Write `image`, whose attributes are its source frame's, with the header of a frame made from that one.

        `keep_timecode` False for a frame between source frames: it has no timecode of its own.
        """
        header = frame_header(
            image.attributes, provenance, self.cfg, self.space, keep_timecode=keep_timecode, fps=self.fps
        )
        write_exr(path, replace(image, attributes=header), pixel_type=self.pixel_type, compression=self.compression)

    def passthrough(self, path: Path, source: ExrImage, provenance: Provenance, *, keep_timecode: bool = True) -> None:
        """A source frame written unchanged (every channel, bit for bit in half) with this frame's provenance."""
        self.write(path, source, provenance, keep_timecode=keep_timecode)
