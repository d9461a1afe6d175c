"""The `dreamplate` command: typer commands over the core, one module per group; each imports its op inside the
command, so `dreamplate --help` loads no model runtime."""

from __future__ import annotations

import sys

# isort: off
# Importing a module registers its commands; this order is the order `dreamplate --help` lists them in.
from dreamplate.cli import interpolate, generate, tools, models, server, queue  # noqa: F401

# isort: on
from dreamplate.cli.common import app, err_console

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)
