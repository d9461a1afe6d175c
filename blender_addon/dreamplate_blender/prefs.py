"""The extension's settings: where the job server is, its token, path mappings and the optional local server.

Nothing here talks to the server: `server_settings()` hands what a worker thread needs to `connection`.
"""

from __future__ import annotations

import os
import tempfile
from types import SimpleNamespace
from typing import Any

import bpy
from bpy.props import BoolProperty, StringProperty

from .connection import LOCAL_SERVER, ServerSettings
from .mapping import PathMap, server_command

PACKAGE = __package__


def _server_changed(self: Any, context: bpy.types.Context) -> None:
    """Another server or token: fetch its operations (on a worker thread)."""
    from . import catalog

    catalog.refresh()


class DREAMPLATE_AP_preferences(bpy.types.AddonPreferences):
    """Server URL, token, path mappings and the local server option, kept in Blender's user preferences."""

    bl_idname = PACKAGE

    server_url: StringProperty(name="Server URL", default="http://127.0.0.1:8765", update=_server_changed)
    token: StringProperty(
        name="Token",
        subtype="PASSWORD",
        description="The server's token; empty: $DREAMPLATE_TOKEN, else the token file `dreamplate serve` wrote",
        update=_server_changed,
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
        update=_server_changed,
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
        from . import panels

        panels.draw_server_status(layout)


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


def server_settings(context: bpy.types.Context) -> ServerSettings:
    """What a worker thread needs to reach the server, read here on the main thread.

    With the local-server option on, the `dreamplate serve` command comes too; MappingError names a setting to fix.
    """
    settings = get(context)
    command = None
    if settings.start_local_server:
        roots = [r.strip() for r in (settings.server_roots or "").split(";") if r.strip()] or [output_root(context)]
        executable = bpy.path.abspath(settings.dreamplate_path)
        command = tuple(server_command(executable, settings.server_url, roots))
    return ServerSettings(settings.server_url, settings.token or None, command)


def stop_local_server() -> None:
    """Stop the server this session started (on unregister); one started elsewhere is left alone."""
    LOCAL_SERVER.stop()
