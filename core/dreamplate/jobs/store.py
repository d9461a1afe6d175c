"""The job store: jobs, their output frames and their events in one SQLite file (WAL), so a killed server resumes.

States: queued -> running -> done | failed | cancelled; a queued job may be cancelled directly. A job left `running`
by a process that no longer exists (kill -9, power cut) goes back to `queued` when the store is next opened, and its
runner skips the frames already on disk. One connection guarded by a lock serves every thread of a process: writes
are tiny (a row per frame) and SQLite serialises writers anyway.

The schema carries a version in `PRAGMA user_version`; opening a store applies the migrations it lacks, in order, in
one transaction, so a store written by an older dreamplate opens in this one. A store from before versions existed
(user_version 0 holding the jobs table) is version 1. A store written by a newer dreamplate is refused, not guessed at.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dreamplate.errors import JobError
from dreamplate.userdirs import HOME_ENV, data_dir

log = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed", "cancelled")
TERMINAL_STATES = frozenset({"done", "failed", "cancelled"})
STORE_NAME = "jobs.sqlite3"

# Version 1: the schema as it stood before versions were recorded. Never edit a released migration: add the next one.
_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    frames_done INTEGER NOT NULL DEFAULT 0,
    frames_total INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
CREATE TABLE IF NOT EXISTS frames (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    frame INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, frame)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_job ON events (job_id, id);
"""

Migration = str | Callable[[sqlite3.Connection], None]
MIGRATIONS: tuple[tuple[int, Migration], ...] = ((1, _SCHEMA_V1),)
"""(version, step) in ascending order; a step is SQL (run statement by statement) or a function given the connection.

Each step runs inside the opening transaction, with foreign keys on: a step that rebuilds a table must copy it to a
new table and rename (SQLite's ALTER TABLE procedure), since `PRAGMA foreign_keys` cannot change inside a
transaction."""
SCHEMA_VERSION = MIGRATIONS[-1][0]


@dataclass(frozen=True)
class JobRecord:
    """One job as stored; `to_dict()` is what `GET /v1/jobs/{id}` answers."""

    id: str
    task: str
    state: str
    spec: dict[str, Any]
    created: float
    started: float | None
    finished: float | None
    frames_done: int
    frames_total: int
    message: str
    error: str | None
    cancel_requested: bool
    attempts: int

    @property
    def progress(self) -> float:
        """Fraction of output frames finished, in [0, 1]; 1 for a done job whatever its frame count."""
        if self.state == "done":
            return 1.0
        return self.frames_done / self.frames_total if self.frames_total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "progress": round(self.progress, 4)}


@dataclass(frozen=True)
class JobEvent:
    """One entry of a job's event log: `kind` is "state" or "progress"; ids grow, so a stream can resume after one."""

    id: int
    job_id: str
    time: float
    kind: str
    data: dict[str, Any]


def process_owner() -> str:
    """This process as a job owner: pid plus start time, so a recycled pid is not mistaken for a live owner."""
    return f"{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        import psutil

        return f"{psutil.Process(pid).create_time():.3f}"
    except Exception:  # psutil missing or the process gone: the pid alone must do
        return "?"


def owner_alive(owner: str | None) -> bool:
    """True while the process that claimed a job still runs (a zombie counts as dead: it will never finish)."""
    if not owner:
        return False
    pid_text, _, started = owner.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        import psutil
    except ImportError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return started in ("?", f"{process.create_time():.3f}")
    except psutil.Error:
        return False


class JobStore:
    """Jobs, frames and events in SQLite; safe to share between the threads of one process."""

    def __init__(self, path: Path, recover: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30.0, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:
            with self._lock:
                _use_wal(self._db)
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process kill
                self._db.execute("PRAGMA foreign_keys=ON")
                _migrate(self._db, path)
        except BaseException:
            self._db.close()
            raise
        if recover:
            self.recover()

    @classmethod
    def open(cls, home: Path | None = None) -> JobStore:
        """The store under `home` (default: `userdirs.data_dir()`), with dead processes' jobs put back in the queue."""
        return cls((home or data_dir()) / STORE_NAME)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- jobs ---------------------------------------------------------------------------------------------------------

    def submit(self, spec: dict[str, Any]) -> str:
        """Queue a validated job spec (as JSON-ready dict); returns its new id."""
        job_id = uuid.uuid4().hex
        now = time.time()
        with self._lock, self._tx():
            self._db.execute(
                "INSERT INTO jobs (id, spec, task, state, created) VALUES (?, ?, ?, 'queued', ?)",
                (job_id, json.dumps(spec), spec.get("task", ""), now),
            )
            self._event(job_id, "state", {"state": "queued"}, now)
        return job_id

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _record(row)

    def require(self, job_id: str) -> JobRecord:
        """The job, or JobError naming the unknown id."""
        record = self.get(job_id)
        if record is None:
            raise JobError(f"job {job_id}: no such job")
        return record

    def list_jobs(self, state: str | None = None, limit: int = 100) -> list[JobRecord]:
        """Jobs newest first, optionally only those in `state`."""
        query, args = "SELECT * FROM jobs", []
        if state is not None:
            query, args = query + " WHERE state = ?", [state]
        with self._lock:
            rows = self._db.execute(f"{query} ORDER BY created DESC LIMIT ?", (*args, limit)).fetchall()
        return [_record(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {state: 0 for state in STATES} | {row[0]: row[1] for row in rows}

    def claim_next(self, owner: str | None = None) -> JobRecord | None:
        """Take the oldest queued job for `owner` (this process by default) and mark it running; None if none."""
        owner = owner or process_owner()
        now = time.time()
        with self._lock, self._tx():
            row = self._db.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE jobs SET state = 'running', started = ?, owner = ?, attempts = attempts + 1, message = '' "
                "WHERE id = ?",
                (now, owner, row[0]),
            )
            self._event(row[0], "state", {"state": "running"}, now)
        return self.get(row[0])

    def finish(self, job_id: str, state: str, error: str | None = None, message: str = "") -> None:
        """Move a job to a terminal state (done, failed, cancelled), with the reason for a failure."""
        if state not in TERMINAL_STATES:
            raise ValueError(f"finish: {state!r} is not a terminal state")
        now = time.time()
        with self._lock, self._tx():
            self._db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error = ?, message = ?, owner = NULL WHERE id = ?",
                (state, now, error, message, job_id),
            )
            data = {"state": state, "message": message} | ({"error": error} if error else {})
            self._event(job_id, "state", data, now)

    def requeue(self, job_id: str, reason: str) -> None:
        """Put a running job back in the queue (server shutting down): its next run resumes where this one stopped."""
        now = time.time()
        with self._lock, self._tx():
            self._db.execute(
                "UPDATE jobs SET state = 'queued', owner = NULL, message = ? WHERE id = ? AND state = 'running'",
                (reason, job_id),
            )
            self._event(job_id, "state", {"state": "queued", "message": reason}, now)

    def request_cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job now, or ask a running one to stop after its current frame; JobError if it has ended."""
        now = time.time()
        with self._lock, self._tx():
            row = self._db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobError(f"job {job_id}: no such job")
            if row[0] in TERMINAL_STATES:
                raise JobError(f"job {job_id}: already {row[0]}, nothing to cancel")
            if row[0] == "queued":
                self._db.execute(
                    "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished = ?, message = ? WHERE id = ?",
                    (now, "cancelled before it started", job_id),
                )
                self._event(job_id, "state", {"state": "cancelled", "message": "cancelled before it started"}, now)
            else:
                self._db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                self._event(job_id, "cancel", {"message": "cancel requested; stopping after the current frame"}, now)
        return self.require(job_id)

    def cancel_requested(self, job_id: str) -> bool:
        """Polled by the runner between frames."""
        with self._lock:
            row = self._db.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def recover(self) -> int:
        """Jobs left `running` by a dead process: back to `queued` (or `cancelled` if that was asked); returns count."""
        with self._lock:
            rows = self._db.execute("SELECT id, owner, cancel_requested FROM jobs WHERE state = 'running'").fetchall()
        recovered = 0
        for job_id, owner, cancel in rows:
            if owner_alive(owner):
                continue
            if cancel:
                self.finish(job_id, "cancelled", message="cancelled; its server stopped before it noticed")
            else:
                self.requeue(job_id, "resumed: the server running it stopped")
            outcome = "cancelled" if cancel else "queued again"
            log.info("job %s: was running in a process that is gone (%s); %s", job_id, owner, outcome)
            recovered += 1
        return recovered

    # --- frames and progress ------------------------------------------------------------------------------------------

    def set_frames(self, job_id: str, frames: Iterable[int]) -> None:
        """Record the job's output frames (kept as they are when a resumed job plans the same frames again)."""
        frames = list(frames)
        with self._lock, self._tx():
            self._db.executemany(
                "INSERT OR IGNORE INTO frames (job_id, frame) VALUES (?, ?)", [(job_id, f) for f in frames]
            )
            self._db.execute(
                "UPDATE jobs SET frames_total = ?, frames_done = "
                "(SELECT COUNT(*) FROM frames WHERE job_id = ? AND state = 'done') WHERE id = ?",
                (len(frames), job_id, job_id),
            )

    def frame_done(self, job_id: str, frame: int | None, done: int, total: int, message: str) -> None:
        """One output frame finished (written, or found already written); records progress and an event."""
        now = time.time()
        with self._lock, self._tx():
            if frame is not None:
                self._db.execute(
                    "UPDATE frames SET state = 'done', message = ? WHERE job_id = ? AND frame = ?",
                    (message, job_id, frame),
                )
            self._db.execute(
                "UPDATE jobs SET frames_done = ?, frames_total = ?, message = ? WHERE id = ?",
                (done, total, message, job_id),
            )
            self._event(job_id, "progress", {"done": done, "total": total, "frame": frame, "message": message}, now)

    def mark_frames_done(self, job_id: str) -> None:
        """Every output frame of the job finished at once (a Ray run, whose chunks report out of order)."""
        with self._lock, self._tx():
            self._db.execute("UPDATE frames SET state = 'done' WHERE job_id = ?", (job_id,))
            self._db.execute("UPDATE jobs SET frames_done = frames_total WHERE id = ?", (job_id,))

    def frames(self, job_id: str) -> dict[int, str]:
        """Each output frame's state ("pending" or "done")."""
        with self._lock:
            rows = self._db.execute("SELECT frame, state FROM frames WHERE job_id = ? ORDER BY frame", (job_id,))
            return {row[0]: row[1] for row in rows.fetchall()}

    # --- events -------------------------------------------------------------------------------------------------------

    def events(self, job_id: str, after: int = 0, limit: int = 500) -> list[JobEvent]:
        """The job's events with ids above `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?", (job_id, after, limit)
            ).fetchall()
        return [JobEvent(row["id"], row["job_id"], row["time"], row["kind"], json.loads(row["data"])) for row in rows]

    def _event(self, job_id: str, kind: str, data: dict[str, Any], now: float) -> None:
        self._db.execute(
            "INSERT INTO events (job_id, time, kind, data) VALUES (?, ?, ?, ?)", (job_id, now, kind, json.dumps(data))
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


def _use_wal(db: sqlite3.Connection, seconds: float = 30.0) -> None:
    """Switch the store to WAL, waiting while another process opening a new store at the same moment holds its lock.

    SQLite answers "database is locked" at once here instead of calling the busy handler, hence the retry loop.
    """
    deadline = time.monotonic() + seconds
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorname.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store at `path` to the newest schema; JobError if a newer dreamplate wrote it or a step fails."""
    latest = MIGRATIONS[-1][0]
    if _recorded_version(db, path, latest) == latest:
        return  # the common case takes no write lock, so opening a current store never waits on a busy one
    with _Transaction(db):
        # Read again under the write lock: another process opening the store at the same time may have migrated it.
        version = _recorded_version(db, path, latest)
        if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone():
            version = 1  # written before versions were recorded, by code whose schema is version 1
        for target, step in MIGRATIONS:
            if target <= version:
                continue
            try:
                if callable(step):
                    step(db)
                else:
                    for statement in _statements(step):
                        db.execute(statement)
            except sqlite3.Error as exc:
                raise JobError(
                    f"{path}: could not upgrade the job store from schema {version} to {target}: {exc}"
                ) from exc
            log.info("%s: job store schema %d -> %d", path, version, target)
            version = target
        db.execute(f"PRAGMA user_version = {int(version)}")


def _recorded_version(db: sqlite3.Connection, path: Path, latest: int) -> int:
    """The schema version the store records (`user_version`, 0 for none); JobError if it is newer than `latest`."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > latest:
        raise JobError(
            f"{path}: written by a newer dreamplate (job store schema {version}, this one knows up to {latest}); "
            f"upgrade dreamplate, or set {HOME_ENV} to another folder"
        )
    return version


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQL script one at a time: `executescript` would COMMIT the migration's transaction."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        raise ValueError(f"migration ends in an unfinished statement: {pending.strip()[:60]!r}")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): a claim never races another process's claim."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        task=row["task"],
        state=row["state"],
        spec=json.loads(row["spec"]),
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        frames_done=row["frames_done"],
        frames_total=row["frames_total"],
        message=row["message"],
        error=row["error"],
        cancel_requested=bool(row["cancel_requested"]),
        attempts=row["attempts"],
    )
