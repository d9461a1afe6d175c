"""The server's operation list (`GET /v1/ops`) kept on disk, so Nuke builds its toolbar and nodes without the server.

The file is `ops.json` in `~/.nuke/dreamplate/` (beside the preferences file, so `$DREAMPLATE_NUKE_PREFS` moves
both; `$DREAMPLATE_NUKE_CACHE` names the folder on its own, for a farm's shared cache):
`{"schema": "dreamplate.nuke.ops-cache/1", "url": ..., "version": ..., "description": {...}}`, `version` being the
description's own (the server's ETag). It is rewritten only when the version changes, atomically. Reading it needs no
network; `fetch` is the one call that does, and Nuke's main thread never makes it in a GUI session (menu.py fetches
on a worker thread). Host-free: no `nuke` import.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, Optional

from dreamplate.client import Client
from dreamplate_nuke import mapping, prefs

log = logging.getLogger(__name__)

CACHE_SCHEMA = "dreamplate.nuke.ops-cache/1"
CACHE_NAME = "ops.json"
CACHE_ENV = "DREAMPLATE_NUKE_CACHE"
FETCH_SECONDS = 5.0
"""How long a fetch waits for the server: a worker thread's wait, never the UI's."""


def cache_path() -> str:
    """`ops.json` in `$DREAMPLATE_NUKE_CACHE`, else in `dreamplate/` beside the preferences file (`~/.nuke`)."""
    folder = os.environ.get(CACHE_ENV) or os.path.join(os.path.dirname(prefs.prefs_path()), "dreamplate")
    return os.path.join(folder, CACHE_NAME)


def load(path: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The cached description, or None when there is none (or it cannot be read: logged, then treated as none)."""
    path = path or cache_path()
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("dreamplate: %s: cannot read the cached operation list (%s)", path, exc)
        return None
    try:
        if data.get("schema") != CACHE_SCHEMA:
            raise mapping.SpecError("written as {!r}, read as {}".format(data.get("schema"), CACHE_SCHEMA))
        return mapping.check_description(data.get("description"))
    except (AttributeError, mapping.SpecError) as exc:
        log.warning("dreamplate: %s: the cached operation list is not usable (%s)", path, exc)
        return None


def save(description: Dict[str, Any], url: str, path: Optional[str] = None) -> bool:
    """Cache `description` (fetched from `url`) unless that version is cached already; True when the file changed."""
    path = path or cache_path()
    mapping.check_description(description)
    current = load(path)
    if current is not None and current["version"] == description["version"]:
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = "{}.{}.tmp".format(path, os.getpid())
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump({"schema": CACHE_SCHEMA, "url": url, "version": description["version"],
                   "description": description}, handle)
    os.replace(temp, path)
    return True


def fetch(settings: Optional[prefs.Prefs] = None, timeout: float = FETCH_SECONDS) -> Dict[str, Any]:
    """The server's description, cached on the way. Waits on the network: call it off Nuke's main thread.

    Raises `dreamplate.client.ClientError` when the server does not answer, SpecError when its answer is not a
    description this plugin reads.
    """
    settings = settings or prefs.load()
    description = mapping.check_description(Client(settings.url, settings.token_or_none(), timeout=timeout).ops())
    save(description, settings.url)
    return description
