"""A client for the dreamplate job server, in the standard library only: Nuke's and Blender's Python import it.

    client = Client()                       # http://127.0.0.1:8765, token from $DREAMPLATE_TOKEN or the token file
    job_id = client.submit({"task": "interpolate", "inputs": ["/shots/a/plate.####.exr"],
                            "output": "/shots/a/retime/out.####.exr", "params": {"factor": 2}})
    final = client.wait(job_id, on_progress=lambda job: print(job["progress"]))

Every failure (refused request, unreachable server, timeout) raises `ClientError` carrying the server's own one-line
message, which a host shows word for word. Nothing here imports the rest of dreamplate.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8765"
TOKEN_ENV = "DREAMPLATE_TOKEN"
URL_ENV = "DREAMPLATE_URL"
TERMINAL_STATES = ("done", "failed", "cancelled")


_WINDOWS_PREFIX = re.compile(r"^(?:[A-Za-z]:|\\\\|//)")


def swap_prefix(path: str, prefix: str, replacement: str) -> str | None:
    """`path` with `prefix` (whole folders only) swapped for `replacement`, or None when it does not start with it.

    A drive-letter or UNC prefix matches in any case and with either slash; what follows the prefix takes the
    separator of the replacement (backslashes under a Windows prefix written with them).
    """
    windows = bool(_WINDOWS_PREFIX.match(prefix))
    text, head = (path.replace("\\", "/"), prefix.replace("\\", "/")) if windows else (path, prefix)
    head = head.rstrip("/") or "/"
    start = text[: len(head)]
    if (start.lower() != head.lower()) if windows else (start != head):
        return None
    rest = text[len(head) :]
    if rest and not rest.startswith("/") and head != "/":
        return None
    rest = rest.lstrip("/")
    separator = "\\" if _WINDOWS_PREFIX.match(replacement) and "/" not in replacement else "/"
    base = replacement.rstrip("/\\")
    if not base:
        return "/" + rest
    return base + separator + rest.replace("/", separator) if rest else base


class PathMaps:
    """`CLIENT=SERVER` prefix rules between a workstation's spelling of paths and the job server's.

    Hosts map their paths before submitting and map result paths back; the server applies the same rule to its own
    `--map` list, so either side can hold the mapping. The longest matching prefix wins.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self.pairs = tuple((str(client), str(server)) for client, server in pairs)

    @classmethod
    def parse(cls, text: str) -> PathMaps:
        """`'Z:/shows=/mnt/shows; /Volumes/proj=/proj'` (`;` or newlines); ValueError names a malformed entry."""
        pairs = []
        for entry in re.split(r"[;\n]", text or ""):
            entry = entry.strip()
            if not entry:
                continue
            client, sep, server = entry.partition("=")
            if not sep or not client.strip() or not server.strip():
                raise ValueError(f"path map {entry!r}: give CLIENT_PREFIX=SERVER_PREFIX, e.g. 'Z:/shows=/mnt/shows'")
            pairs.append((client.strip(), server.strip()))
        return cls(pairs)

    def to_server(self, path: str) -> str:
        """The server's spelling of a workstation path (unchanged when no rule matches)."""
        return _first_swap(path, self.pairs)

    def to_client(self, path: str) -> str:
        """The workstation's spelling of a path the server names: the rules read backwards."""
        return _first_swap(path, [(server, client) for client, server in self.pairs])


def _first_swap(path: str, pairs: Iterable[tuple[str, str]]) -> str:
    for prefix, replacement in sorted(pairs, key=lambda pair: len(pair[0]), reverse=True):
        swapped = swap_prefix(path, prefix, replacement)
        if swapped is not None:
            return swapped
    return path


class ClientError(Exception):
    """A request that did not succeed; `status` is the HTTP status (None when the server was not reached)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def token_path() -> Path:
    """Where `dreamplate serve` keeps its generated token on this machine (the user config dir, as platformdirs has it).

    `$DREAMPLATE_HOME` overrides it, as it does for the server.
    """
    home = os.environ.get("DREAMPLATE_HOME")
    if home:
        return Path(home) / "token"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", "").strip() or Path.home() / ".config")
    return base / "dreamplate" / "token"


def default_token() -> str | None:
    """`$DREAMPLATE_TOKEN`, else the local token file's contents, else None."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    try:
        return token_path().read_text().strip() or None
    except OSError:
        return None


class Client:
    """One dreamplate server. Methods return the server's JSON as plain dicts; failures raise `ClientError`."""

    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else default_token()
        self.timeout = timeout

    # --- the API ------------------------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`{"status": "ok", "version": ...}`; needs no token."""
        return self._request("GET", "/v1/health")

    def ops(self) -> dict[str, Any]:
        """Every operation's description (`["ops"]`: name, title, fields with defaults and UI hints) and `version`."""
        return self._request("GET", "/v1/ops")

    def models(self) -> dict[str, Any]:
        """Models the server holds warm."""
        return self._request("GET", "/v1/models")

    def submit(self, job: dict[str, Any]) -> str:
        """Queue `{"task", "inputs", "output", "params"}`; returns the job id."""
        return self._request("POST", "/v1/jobs", job)["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        """The job's state, progress in [0, 1], frames done and total, and error text when it failed."""
        return self._request("GET", f"/v1/jobs/{job_id}")

    def jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        """Jobs, newest first (only those in `state` when given)."""
        query = f"?state={state}" if state else ""
        return self._request("GET", f"/v1/jobs{query}")["jobs"]

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel: a queued job at once, a running one after its current frame. Returns the job."""
        return self._request("POST", f"/v1/jobs/{job_id}/cancel", {})

    def events(self, job_id: str, last_event_id: int = 0, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """The job's server-sent events as dicts `{"event": kind, "id": n or None, "data": {...}}`, until it ends.

        Kinds: `job` (a snapshot of the job, first), `state`, `progress`, `cancel`. The server pings every few
        seconds, so `timeout` (seconds without a line, default the client's) only fires on a dead connection.
        """
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = str(last_event_id)
        response = self._open("GET", f"/v1/jobs/{job_id}/events", None, headers, timeout)
        with response:
            kind, event_id, data = "message", None, []
            try:
                for raw in response:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if not line:
                        if data:
                            yield {"event": kind, "id": event_id, "data": json.loads("\n".join(data))}
                        kind, event_id, data = "message", None, []
                    elif line.startswith(":"):
                        continue  # a keep-alive ping
                    else:
                        name, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value  # 3.7: no removeprefix (Nuke 13)
                        if name == "event":
                            kind = value
                        elif name == "id":
                            event_id = int(value) if value.isdigit() else None
                        elif name == "data":
                            data.append(value)
            except TimeoutError as exc:
                raise _StreamTimeout(f"{self.url}: event stream for job {job_id}: no event in time") from exc
            except (OSError, http.client.HTTPException) as exc:
                raise ClientError(f"{self.url}: event stream for job {job_id} broke: {exc}") from exc

    def wait(
        self,
        job_id: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Follow the job until it is done, failed or cancelled; returns the final job dict (check its `state`).

        `on_progress(job)` gets the job dict (state, progress, frames_done, frames_total, message) on each change.
        Raises ClientError when `timeout` seconds pass first (the job keeps running; cancel it if it should stop).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        last_id = 0
        job: dict[str, Any] = {}
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise ClientError(f"job {job_id}: still running after {timeout:g} s")
            read_timeout = self.timeout if remaining is None else max(0.05, min(self.timeout, remaining))
            try:
                for event in self.events(job_id, last_id, timeout=read_timeout):
                    last_id = event["id"] or last_id
                    job = _updated(job, event)
                    if on_progress is not None and event["event"] in ("job", "progress", "state"):
                        on_progress(dict(job))
                    if deadline is not None and time.monotonic() > deadline:
                        raise ClientError(f"job {job_id}: still running after {timeout:g} s")
            except _StreamTimeout:
                pass  # no line within the read timeout: check the deadline, then reconnect after last_id
            # The stream ends when the job does; a dropped one is picked up again after the last event seen.
            job = self.job(job_id)
            if job["state"] in TERMINAL_STATES:
                return job

    # --- HTTP ---------------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Accept": "application/json"}
        with self._open(method, path, body, headers, None) as response:
            payload = response.read()
        return json.loads(payload) if payload else {}

    def _open(self, method: str, path: str, body: Any, headers: dict[str, str], timeout: float | None) -> Any:
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers = {**headers, "Content-Type": "application/json"}
        if self.token:
            headers = {**headers, "Authorization": f"Bearer {self.token}"}
        request = urllib.request.Request(f"{self.url}{path}", data=data, headers=headers, method=method)
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            raise ClientError(_server_message(exc), exc.code) from None
        except urllib.error.URLError as exc:
            raise ClientError(f"cannot reach the dreamplate server at {self.url}: {exc.reason}") from None
        except TimeoutError:
            raise ClientError(f"{self.url}{path}: no answer within {timeout or self.timeout:g} s") from None
        except OSError as exc:
            raise ClientError(f"cannot reach the dreamplate server at {self.url}: {exc}") from None


class _StreamTimeout(ClientError):
    """No line on an event stream within the read timeout; `wait` reconnects, other callers see a ClientError."""


def _updated(job: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """The job dict as an event changes it, so following a job costs no extra requests."""
    data = event["data"]
    if event["event"] == "job":
        return dict(data)
    job = dict(job)
    if event["event"] == "progress":
        done, total = data.get("done", 0), data.get("total", 0)
        job.update(frames_done=done, frames_total=total, message=data.get("message", ""))
        job["progress"] = round(done / total, 4) if total else 0.0
    elif event["event"] == "state":
        job.update(state=data["state"], message=data.get("message", job.get("message", "")))
        if data.get("error"):
            job["error"] = data["error"]
        if data["state"] == "done":
            job["progress"] = 1.0
    return job


def _server_message(exc: urllib.error.HTTPError) -> str:
    """The server's `{"error": ...}` line, or the HTTP reason when the body is not ours (a proxy, say)."""
    try:
        body = exc.read()
        message = json.loads(body).get("error") if body else None
    except (ValueError, AttributeError, OSError):
        message = None
    return str(message) if message else f"HTTP {exc.code}: {exc.reason}"
