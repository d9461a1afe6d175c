"""Reaching the job server from worker threads: the settings they get, the local server, the description fetch.

Host-free and blocking: everything here waits on the network or a process, so only worker threads call it (the
main thread reads the preferences into a `ServerSettings` and hands that over). Blender's own thread never does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

from .clientlib import Client, ClientError
from .mapping import MappingError
from .settings import check_description

log = logging.getLogger(__name__)
REQUEST_SECONDS = 10.0
"""Per-request timeout on worker threads; a slow server delays a job's updates, never Blender."""
START_SECONDS = 30.0
"""How long a local server started from the preferences may take to answer."""


@dataclass(frozen=True)
class ServerSettings:
    """The preferences a worker thread needs, read on the main thread; `command` starts the local server (or None)."""

    url: str
    token: str | None
    command: tuple[str, ...] | None = None

    def client(self) -> Client:
        return Client(self.url, self.token, timeout=REQUEST_SECONDS)


class LocalServer:
    """The `dreamplate serve` this Blender session started, shared by the worker threads that may need it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None

    def ensure(self, command: tuple[str, ...], token: str | None) -> subprocess.Popen:
        """Start `command` unless this session's server still runs; MappingError when it cannot start."""
        with self._lock:
            if self._process is not None and self._process.poll() is None:
                return self._process
            env = dict(os.environ)
            if token:
                env["DREAMPLATE_TOKEN"] = token
            log.info("starting %s", " ".join(command))
            try:
                self._process = subprocess.Popen(
                    list(command), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            except OSError as exc:
                raise MappingError(f"cannot start {command[0]}: {exc}") from None
            return self._process

    def stop(self) -> None:
        """Stop the server this session started; one started elsewhere is left alone."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(2)
            except subprocess.TimeoutExpired:
                process.kill()


LOCAL_SERVER = LocalServer()


def connect(settings: ServerSettings, local: LocalServer = LOCAL_SERVER) -> Client:
    """A client whose server answers, starting the local one when the preferences allow and none does (blocking).

    Raises ClientError (the server's or the network's own line) or MappingError (a setting to fix).
    """
    client = settings.client()
    try:
        client.health()
        return client
    except ClientError:
        if settings.command is None:
            raise
    process = local.ensure(settings.command, settings.token)
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            client.health()
            return client
        except ClientError:
            if process.poll() is not None:
                raise MappingError(f"dreamplate serve exited with {process.returncode}; run it in a terminal") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def fetch_description(settings: ServerSettings) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the server's operation description, its models or None) (blocking: worker threads only).

    The models only fill suggestion menus, so a server that cannot list them still gives its operations.
    """
    client = connect(settings)
    description = check_description(client.ops())
    try:
        models = client.models()
    except ClientError as exc:
        log.info("no model list from %s: %s", settings.url, exc)
        models = None
    return description, models
