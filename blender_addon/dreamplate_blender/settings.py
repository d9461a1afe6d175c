"""An operation's settings as the server describes them (`GET /v1/ops`), turned into operator properties and back.

Host-free: `Setting.properties()` says which `bpy.props` function to call with which arguments, and `job_params()`
turns the values an operator holds back into the job's `params`. Every default, bound and choice comes from the
description; nothing here knows an operation by name.

Blender properties cannot hold None, so a setting whose default is None ("the server decides") is shown as:
- a string: empty means None;
- a choice: an extra first item, "Server default";
- a number, integer or switch: a `use_<name>` tick box beside the value. The value is sent when the box is ticked,
  or, when the box was never touched, when the value itself was set (a script's `factor=3`).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

SCHEMA = "dreamplate.ops/1"
SERVER_DEFAULT = "__server_default__"
"""The enum identifier standing for None in a choice whose default is None."""
PATH_KINDS = ("file", "frame_pattern")
SEARCH_KINDS = ("model", "learned_model")
"""Kinds whose property offers the server's model names as suggestions (any other text is still accepted)."""
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # Blender's IntProperty is 32-bit

Values = Callable[[str], Any]
IsSet = Callable[[str], bool]


class DescriptionError(Exception):
    """A description this extension cannot read (another schema, a malformed entry); one line for the panel."""


def check_description(description: Any) -> dict[str, Any]:
    """The description if this extension can build its operators from it; DescriptionError saying why not."""
    if not isinstance(description, dict):
        raise DescriptionError("the server's operation list is not a JSON object")
    schema = description.get("schema")
    if schema != SCHEMA:
        raise DescriptionError(f"the server describes its operations as {schema!r}; this extension reads {SCHEMA}")
    if not isinstance(description.get("ops"), list) or not isinstance(description.get("version"), str):
        raise DescriptionError("the server's operation list has no `ops` list or `version`")
    for op in description["ops"]:
        if not isinstance(op, dict) or not str(op.get("name", "")).isidentifier():
            raise DescriptionError(f"operation {op.get('name') if isinstance(op, dict) else op!r}: not a valid name")
    return description


def _float32(value: float) -> float:
    """`value` as Blender stores it (FloatProperty is single precision)."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _label(field: Mapping[str, Any]) -> str:
    text = str(field.get("label") or field["name"]).replace("_", " ")
    return text[:1].upper() + text[1:]


def _identifier(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class Setting:
    """One field of an operation's description and the operator properties that hold it."""

    field: Mapping[str, Any]
    prop: str
    toggle: str | None = None

    @property
    def name(self) -> str:
        return self.field["name"]

    @property
    def default(self) -> Any:
        return self.field.get("default")

    @property
    def advanced(self) -> bool:
        return bool(self.field.get("advanced"))

    @property
    def kind(self) -> str | None:
        return self.field.get("kind")

    def choices(self) -> dict[str, Any]:
        """Enum identifier -> the value it stands for (identifiers are strings; choices may be numbers)."""
        items = {_identifier(value): value for value in self.field.get("choices", [])}
        if self.default is None:
            items = {SERVER_DEFAULT: None, **items}
        return items

    def properties(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(property name, `bpy.props` function name, its keyword arguments) for each property of this setting.

        A `search_kind` argument (model kinds) is not Blender's: the caller swaps it for a search callback.
        """
        field, default = self.field, self.default
        common = {"name": _label(field), "description": str(field.get("help") or "")}
        kind_of = field["type"]
        if kind_of == "choice":
            items = [
                (ident, "Server default" if value is None else str(value), "" if value is None else str(value))
                for ident, value in self.choices().items()
            ]
            default_id = SERVER_DEFAULT if default is None else _identifier(default)
            return [(self.prop, "EnumProperty", {**common, "items": items, "default": default_id})]
        if kind_of in ("string", "text"):
            options = {**common, "default": default if isinstance(default, str) else ""}
            if self.kind in PATH_KINDS:
                options["subtype"] = "FILE_PATH"
            if self.kind in SEARCH_KINDS:
                options["search_kind"] = self.kind
            return [(self.prop, "StringProperty", options)]
        if kind_of == "boolean":
            value = ("BoolProperty", {**common, "default": bool(default)})
        elif kind_of == "integer":
            low = max(INT_MIN, int(field["minimum"])) if field.get("minimum") is not None else INT_MIN
            high = min(INT_MAX, int(field["maximum"])) if field.get("maximum") is not None else INT_MAX
            start = default if default is not None else (field.get("minimum") or 0)
            value = ("IntProperty", {**common, "default": min(max(int(start), low), high), "min": low, "max": high})
        elif kind_of == "number":
            bounds = {key[:3]: float(field[key]) for key in ("minimum", "maximum") if field.get(key) is not None}
            start = float(default if default is not None else (field.get("minimum") or 0.0))
            start = min(max(start, bounds.get("min", start)), bounds.get("max", start))
            value = ("FloatProperty", {**common, "default": start, **bounds})
        else:
            raise DescriptionError(f"setting {field['name']!r}: unknown type {kind_of!r}")
        properties = [(self.prop, *value)]
        if self.toggle is not None:
            toggle = {
                "name": f"Set {_label(field).lower()}",
                "description": f"Send {field['name']}; off: the server's default",
                "default": default is not None,
            }
            properties.insert(0, (self.toggle, "BoolProperty", toggle))
        return properties

    def in_use(self, values: Values, is_set: IsSet) -> bool:
        """Whether a toggled setting is sent: its box when touched, else whether its value was set."""
        if self.toggle is None:
            return True
        if is_set(self.toggle):
            return bool(values(self.toggle))
        return self.default is not None or is_set(self.prop)

    def value(self, values: Values, is_set: IsSet) -> Any:
        """The setting's value for the job (None: not set, the server's default applies)."""
        if not self.in_use(values, is_set):
            return None
        raw = values(self.prop)
        kind_of = self.field["type"]
        if kind_of == "choice":
            return self.choices().get(raw)
        if kind_of in ("string", "text"):
            if raw == "" and (self.field.get("nullable") or not isinstance(self.default, str)):
                return None
            return raw
        if kind_of == "number":
            if isinstance(self.default, int | float) and _float32(float(self.default)) == _float32(raw):
                return self.default  # the declared value, not its single-precision neighbour
            return float(f"{raw:.7g}")  # what was typed, not float32's tail digits
        if kind_of == "integer":
            return int(raw)
        return bool(raw)


def settings_of(op: Mapping[str, Any], reserved: Iterable[str] = (), skip_kinds: Iterable[str] = ()) -> list[Setting]:
    """The operation's settings in the description's order; `reserved` property names are the host's own.

    A field whose name is taken gets `<name>_setting` as its property name; fields of `skip_kinds` are filled by the
    host from Blender data (keyframes from images or strips) and get no property.
    """
    taken = set(reserved)
    skipped = set(skip_kinds)
    result = []
    for field in op.get("fields", []):
        if field.get("kind") in skipped:
            continue
        prop = field["name"] if field["name"] not in taken else f"{field['name']}_setting"
        toggle = None
        if field["type"] in ("boolean", "integer", "number") and field.get("nullable"):
            toggle = f"use_{prop}"
            while toggle in taken:
                toggle += "_"
            taken.add(toggle)
        taken.add(prop)
        result.append(Setting(field, prop, toggle))
    return result


def job_params(settings: Iterable[Setting], values: Values, is_set: IsSet) -> dict[str, Any]:
    """The settings the artist changed from the description's defaults, by field name (the job's `params`)."""
    params = {}
    for setting in settings:
        value = setting.value(values, is_set)
        if value is not None and value != setting.default:
            params[setting.name] = value
    return params


def server_paths(params: dict[str, Any], settings: Iterable[Setting], to_server: Callable[[str], str]) -> dict:
    """`params` with the values of file settings in the server's spelling (`words` such as `alpha` are kept)."""
    mapped = dict(params)
    for setting in settings:
        value = mapped.get(setting.name)
        words = {str(word).lower() for word in setting.field.get("words", [])}
        if setting.kind in PATH_KINDS and isinstance(value, str) and value.lower() not in words:
            mapped[setting.name] = to_server(value)
    return mapped


def field_of_kind(op: Mapping[str, Any], kind: str) -> str | None:
    """The name of the operation's first field of `kind` (e.g. where a host puts the colour space), if any."""
    return next((f["name"] for f in op.get("fields", []) if f.get("kind") == kind), None)


def model_names(models: Mapping[str, Any]) -> dict[str, list[str]]:
    """`GET /v1/models` as suggestions per kind: generative models for `model`, pinned nets for `learned_model`."""
    return {
        "model": [m["name"] for m in models.get("generative", []) if "name" in m],
        "learned_model": [m["name"] for m in models.get("learned", []) if "name" in m],
    }
