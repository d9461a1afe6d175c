"""One command per registered operation, generated from its declaration, and `dreamplate ops list|show`.

Options are the spec's fields (`--mask-channel` for `mask_channel`), with the field's help, default and bounds; a
setting the declaration spells differently (`--float`, the repeated `--key`) says so in its hints. An option left
out is not sent, so the spec's default (or a draft's recorded setting, for `--from-draft`) applies. Values given as
text (`--times 0.25,0.5`, `--size 832x480`) are parsed by the spec, exactly as a job's are.
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from dreamplate.cli.common import app, fail, out_console, run_op, spec_or_fail
from dreamplate.errors import DreamplateError
from dreamplate.ops import OPS, Op
from dreamplate.ops.fields import ui_hints
from dreamplate.ops.registry import OpRegistry, describe_op, describe_ops

_PYTHON_TYPES = {"boolean": bool, "integer": int, "number": float, "string": str, "choice": str, "text": str}


@dataclass(frozen=True)
class _Option:
    """How one command-line parameter becomes a spec setting."""

    field: str
    option: str  # as the user types it, for error messages
    flag_value: Any = None  # a switch that sets the field to this value


def add_op_commands(target: typer.Typer, registry: OpRegistry = OPS) -> None:
    """Register a command on `target` for every operation in `registry`, in registration order."""
    for op in registry:
        command, help_text = op_command(op, registry)
        target.command(name=op.name, help=help_text)(command)


def op_command(op: Op, registry: OpRegistry = OPS) -> tuple[Any, str]:
    """The command function for `op` (its signature is what typer reads) and its help text."""
    description = describe_op(op)
    fields = list(description["fields"])
    own = {field["name"] for field in fields}
    for route in op.routes:  # the settings a routed run also takes (interpolate --method generative --prompt ...)
        target = describe_op(registry.get(route.to))
        fields += [
            {**field, "help": f"{route.value}: {field['help']}"}
            for field in target["fields"]
            if field["name"] in route.fields and field["name"] not in own
        ]
    parameters: list[inspect.Parameter] = []
    options: dict[str, _Option] = {}
    inputs = description["inputs"]
    if op.argument:
        many = inputs["max"] != 1
        help_text = op.spec_class().model_fields["inputs"].description or "inputs"
        annotation = Annotated[list[str] if many else str, typer.Argument(help=_sentence(help_text))]
        parameters.append(_param(op.argument, annotation))
    output_info = op.spec_class().model_fields["output"]
    output_flags = _output_flags(op)
    output_option = typer.Option(*output_flags, help=_sentence(output_info.description or "output"))
    parameters.append(_param("output", Annotated[str, output_option]))
    for field in fields:
        name, spelled = field["name"], "--" + field.get("cli_name", field["name"]).replace("_", "-")
        flag = field.get("flag")
        if flag:
            options[name] = _Option(name, flag["name"], flag["value"])
            annotation = Annotated[bool, typer.Option(flag["name"], help=_sentence(field["help"]))]
            parameters.append(_param(name, annotation, default=False))
            continue
        options[name] = _Option(name, spelled)
        python_type = list[str] if "cli_name" in field else _PYTHON_TYPES[field["type"]]
        annotation = Annotated[python_type | None, typer.Option(spelled, help=_option_help(field))]
        parameters.append(_param(name, annotation, default=None))
    force_help = "Re-render frames that are already written."
    parameters.append(_param("force", Annotated[bool, typer.Option("--force", help=force_help)], default=False))

    def command(**given: Any) -> None:
        force = given.pop("force")
        output = given.pop("output")
        arguments = given.pop(op.argument) if op.argument else []
        settings: dict[str, Any] = {}
        for name, value in given.items():
            option = options[name]
            if option.flag_value is not None:
                if value:
                    settings[option.field] = option.flag_value
            elif value is not None and value != []:
                settings[option.field] = value
        run_from_cli(op, [arguments] if isinstance(arguments, str) else list(arguments), output, settings, force)

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__name__ = op.name.replace("-", "_")
    return command, _sentence(op.summary)


def run_from_cli(op: Op, inputs: list[str], output: str, settings: dict[str, Any], force: bool) -> None:
    """Follow a route if the settings take one, build the spec (errors name the option as typed) and run it."""
    route = op.route_for(settings)
    if route is not None:
        try:
            inputs, output, settings = route.apply(inputs, output, settings)
        except DreamplateError as exc:
            fail(str(exc))
        op = OPS.get(route.to)
    fields = {**settings, "output": output}
    if inputs:
        fields["inputs"] = inputs
    spelled = {name: "--" + name.replace("_", "-") for name in fields}
    for field in describe_op(op)["fields"]:
        spelled[field["name"]] = (field.get("flag") or {}).get("name") or "--" + field.get(
            "cli_name", field["name"]
        ).replace("_", "-")
    spelled["output"] = _output_flags(op)[0]
    from dreamplate.judge.candidates import run_operation  # numpy and OpenCV load when an operation runs

    spec = spec_or_fail(op.spec_class(), fields, spelled)
    run_op(functools.partial(run_operation, op), spec, force)


def _output_flags(op: Op) -> tuple[str, ...]:
    """`--output`/`-o`, or the output's own spelling where the declaration gives one (judge's `--json`)."""
    name = ui_hints(op.spec_class().model_fields["output"]).get("cli_name")
    return ("--" + name,) if name else ("--output", "-o")


def _param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


def _option_help(field: dict[str, Any]) -> str:
    text = _sentence(field["help"])
    if field.get("choices"):
        text += " One of: " + ", ".join(str(choice) for choice in field["choices"]) + "."
    if field["default"] not in (None, "", [], {}, False):
        text += f" Default: {field['default']}."
    return text


# --- dreamplate ops: what the server publishes ----------------------------------------------------------------------

ops_app = typer.Typer(help="The operations, as the server publishes them (GET /v1/ops).", no_args_is_help=True)
app.add_typer(ops_app, name="ops")


@ops_app.command("list")
def ops_list() -> None:
    """Every operation: name, title and summary."""
    for op in OPS:
        out_console.print(f"{op.name:12} {op.title:16} {op.summary}", markup=False, highlight=False)


@ops_app.command("show")
def ops_show(
    name: Annotated[str, typer.Argument(help="The operation, e.g. relight.")],
    as_json: Annotated[bool, typer.Option("--json", help="The description as JSON, as /v1/ops has it.")] = False,
) -> None:
    """One operation's settings: type, default, bounds and help; `--json` for the full description."""
    if name not in OPS:
        fail(f"{name}: unknown operation; known: {', '.join(OPS.names())}")
    description = next(op for op in describe_ops()["ops"] if op["name"] == name)
    if as_json:
        typer.echo(json.dumps(description, indent=2))
        return
    out_console.print(f"{description['title']}: {description['summary']}", markup=False, highlight=False)
    for field in description["fields"]:
        bounds = [f"{key} {field[key]}" for key in ("minimum", "maximum") if key in field]
        extra = ", ".join([field["type"], *(filter(None, [field["kind"]])), *bounds])
        line = f"  {field['name']:18} ({extra}) default {field['default']!r}: {field['help']}"
        out_console.print(line, markup=False, highlight=False)
