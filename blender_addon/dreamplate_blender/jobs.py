"""Following server jobs from Blender without blocking it: one `JobWatch` per job, and the board the panel shows.

Host-free. A watch's worker thread does all the talking (connect, submit, poll, cancel) and puts what it learns
on a queue; Blender's timer calls `drain()`, which only empties that queue, so a tick never waits on the network
however slowly the server answers. The board is touched on the main thread only (in `drain()`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .mapping import TERMINAL_STATES, describe

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25


class JobClient(Protocol):
    """What a watch needs of `dreamplate.client.Client`."""

    def submit(self, job: dict[str, Any]) -> str: ...

    def job(self, job_id: str) -> dict[str, Any]: ...

    def cancel(self, job_id: str) -> dict[str, Any]: ...


@dataclass
class JobEntry:
    """One job as the panel lists it."""

    job_id: str
    label: str
    state: str = "queued"
    progress: float = 0.0
    status: str = "queued"
    cancel_requested: bool = False
    updated: float = field(default_factory=time.monotonic)


class Board:
    """The jobs this Blender session started, newest first; finished ones stay listed until cleared."""

    def __init__(self) -> None:
        self.entries: dict[str, JobEntry] = {}
        self.watches: dict[str, JobWatch] = {}  # by job id, once submitted
        self.followed: list[JobWatch] = []  # every watch, from before its submit

    def add(self, job_id: str, label: str) -> JobEntry:
        entry = JobEntry(job_id, label)
        self.entries = {job_id: entry, **self.entries}
        return entry

    def update(self, job_id: str, job: dict[str, Any]) -> None:
        entry = self.entries.get(job_id)
        if entry is None:
            return
        entry.state = job.get("state", entry.state)
        entry.progress = float(job.get("progress") or 0.0)
        entry.status = describe(job)
        entry.updated = time.monotonic()

    def active(self) -> list[JobEntry]:
        return [e for e in self.entries.values() if e.state not in TERMINAL_STATES]

    def following(self) -> bool:
        """Whether a watch is still waiting for its job (operators must stay registered until it ends).

        Drains the watches first (main thread), so a watch whose operator is gone (a file load drops modal
        operators) still ends when its job does and does not hold the operators forever.
        """
        for watch in self.followed:
            watch.drain()
        self.followed = [watch for watch in self.followed if not watch.finished]
        return bool(self.followed)

    def cancel(self, job_id: str) -> bool:
        """Ask the job's watch to cancel it; False when no watch of this session follows it."""
        watch = self.watches.get(job_id)
        if watch is None or watch.finished:
            return False
        watch.escape()
        return True

    def clear_finished(self) -> None:
        self.entries = {k: e for k, e in self.entries.items() if e.state not in TERMINAL_STATES}
        self.watches = {k: w for k, w in self.watches.items() if not w.finished}
        self.followed = [w for w in self.followed if not w.finished]


BOARD = Board()


class JobWatch:
    """A job submitted and followed on a worker thread; `drain()` on the main thread, `escape()` to cancel it.

    `connect()` runs on the worker (it may start the local server and wait for it) and returns the client. Until
    the first `drain()` after the submit, `job_id` is None; `error` holds the one line that ended the watch early
    (a refused submit, an unreachable server), word for word.
    """

    def __init__(
        self,
        connect: Callable[[], JobClient],
        job: dict[str, Any],
        label: str,
        board: Board = BOARD,
        interval: float = POLL_SECONDS,
        errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.spec = job
        self.label = label
        self.board = board
        self.interval = interval
        self.job_id: str | None = None
        self.entry: JobEntry | None = None
        self.last: dict[str, Any] = {"state": "submitting", "progress": 0.0}
        self.error: str | None = None
        self._connect = connect
        self._errors = errors
        self._messages: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._cancel = threading.Event()
        self._wake = threading.Event()
        board.followed.append(self)
        self._thread = threading.Thread(target=self._run, name=f"dreamplate {label}", daemon=True)
        self._thread.start()

    @property
    def finished(self) -> bool:
        return self.error is not None or self.last.get("state") in TERMINAL_STATES

    # --- the worker thread ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            client = self._connect()
            job_id = client.submit(self.spec)
            self._messages.put(("submitted", job_id))
            cancel_sent = False
            while True:
                if self._cancel.is_set() and not cancel_sent:
                    cancel_sent = True
                    self._messages.put(("job", client.cancel(job_id)))
                job = client.job(job_id)
                self._messages.put(("job", job))
                if job.get("state") in TERMINAL_STATES:
                    return
                self._wake.wait(self.interval)
                self._wake.clear()
        except self._errors as exc:
            self._messages.put(("error", str(exc)))
        except Exception as exc:  # a bug: keep its traceback in the log, and end the watch instead of hanging it
            log.exception("dreamplate job %s: the worker failed", self.label)
            self._messages.put(("error", f"internal error: {type(exc).__name__}: {exc}"))

    # --- the main thread --------------------------------------------------------------------------------------------

    def drain(self) -> bool:
        """Take in what the worker learnt, without waiting; True when anything changed. Updates the board."""
        changed = False
        while True:
            try:
                kind, data = self._messages.get_nowait()
            except queue.Empty:
                return changed
            changed = True
            if kind == "submitted":
                self.job_id = data
                self.entry = self.board.add(data, self.label)
                self.entry.cancel_requested = self._cancel.is_set()
                self.board.watches[data] = self
            elif kind == "job":
                self.last = data
                if self.job_id is not None:
                    self.board.update(self.job_id, data)
            else:
                self.error = data
                if self.entry is not None:
                    self.board.update(self.job_id, {"state": "failed", "error": data})

    def escape(self) -> None:
        """Ask the server to cancel (sent by the worker, right after the submit if it has not happened yet).

        A running job stops after its current frame, so the watch keeps following it until the server says so.
        """
        if self.finished or self._cancel.is_set():
            return
        self._cancel.set()
        self._wake.set()
        if self.entry is not None:
            self.entry.cancel_requested = True

    def wait(self, interval: float = 0.05, timeout: float | None = None) -> dict[str, Any]:
        """Drain until the job ends: for background sessions (`blender -b`), which run no timers."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished:
            if deadline is not None and time.monotonic() > deadline:
                break
            if not self.drain():
                time.sleep(interval)
        return self.last
