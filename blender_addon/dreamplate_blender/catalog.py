"""The operations as the server describes them (`GET /v1/ops`): cached on disk, fetched off the main thread, and
registered as operators.

- `register()` builds the operators from the cached description at once (the extension works while the server is
  down); a moment later (a timer) a fetch starts on a worker thread.
- The worker puts the description, or the one line saying why there is none, on a queue. `tick()`, a
  `bpy.app.timers` callback on the main thread, takes it without waiting; when its `version` differs from the
  registered one, it writes the cache and registers the operators again. Not while a job is being followed (its
  modal operator would go with its class): the new description waits for that job to end.
- With no cache and no server there are no job operators; the panels say the server is needed and offer a retry
  (the fetch starts the local server when the preferences allow).

Background sessions (`blender -b`) run no timers: there `refresh(wait=True)` (the refresh operator) waits for the
fetch and applies it.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import bpy

from . import connection, prefs
from .clientlib import ClientError
from .jobs import BOARD
from .mapping import MappingError
from .settings import DescriptionError, check_description, model_names

log = logging.getLogger(__name__)
PACKAGE = __package__
TICK_SECONDS = 0.25
INSTALL_PER_TICK = 2
"""Operators a timer tick registers: a description of many operations is installed over a few ticks, so no tick
holds the interface for long (building and registering one operator takes a few milliseconds)."""
INSTALL_TICK_SECONDS = 0.02
WAIT_SECONDS = 60.0
"""Longest a background refresh waits (a local server may be starting: `connection.START_SECONDS`)."""


@dataclass
class Catalog:
    """What the panels show and the operators are built from; touched on the main thread only."""

    description: dict[str, Any] | None = None
    source: str = ""  # "cache" or "server"
    error: str | None = None
    fetching: bool = False
    models: dict[str, list[str]] = field(default_factory=dict)
    classes: list[type] = field(default_factory=list)
    pending: dict[str, Any] | None = None
    installing: list[dict[str, Any]] | None = None  # operations of `description` still to register; None: done
    install_errors: list[str] = field(default_factory=list)
    generation: int = 0
    messages: queue.Queue = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None

    @property
    def ops(self) -> list[dict[str, Any]]:
        """The registered operations' descriptions, in the server's order."""
        names = {cls.op["name"] for cls in self.classes}
        return [op for op in (self.description or {}).get("ops", []) if op["name"] in names]


STATE = Catalog()


# --- the cache ---------------------------------------------------------------------------------------------------


def cache_dir() -> str:
    """The extension's user folder (kept across upgrades); Blender's config folder when loaded as a legacy add-on."""
    try:
        return bpy.utils.extension_path_user(PACKAGE, create=True)
    except ValueError:
        return bpy.utils.user_resource("CONFIG", path="dreamplate", create=True)


def read_cache() -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the newest cached description, the cached model list): None where there is none or it is unreadable."""
    folder = cache_dir()
    description = None
    for path in sorted(glob.glob(os.path.join(folder, "ops-*.json")), key=os.path.getmtime, reverse=True):
        try:
            with open(path, encoding="utf-8") as handle:
                description = check_description(json.load(handle))
            break
        except (OSError, ValueError, DescriptionError) as exc:
            log.warning("ignoring the cached description %s: %s", path, exc)
    models = None
    try:
        with open(os.path.join(folder, "models.json"), encoding="utf-8") as handle:
            models = json.load(handle)
    except (OSError, ValueError):
        pass
    return description, models


def _write_json(path: str, data: Any) -> None:
    """Write atomically. `json.dumps`, not `json.dump`: dump streams through the pure-Python encoder (about 20 ms
    for a description of 19 operations, on a timer tick), dumps encodes in one C call."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data))
    os.replace(temporary, path)


def write_cache(description: dict[str, Any], models: dict[str, Any] | None) -> None:
    """Keep `ops-<version>.json` (older versions go) and the model list; a failure only costs the offline start."""
    folder = cache_dir()
    name = f"ops-{description['version']}.json"
    try:
        _write_json(os.path.join(folder, name), description)
        for old in glob.glob(os.path.join(folder, "ops-*.json")):
            if os.path.basename(old) != name:
                os.remove(old)
        if models is not None:
            _write_json(os.path.join(folder, "models.json"), models)
    except OSError as exc:
        log.warning("could not cache the operation description in %s: %s", folder, exc)


# --- operators from a description --------------------------------------------------------------------------------


def install(description: dict[str, Any], source: str) -> None:
    """Register one operator per operation of `description` at once, replacing those of the previous one."""
    begin_install(description, source)
    install_next(len(description["ops"]))


def begin_install(description: dict[str, Any], source: str) -> None:
    """Drop the previous description's operators; `install_next` registers the new ones."""
    uninstall()
    STATE.description, STATE.source = description, source
    STATE.installing, STATE.install_errors = list(description["ops"]), []


def install_next(count: int) -> None:
    """Register up to `count` more operators of the description being installed; log once all are."""
    from .operators import build_operator

    if STATE.installing is None or STATE.description is None:
        return
    for op in STATE.installing[:count]:
        try:
            cls = build_operator(op)
            bpy.utils.register_class(cls)
        except (DescriptionError, KeyError, ValueError, TypeError, RuntimeError) as exc:  # the server's data
            STATE.install_errors.append(f"{op.get('name')}: {exc}")
            continue
        STATE.classes.append(cls)
    del STATE.installing[:count]
    if STATE.installing:
        return
    STATE.installing = None
    if STATE.install_errors:
        STATE.error = "operations not registered: " + "; ".join(STATE.install_errors)
        log.error("%s", STATE.error)
    log.info("dreamplate operations %s registered from the %s", STATE.description["version"], STATE.source)


def uninstall() -> None:
    for cls in reversed(STATE.classes):
        bpy.utils.unregister_class(cls)
    STATE.classes, STATE.installing = [], None


def suggestions(kind: str, text: str) -> list[str]:
    """Model names of `kind` containing `text`, for a setting's search menu (from memory: no request)."""
    names = STATE.models.get(kind, [])
    return [name for name in names if text.lower() in name.lower()]


# --- fetching ----------------------------------------------------------------------------------------------------


def _fetch(generation: int, settings: connection.ServerSettings) -> None:
    """The worker thread: the server's description and models onto the queue, or the line saying why not."""
    try:
        description, models = connection.fetch_description(settings)
        STATE.messages.put((generation, "ok", (description, models)))
    except (ClientError, MappingError, DescriptionError) as exc:
        STATE.messages.put((generation, "error", str(exc)))
    except Exception as exc:  # a bug: its traceback goes to the log, the panel gets one line
        log.exception("fetching the operation description failed")
        STATE.messages.put((generation, "error", f"internal error: {type(exc).__name__}: {exc}"))


def refresh(wait: bool = False) -> None:
    """Fetch the description again on a worker thread; `wait` (background sessions) waits for it and applies it."""
    try:
        settings = prefs.server_settings(bpy.context)
    except MappingError as exc:
        STATE.error = str(exc)
        return
    STATE.generation += 1
    STATE.fetching = True
    STATE.thread = threading.Thread(
        target=_fetch, args=(STATE.generation, settings), name="dreamplate ops", daemon=True
    )
    STATE.thread.start()
    if wait:
        STATE.thread.join(WAIT_SECONDS)
        tick()
        install_next(len(STATE.installing or []))  # a background session has no later ticks
    elif not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=0.05, persistent=True)


def tick() -> float | None:
    """The timer: take the worker's answer without waiting, and register a newer description when no job runs.

    Returns the next interval, or None (the timer stops) when there is nothing left to wait for.
    """
    changed = False
    while True:
        try:
            generation, outcome, data = STATE.messages.get_nowait()
        except queue.Empty:
            break
        if generation != STATE.generation:
            continue  # an answer for settings since replaced
        changed = True
        STATE.fetching = False
        if outcome == "error":
            STATE.error = data
            continue
        description, models = data
        STATE.error = None
        if models is not None:
            STATE.models = model_names(models)
        current = STATE.description
        if current is not None and current["version"] == description["version"]:
            STATE.source = "server"
            if models is not None:
                write_cache(description, models)
        else:
            STATE.pending = {"description": description, "models": models}
    if STATE.pending is not None and STATE.installing is None and not BOARD.following():
        pending, STATE.pending = STATE.pending, None
        write_cache(pending["description"], pending["models"])
        begin_install(pending["description"], "server")  # this tick drops the old operators; later ones add
        changed = True
    elif STATE.installing is not None:
        install_next(INSTALL_PER_TICK)
        changed = True
    if changed:
        _redraw()
    if STATE.installing is not None:
        return INSTALL_TICK_SECONDS
    return TICK_SECONDS if STATE.fetching or STATE.pending is not None else None


def _redraw() -> None:
    window_manager = getattr(bpy.context, "window_manager", None)
    for window in getattr(window_manager, "windows", []):
        for area in window.screen.areas:
            area.tag_redraw()


def register() -> None:
    description, models = read_cache()
    if models is not None:
        STATE.models = model_names(models)
    if description is not None:
        install(description, "cache")
    # The first fetch starts from a timer, once the preferences are attached to the extension; background sessions
    # run no timers and fetch with the refresh operator instead.
    bpy.app.timers.register(_first_refresh, first_interval=0.1, persistent=True)


def _first_refresh() -> None:
    refresh()


def unregister() -> None:
    for timer in (tick, _first_refresh):
        if bpy.app.timers.is_registered(timer):
            bpy.app.timers.unregister(timer)
    uninstall()
    STATE.generation += 1  # a fetch still under way is ignored when it lands
    STATE.description, STATE.pending, STATE.source, STATE.fetching = None, None, "", False
