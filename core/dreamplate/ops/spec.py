"""`OpSpec`: the settings every operation on EXR plates shares (output, colour, part/view, pixel type, compression).

Each operation's spec derives from it and adds its own inputs and settings; declaring the shared ones once keeps
their defaults, bounds and help the same in the CLI, the server and both hosts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from dreamplate.ops.fields import ColorSpaceName, FilePath, FramePattern, setting


class OpSpec(BaseModel):
    """What every operation's spec holds besides its own inputs: where and how its frames are written."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    output: FramePattern = setting(help="output file, or frame pattern for several frames (out.####.exr)")
    colorspace: ColorSpaceName | None = setting(
        None, help="input colour space (an OCIO name); default: from the file's tags", advanced=True
    )
    ocio: FilePath | None = setting(None, help="OCIO config (default: $OCIO, then ocio_configs/)", advanced=True)
    part: str | None = setting(None, help="EXR part, by name or index (default: the first)", advanced=True)
    view: str | None = setting(None, help="EXR view (default: the file's default view)", advanced=True)
    pixel_type: Literal["half", "float"] = setting(
        "half", help="write 32-bit float instead of half", advanced=True, flag="--float", flag_value="float"
    )
    compression: str = setting(
        "zip", help="EXR compression, by its OpenEXR name (zip, piz, dwaa, none and the rest)", advanced=True
    )

    @field_validator("compression")
    @classmethod
    def _known_compression(cls, value: str) -> str:
        from dreamplate.io.exr import COMPRESSIONS  # OpenEXR loads only when a spec is checked

        if value not in COMPRESSIONS:
            raise ValueError(f"unknown {value!r}; choose one of {', '.join(COMPRESSIONS)}")
        return value
