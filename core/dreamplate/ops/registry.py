"""The operation registry: each operation declared once, and the description every consumer is built from.

An `Op` names its spec, run and frames functions as "module:attribute" strings (or the objects themselves), so
looking operations up imports nothing heavy: torch loads only when a generative operation runs. The CLI's commands,
`GET /v1/ops`, the server's path policy and the Nuke and Blender nodes are all made from `describe_ops()`; a new
operation is one module plus one `OPS.register(...)`, with no code in the hosts.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from dreamplate.errors import JobError
from dreamplate.ops.fields import field_kind, ui_hints

DESCRIPTION_SCHEMA = "dreamplate.ops/1"
JOB_FIELDS = ("inputs", "output", "schema_")
"""Spec fields a job holds at its top level rather than in `params`."""
_JOB_KEYS = ("inputs", "output", "schema")


@dataclass(frozen=True)
class Route:
    """A setting value that hands the job to another operation (`interpolate --method generative` -> keyframes).

    `convert(inputs, output, params) -> (inputs, output, params)` of the target operation, as "module:function";
    `fields` are the target's settings the source's CLI also offers (the prompt of a generative interpolation).
    """

    field: str
    value: Any
    to: str
    convert: str | Callable[..., tuple[list[str], str, dict[str, Any]]]
    fields: tuple[str, ...] = ()

    def apply(self, inputs: list[str], output: str, params: dict[str, Any]) -> tuple[list[str], str, dict[str, Any]]:
        """The target operation's inputs, output and params."""
        return _resolve(self.convert)(list(inputs), output, dict(params))


@dataclass(frozen=True)
class Op:
    """One operation: its public name, its spec and the functions that plan and run it, and how hosts show it.

    `run(spec, progress=, cancelled=, only_frames=, force=)` returns the plate layer's result; `frames(spec)` lists
    the output frame numbers in order (what Ray and farms split into chunks). `argument` names the CLI's positional
    argument for the spec's `inputs` (None: the inputs come from another setting, as keyframes' keys); `roles` label
    the inputs in a host's node, in order.
    """

    name: str
    title: str
    summary: str
    spec: str | type[BaseModel]
    run: str | Callable[..., Any]
    frames: str | Callable[..., Any]
    argument: str | None = "plate"
    roles: tuple[str, ...] = ("plate",)
    routes: tuple[Route, ...] = field(default=())

    def spec_class(self) -> type[BaseModel]:
        return _resolve(self.spec)

    def run_function(self) -> Callable[..., Any]:
        return _resolve(self.run)

    def frames_function(self) -> Callable[..., Any]:
        return _resolve(self.frames)

    def route_for(self, params: dict[str, Any]) -> Route | None:
        """The route these settings take, if one applies."""
        return next((route for route in self.routes if params.get(route.field) == route.value), None)


def _resolve(target: Any) -> Any:
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


class OpRegistry:
    """Operations by name, in registration order (the order the CLI and the hosts list them in)."""

    def __init__(self) -> None:
        self._ops: dict[str, Op] = {}

    def register(self, op: Op) -> Op:
        if op.name in self._ops:
            raise ValueError(f"operation {op.name!r} is already registered")
        self._ops[op.name] = op
        return op

    def unregister(self, name: str) -> None:
        self._ops.pop(name, None)

    def get(self, name: str) -> Op:
        """The operation; JobError naming the known ones when there is none by that name."""
        op = self._ops.get(name)
        if op is None:
            raise JobError(f"operation {name!r}: unknown; known operations are {', '.join(self._ops)}")
        return op

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def __iter__(self) -> Iterator[Op]:
        return iter(list(self._ops.values()))

    def names(self) -> list[str]:
        return list(self._ops)


OPS = OpRegistry()


# --- the description hosts build from --------------------------------------------------------------------------------


def describe_ops(registry: OpRegistry = OPS) -> dict[str, Any]:
    """Every operation's description and a version that changes whenever any description does (hosts cache by it)."""
    ops = [describe_op(op) for op in registry]
    return {"schema": DESCRIPTION_SCHEMA, "version": _digest(ops), "ops": ops}


def describe_op(op: Op) -> dict[str, Any]:
    """One operation as hosts see it: its settings in order with types, defaults, bounds, help and UI hints."""
    cls = op.spec_class()
    fields = [describe_field(name, cls.model_fields[name]) for name in _display_order(cls)]
    inputs_info = cls.model_fields["inputs"]
    bounds = {type(m).__name__: m for m in inputs_info.metadata}
    schema = cls.model_json_schema()
    # inputs and output are the job's own fields; what is left is what a host shows as the operation's settings.
    for key in _JOB_KEYS:
        schema.get("properties", {}).pop(key, None)
    schema["required"] = [key for key in schema.get("required", []) if key not in _JOB_KEYS]
    description = {
        "name": op.name,
        "title": op.title,
        "summary": op.summary,
        "spec_version": cls.model_fields["schema_"].default if "schema_" in cls.model_fields else None,
        "inputs": {
            "argument": op.argument,
            "roles": list(op.roles),
            "min": getattr(bounds.get("MinLen"), "min_length", 0),
            "max": getattr(bounds.get("MaxLen"), "max_length", None),
        },
        "fields": fields,
        "defaults": {f["name"]: f["default"] for f in fields if not f["required"]},
        "routes": [{"field": r.field, "value": r.value, "to": r.to, "fields": list(r.fields)} for r in op.routes],
        "params_schema": schema,
    }
    description["hash"] = _digest(description)
    return description


def _display_order(cls: type[BaseModel]) -> list[str]:
    """Settings as hosts list them: the operation's own before those it inherits, the advanced ones last."""
    names: list[str] = []
    for klass in cls.__mro__:
        for name in getattr(klass, "__annotations__", {}):
            if name in cls.model_fields and name not in names and name not in JOB_FIELDS:
                names.append(name)
    return sorted(names, key=lambda name: bool(ui_hints(cls.model_fields[name]).get("advanced")))


def describe_field(name: str, info: FieldInfo) -> dict[str, Any]:
    """One setting: `type` is boolean, integer, number, string, choice or text (a value the spec parses from text)."""
    annotation, nullable = _strip_optional(info.annotation)
    kind = field_kind(info)
    hints = ui_hints(info)
    described: dict[str, Any] = {
        "name": name,
        "label": hints.get("label", name.replace("_", " ")),
        "type": _type_name(annotation),
        "kind": kind.name if kind else None,
        "required": info.is_required(),
        "nullable": nullable,
        "default": None if info.is_required() else to_jsonable_python(info.get_default(call_default_factory=True)),
        "help": info.description or "",
        "advanced": bool(hints.get("advanced")),
    }
    if typing.get_origin(annotation) is Literal:
        described["choices"] = list(typing.get_args(annotation))
    if described["type"] == "text" and isinstance(described["default"], list):
        # A text setting is one the spec parses from text; a host shows and sends its default as that text.
        described["default"] = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in described["default"])
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge | annotated_types.Gt):
            described["minimum"] = getattr(item, "ge", getattr(item, "gt", None))
        if isinstance(item, annotated_types.Le | annotated_types.Lt):
            described["maximum"] = getattr(item, "le", getattr(item, "lt", None))
    if kind and kind.words:
        described["words"] = list(kind.words)
    for key in ("flag", "input", "cli_name", "multiline"):
        if key in hints:
            described[key] = hints[key]
    return described


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _type_name(annotation: Any) -> str:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is Literal:
        return "choice"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(annotation, "text")


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
