"""The `dreamplate` command: one generated command per registered operation, then typer commands over the core, one
module per group; each imports its op inside the command, so `dreamplate --help` loads no model runtime."""

from __future__ import annotations

import sys

import typer

# isort: off
# Importing a module registers its commands; this order is the order `dreamplate --help` lists them in.
from dreamplate.cli import ops, tools, models, server, queue  # noqa: F401

# isort: on
from dreamplate.cli.common import app, err_console
from dreamplate.cli.ops import add_op_commands

__all__ = ["app", "build_app", "main"]

_FIXED_COMMANDS = list(app.registered_commands)
add_op_commands(app)
# Operations first in `dreamplate --help`, as the artist's commands; the tools after them.
app.registered_commands[:] = app.registered_commands[len(_FIXED_COMMANDS) :] + _FIXED_COMMANDS


def build_app() -> typer.Typer:
    """A fresh `dreamplate` app with a command for every operation registered now (an operation added after
    import, by a plugin or a test, appears here) and the fixed commands."""
    fresh = typer.Typer(
        name=app.info.name,
        help=app.info.help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    fresh.registered_callback = app.registered_callback
    add_op_commands(fresh)
    fresh.registered_commands += _FIXED_COMMANDS
    fresh.registered_groups = list(app.registered_groups)
    return fresh


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
