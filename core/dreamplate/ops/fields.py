"""The field types and UI hints an operation's spec is written in, so every consumer reads one declaration.

A field's type says what its value *means*, not only its Python type: `FramePattern`, `FilePath`, `ModelRef`,
`ColorSpaceName`. From that the server's path policy knows which settings name files (and checks each against its
roots), the CLI knows how to parse an option, and Nuke and Blender know which widget to show (file browser, model
menu, colour-space menu). The meaning travels in the JSON schema as `x-kind`; layout hints (advanced, label, the
CLI's flag spelling, which field a host may offer as an image input) travel as `x-ui`.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, GetJsonSchemaHandler
from pydantic.fields import FieldInfo
from pydantic_core import CoreSchema

KindName = Literal["frame_pattern", "file", "model", "learned_model", "colorspace", "keyframes", "frame_range"]
PATH_KINDS = ("frame_pattern", "file", "keyframes")
"""Kinds whose values are paths on the server (a `keyframes` value maps frame numbers to files)."""


@dataclass(frozen=True)
class Kind:
    """What a field's value means; pydantic keeps it in the field's metadata and writes it into the JSON schema.

    `words` are values that are not paths although the kind is one (a matte given as `alpha`: the plate's own).
    """

    name: KindName
    words: tuple[str, ...] = ()

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        result = handler(schema)
        result["x-kind"] = self.name
        if self.words:
            result["x-words"] = list(self.words)
        return result


def _path_text(value: Any) -> Any:
    """A `pathlib.Path` (or any os.PathLike) given from Python is taken as its text, as a job file would give it."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


_AsText = BeforeValidator(_path_text)
FramePattern = Annotated[str, _AsText, Kind("frame_pattern")]
"""A frame pattern (`plate.####.exr`, `%04d`, `@@@@`) or a single file."""
MattePattern = Annotated[str, _AsText, Kind("frame_pattern", words=("alpha", "subject", "background"))]
"""A matte's frame pattern, `alpha` for the plate's own alpha, or `subject` / `background` for a matte made on the fly
(the `matte` operation's salient subject, or its inverse)."""
FilePath = Annotated[str, _AsText, Kind("file")]
"""One file: an image, a text file, an OCIO config."""
ModelRef = Annotated[str, _AsText, Kind("model")]
"""A generative model registered on the server (`dreamplate models list`) or a diffusers-layout folder."""
LearnedModelName = Annotated[str, Kind("learned_model")]
"""A pinned learned-interpolation model (`rife-hdv3`); a name, never a path."""
ColorSpaceName = Annotated[str, Kind("colorspace")]
"""An OCIO colour-space name (or alias) of the active config."""
KeyframeFiles = Annotated[dict[int, str], Kind("keyframes")]
"""Frame number -> keyframe image."""
FrameRange = Annotated[str, Kind("frame_range")]
"""Which frames of the input: `1001-1100`, `1001-1100x2`, `1,5,9-12`; a host fills it from its own frame range."""


def setting(
    default: Any = ...,
    *,
    help: str,
    advanced: bool = False,
    label: str | None = None,
    flag: str | None = None,
    flag_value: Any = None,
    input_role: str | None = None,
    cli_name: str | None = None,
    multiline: bool = False,
    **constraints: Any,
) -> Any:
    """A pydantic `Field` with the UI hints hosts read; `help` becomes the CLI's help and the hosts' tooltip.

    `flag` + `flag_value`: the CLI spells this setting as a switch (`--float` sets pixel_type "float").
    `cli_name`: the CLI option's name when it differs from the field's (`--key` for `keys`, repeatable).
    `input_role`: a host may offer this file setting as an image input of its node (the light reference).
    """
    ui: dict[str, Any] = {}
    if advanced:
        ui["advanced"] = True
    if label is not None:
        ui["label"] = label
    if flag is not None:
        ui["flag"] = {"name": flag, "value": flag_value}
    if input_role is not None:
        ui["input"] = input_role
    if cli_name is not None:
        ui["cli_name"] = cli_name
    if multiline:
        ui["multiline"] = True
    extra = {"x-ui": ui} if ui else None
    if "default_factory" in constraints:
        return Field(description=help, json_schema_extra=extra, **constraints)
    return Field(default, description=help, json_schema_extra=extra, **constraints)


# --- reading a spec's declaration ------------------------------------------------------------------------------------


def field_kind(info: FieldInfo) -> Kind | None:
    """The `Kind` a field was declared with (through `FramePattern` and friends, optional or in a list), if any."""
    for item in info.metadata:
        if isinstance(item, Kind):
            return item
    return _kind_in(info.annotation)


def _kind_in(annotation: Any) -> Kind | None:
    if typing.get_origin(annotation) is Annotated:
        for item in typing.get_args(annotation)[1:]:
            if isinstance(item, Kind):
                return item
        return _kind_in(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, tuple):
        for arg in typing.get_args(annotation):
            kind = _kind_in(arg)
            if kind is not None:
                return kind
    return None


def ui_hints(info: FieldInfo) -> dict[str, Any]:
    """The `x-ui` hints a field was declared with (empty when none)."""
    extra = info.json_schema_extra
    return dict(extra.get("x-ui", {})) if isinstance(extra, dict) else {}


def map_paths(spec: BaseModel, check: Callable[[str, str], str]) -> dict[str, Any]:
    """Every path a validated spec names, passed through `check(path, where)`; the new values by field name.

    The server maps and root-checks with it, so a setting that names a file is covered by its declared kind alone,
    whatever operation declares it. `where` names the value for an error (`keys.1001`, `inputs.0`, `mask`). Words
    such as a matte's `alpha`, and unset fields, are left as they are.
    """
    updated: dict[str, Any] = {}
    for name, info in type(spec).model_fields.items():
        kind = field_kind(info)
        value = getattr(spec, name)
        if kind is None or kind.name not in PATH_KINDS or value is None:
            continue
        if isinstance(value, dict):
            updated[name] = {key: check(str(path), f"{name}.{key}") for key, path in value.items()}
        elif isinstance(value, list | tuple):
            updated[name] = [check(str(path), f"{name}.{index}") for index, path in enumerate(value)]
        elif str(value).lower() not in kind.words:
            updated[name] = check(str(value), name)
    return updated
