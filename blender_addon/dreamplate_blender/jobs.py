"""Following server jobs from Blender without blocking it: one `JobWatch` per job, and the board the panel shows.

Host-free: the modal operators call `poll()` from their timer and `escape()` on Esc; the panel reads `BOARD`.
Every request is short (a job snapshot), so a timer tick never stalls Blender's UI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from .mapping import TERMINAL_STATES, describe


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

    def clear_finished(self) -> None:
        self.entries = {k: e for k, e in self.entries.items() if e.state not in TERMINAL_STATES}


BOARD = Board()


class JobWatch:
    """A submitted job: `poll()` its state, `escape()` to cancel it on the server (the Esc key)."""

    def __init__(self, client: JobClient, job: dict[str, Any], label: str, board: Board = BOARD) -> None:
        self.client = client
        self.spec = job
        self.board = board
        self.job_id = client.submit(job)
        self.entry = board.add(self.job_id, label)
        self.last: dict[str, Any] = {"id": self.job_id, "state": "queued", "progress": 0.0}

    @property
    def finished(self) -> bool:
        return self.last.get("state") in TERMINAL_STATES

    def poll(self) -> dict[str, Any]:
        """The job's current state from the server (one short request); also updates the board."""
        self.last = self.client.job(self.job_id)
        self.board.update(self.job_id, self.last)
        return self.last

    def escape(self) -> None:
        """Ask the server to cancel; a running job stops after its current frame, so keep polling until it says so."""
        if self.finished or self.entry.cancel_requested:
            return
        self.entry.cancel_requested = True
        self.last = self.client.cancel(self.job_id)
        self.board.update(self.job_id, self.last)

    def wait(self, interval: float = 0.1) -> dict[str, Any]:
        """Poll until the job ends: for background sessions (`blender -b`), which run no timers."""
        while not self.finished:
            self.poll()
            if not self.finished:
                time.sleep(interval)
        return self.last
