"""The *dreamplate* toolbar and Nodes menu: one entry per operation the server describes, from the cached list.

`install` fills both menus from the cache at once (no network) and refreshes the cache on a worker thread; when the
server's list has a new version, the menus are rebuilt on the main thread (`nuke.executeInMainThread`). Nuke starts
the same whether the server is up, down or not yet installed, and no main-thread call waits on the network.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Optional

import nuke

from dreamplate.client import ClientError
from dreamplate_nuke import mapping, ops_cache, prefs

log = logging.getLogger(__name__)

MENU = "dreamplate"
DEFAULT_ICON = "dreamplate.png"
_shown = {"version": None, "icons": {}}  # type: Dict[str, Any]


def install(icons: Dict[str, str]) -> Optional[threading.Thread]:
    """Fill the menus from the cached operation list, then refresh it in the background; returns that thread.

    `icons` maps an operation's name to its icon file; other operations get the dreamplate icon.
    """
    _shown["icons"] = dict(icons)
    fill(ops_cache.load())
    return refresh(quiet=True)


def _menus() -> list:
    return [nuke.menu("Nodes").addMenu(MENU, icon=DEFAULT_ICON), nuke.menu("Nuke").addMenu(MENU)]


def fill(description: Optional[Dict[str, Any]]) -> None:
    """(Main thread.) Both menus rebuilt: a `dreamplate <Kind>` entry per operation, then the queue and settings."""
    for menu in _menus():
        menu.clearMenu()
        for op in (description or {}).get("ops", []):
            command = "import dreamplate_nuke.nodes; dreamplate_nuke.nodes.create({!r})".format(op["name"])
            menu.addCommand("dreamplate " + mapping.node_kind(op), command,
                            icon=_shown["icons"].get(op["name"], DEFAULT_ICON), tooltip=op.get("summary", ""))
        menu.addSeparator()
        menu.addCommand("Strokes from Roto", "import dreamplate_nuke.strokes; dreamplate_nuke.strokes.from_selection()")
        menu.addCommand("Job queue", "import dreamplate_nuke.panels; dreamplate_nuke.panels.open_queue_panel()",
                        icon=DEFAULT_ICON)
        menu.addCommand("Reload operations", "import dreamplate_nuke.toolbar; dreamplate_nuke.toolbar.refresh()")
        menu.addCommand("Preferences...", "import dreamplate_nuke.panels; dreamplate_nuke.panels.show_prefs()")
    _shown["version"] = description["version"] if description else None


def refresh(quiet: bool = False) -> threading.Thread:
    """Fetch the server's operation list on a worker thread; the menus follow when its version is new.

    `quiet` (at start-up): a server that does not answer is only logged; else the artist gets a message.
    """
    thread = threading.Thread(target=_refresh, args=(quiet,), name="dreamplate-ops", daemon=True)
    thread.start()
    return thread


def _refresh(quiet: bool) -> None:
    """Worker thread: network and files only; every Nuke call is handed to the main thread."""
    try:
        description = ops_cache.fetch(prefs.load())
    except (ClientError, mapping.SpecError) as exc:
        log.info("dreamplate: operation list not refreshed: %s", exc)
        if not quiet:
            nuke.executeInMainThread(nuke.message, ("dreamplate: operation list not refreshed: {}".format(exc),))
        return
    if description["version"] != _shown["version"]:
        nuke.executeInMainThread(fill, (description,))
