"""`dreamplate queue`: the job queue window (the widget Nuke shows as a pane), for artists outside Nuke."""

from __future__ import annotations

from typing import Annotated

import typer

from dreamplate.cli.common import app, fail


@app.command()
def queue(
    url: Annotated[
        str | None, typer.Option(help="Server URL (default $DREAMPLATE_URL, else http://127.0.0.1:8765).")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Server token (default $DREAMPLATE_TOKEN, else the local token file).")
    ] = None,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 1.0,
) -> None:
    """Show the server's jobs in a window: state, progress, elapsed; cancel, re-run, open output."""
    from dreamplate.client import Client, ClientError

    try:
        from dreamplate.queue_widget import run_window
    except ImportError as exc:
        fail(f"queue needs PySide6 ({exc.name or exc} is missing): pip install PySide6-Essentials")
        return
    client = Client(url, token, timeout=5.0)
    try:
        client.health()
    except ClientError as exc:
        fail(str(exc))
    raise typer.Exit(run_window(client, int(interval * 1000)))
