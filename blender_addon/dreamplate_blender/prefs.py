"""The extension's settings: where the job server is, its token, path mappings and the optional local server."""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import time
from types import SimpleNamespace
from typing import Any

import bpy
from bpy.props import BoolProperty, StringProperty

from .mapping import MappingError, PathMap, server_command

log = logging.getLogger(__name__)
PACKAGE = __package__
_local_server: subprocess.Popen | None = None


class DREAMPLATE_AP_preferences(bpy.types.AddonPreferences):
    """Server URL, token, path mappings and the local server option, kept in Blender's user preferences."""

    bl_idname = PACKAGE

    server_url: StringProperty(name="Server URL", default="http://127.0.0.1:8765")
    token: StringProperty(
        name="Token",
        subtype="PASSWORD",
        description="The server's token; empty: $DREAMPLATE_TOKEN, else the token file `dreamplate serve` wrote",
    )
    path_maps: StringProperty(
        name="Path mappings",
        description="CLIENT_PREFIX=SERVER_PREFIX pairs separated by ';', for a server that sees the files elsewhere",
    )
    output_dir: StringProperty(
        name="Output folder",
        subtype="DIR_PATH",
        default="//dreamplate/",
        description="Where jobs write (must be inside one of the server's roots); // is the .blend's folder",
    )
    start_local_server: BoolProperty(
        name="Start a local server",
        description="Start `dreamplate serve` on this machine when none answers at the server URL",
    )
    dreamplate_path: StringProperty(name="dreamplate executable", subtype="FILE_PATH", default="dreamplate")
    server_roots: StringProperty(
        name="Server roots",
        description="Folders the local server may read and write, separated by ';' (default: the output folder)",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "server_url")
        layout.prop(self, "token")
        layout.prop(self, "path_maps")
        layout.prop(self, "output_dir")
        layout.prop(self, "start_local_server")
        column = layout.column()
        column.enabled = self.start_local_server
        column.prop(self, "dreamplate_path")
        column.prop(self, "server_roots")


def get(context: bpy.types.Context) -> Any:
    """The preferences, or their defaults when the module was registered without the add-on system (scripts)."""
    addon = context.preferences.addons.get(PACKAGE)
    if addon is not None and addon.preferences is not None:
        return addon.preferences
    defaults = {
        name: getattr(prop, "default", "") for name, prop in DREAMPLATE_AP_preferences.bl_rna.properties.items()
    }
    return SimpleNamespace(**defaults)


def path_map(context: bpy.types.Context) -> PathMap:
    return PathMap.parse(get(context).path_maps)


def output_root(context: bpy.types.Context, override: str = "") -> str:
    """The folder jobs write under: the operator's, else the preferences'; the temp dir for an unsaved file."""
    folder = override or get(context).output_dir or "//dreamplate/"
    if folder.startswith("//") and not bpy.data.filepath:
        folder = os.path.join(tempfile.gettempdir(), "dreamplate")
    return os.path.normpath(bpy.path.abspath(folder))


def connect(context: bpy.types.Context) -> Any:
    """A client for the configured server, starting the local one when allowed and none answers.

    Raises ClientError (the server's or the network's one line) or MappingError (a setting to fix).
    """
    from .clientlib import Client, ClientError

    settings = get(context)
    client = Client(settings.server_url, settings.token or None, timeout=10.0)
    try:
        client.health()
        return client
    except ClientError:
        if not settings.start_local_server:
            raise
    roots = [r.strip() for r in (settings.server_roots or "").split(";") if r.strip()] or [output_root(context)]
    _start_local(server_command(bpy.path.abspath(settings.dreamplate_path), settings.server_url, roots), settings)
    deadline = time.monotonic() + 30.0
    while True:
        try:
            client.health()
            return client
        except ClientError:
            if _local_server is not None and _local_server.poll() is not None:
                raise MappingError(
                    f"dreamplate serve exited with {_local_server.returncode}; run it in a terminal"
                ) from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def _start_local(command: list[str], settings: Any) -> None:
    global _local_server
    if _local_server is not None and _local_server.poll() is None:
        return
    env = dict(os.environ)
    if settings.token:
        env["DREAMPLATE_TOKEN"] = settings.token
    log.info("starting %s", " ".join(command))
    try:
        _local_server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        raise MappingError(f"cannot start {command[0]}: {exc}") from None


def stop_local_server() -> None:
    """Stop the server this session started (on unregister); one started elsewhere is left alone."""
    global _local_server
    if _local_server is not None and _local_server.poll() is None:
        _local_server.terminate()
        try:
            _local_server.wait(10)
        except subprocess.TimeoutExpired:
            _local_server.kill()
    _local_server = None
