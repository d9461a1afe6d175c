"""The job store's schema version: stores written before versions existed, later migrations, newer stores refused."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dreamplate.errors import JobError
from dreamplate.jobs import store as store_module
from dreamplate.jobs.store import SCHEMA_VERSION, STORE_NAME, JobStore

# The DDL of the store as dreamplate wrote it before schema versions (commit 1081cdb, `_SCHEMA` in jobs/store.py),
# copied literally: it must not follow later edits of store.py.
UNVERSIONED_SCHEMA = """
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
SPEC = {"schema": "dreamplate.job/1", "task": "interpolate", "inputs": ["/a.####.exr"], "output": "/o.####.exr"}
DONE_ID, QUEUED_ID = "a" * 32, "b" * 32


def write_unversioned_store(path: Path) -> None:
    """A store as the code before versions left it: WAL, one finished job with frames and events, one queued job."""
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(UNVERSIONED_SCHEMA)
        db.execute(
            "INSERT INTO jobs (id, spec, task, state, created, started, finished, frames_done, frames_total, message, "
            "attempts) VALUES (?, ?, 'interpolate', 'done', 100.0, 101.0, 102.0, 2, 2, 'wrote o.1002.exr', 1)",
            (DONE_ID, json.dumps(SPEC)),
        )
        db.execute(
            "INSERT INTO jobs (id, spec, task, state, created) VALUES (?, ?, 'interpolate', 'queued', 103.0)",
            (QUEUED_ID, json.dumps(SPEC)),
        )
        db.executemany(
            "INSERT INTO frames (job_id, frame, state) VALUES (?, ?, 'done')", [(DONE_ID, 1001), (DONE_ID, 1002)]
        )
        events = [
            (DONE_ID, 100.0, "state", {"state": "queued"}),
            (DONE_ID, 101.0, "state", {"state": "running"}),
            (DONE_ID, 101.5, "progress", {"done": 1, "total": 2, "frame": 1001, "message": "wrote o.1001.exr"}),
            (DONE_ID, 101.9, "progress", {"done": 2, "total": 2, "frame": 1002, "message": "wrote o.1002.exr"}),
            (DONE_ID, 102.0, "state", {"state": "done", "message": ""}),
            (QUEUED_ID, 103.0, "state", {"state": "queued"}),
        ]
        db.executemany(
            "INSERT INTO events (job_id, time, kind, data) VALUES (?, ?, ?, ?)",
            [(job, at, kind, json.dumps(data)) for job, at, kind, data in events],
        )
    assert pragma(path, "user_version") == 0


def pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"PRAGMA {name}").fetchone()[0]


def schema_of(path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def test_store_written_before_versions_opens_with_its_jobs_and_events(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    write_unversioned_store(path)
    before = schema_of(path)

    store = JobStore.open(tmp_path)
    done = store.require(DONE_ID)
    assert (done.state, done.spec, done.frames_done, done.frames_total, done.attempts) == ("done", SPEC, 2, 2, 1)
    assert store.frames(DONE_ID) == {1001: "done", 1002: "done"}
    events = store.events(DONE_ID)
    assert [e.id for e in events] == [1, 2, 3, 4, 5]
    assert [(e.kind, e.data.get("state"), e.data.get("frame")) for e in events] == [
        ("state", "queued", None),
        ("state", "running", None),
        ("progress", None, 1001),
        ("progress", None, 1002),
        ("state", "done", None),
    ]
    claimed = store.claim_next()  # the old queued job runs under the new code, its events continue the old ids
    assert claimed.id == QUEUED_ID and [e.id for e in store.events(QUEUED_ID)] == [6, 7]
    store.close()

    assert pragma(path, "user_version") == SCHEMA_VERSION
    assert schema_of(path) == before  # version 1 is that schema: nothing was dropped or re-created


def test_second_open_of_a_current_store_runs_no_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / STORE_NAME
    write_unversioned_store(path)
    JobStore.open(tmp_path).close()
    schema_version = pragma(path, "schema_version")  # SQLite bumps it on every DDL statement

    def must_not_run(db: sqlite3.Connection) -> None:
        raise AssertionError("a migration ran on a store already at the current version")

    monkeypatch.setattr(store_module, "MIGRATIONS", tuple((v, must_not_run) for v, _ in store_module.MIGRATIONS))
    JobStore.open(tmp_path).close()
    assert (pragma(path, "user_version"), pragma(path, "schema_version")) == (SCHEMA_VERSION, schema_version)


def test_new_store_gets_the_same_tables_as_an_unversioned_one(tmp_path: Path) -> None:
    write_unversioned_store(tmp_path / "old.sqlite3")
    JobStore(tmp_path / "new.sqlite3").close()
    assert pragma(tmp_path / "new.sqlite3", "user_version") == SCHEMA_VERSION
    assert schema_of(tmp_path / "new.sqlite3") == schema_of(tmp_path / "old.sqlite3")


def test_store_from_a_newer_dreamplate_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    JobStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JobError, match=r"jobs\.sqlite3: written by a newer dreamplate") as raised:
        JobStore(path)
    message = str(raised.value)
    assert "\n" not in message and f"schema {SCHEMA_VERSION + 1}" in message and "DREAMPLATE_HOME" in message
    assert pragma(path, "user_version") == SCHEMA_VERSION + 1  # left as found


def test_later_migrations_run_in_order_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / STORE_NAME
    write_unversioned_store(path)
    ran: list[int] = []

    def backfill_priority(db: sqlite3.Connection) -> None:
        ran.append(3)
        assert "priority" in [row[1] for row in db.execute("PRAGMA table_info(jobs)")]  # version 2 came first
        db.execute("UPDATE jobs SET priority = 5 WHERE state = 'queued'")

    migrations = (
        *store_module.MIGRATIONS,
        (
            2,
            "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;\n"
            "CREATE INDEX jobs_priority ON jobs (priority);",
        ),
        (3, backfill_priority),
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    JobStore(path).close()
    JobStore(path).close()
    assert ran == [3]
    assert pragma(path, "user_version") == 3 and "priority" in columns(path, "jobs")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id, priority FROM jobs ORDER BY id").fetchall() == [(DONE_ID, 0), (QUEUED_ID, 5)]


def test_failed_migration_leaves_the_store_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / STORE_NAME
    write_unversioned_store(path)
    before = schema_of(path)
    migrations = (
        *store_module.MIGRATIONS,
        (2, "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;"),
        (3, "ALTER TABLE no_such_table ADD COLUMN x TEXT;"),
    )
    monkeypatch.setattr(store_module, "MIGRATIONS", migrations)
    with pytest.raises(JobError, match=r"jobs\.sqlite3: could not upgrade the job store from schema 2 to 3"):
        JobStore(path)
    assert (pragma(path, "user_version"), schema_of(path)) == (0, before)  # the transaction took version 2 back too
    monkeypatch.undo()
    store = JobStore(path)
    assert store.require(DONE_ID).state == "done"
    store.close()


OPEN_AND_SUBMIT = """
import sys, time
from pathlib import Path
from dreamplate.jobs.store import JobStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store = JobStore(Path(sys.argv[1]))
print(store.submit({"task": "interpolate"}))
store.close()
"""


@pytest.mark.parametrize("existing", ["new", "unversioned"])
def test_processes_opening_the_store_at_once_all_succeed(tmp_path: Path, existing: str) -> None:
    path = tmp_path / STORE_NAME
    if existing == "unversioned":
        write_unversioned_store(path)
    start = f"{time.time() + 2.0:.3f}"  # every process opens at the same moment, after its interpreter started
    processes = [
        subprocess.Popen([sys.executable, "-c", OPEN_AND_SUBMIT, str(path), start], stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outputs = [process.communicate(timeout=120)[0].strip() for process in processes]
    assert [process.returncode for process in processes] == [0] * 6
    store = JobStore(path)
    assert {job.id for job in store.list_jobs(state="queued")} >= set(outputs)
    assert len(store.list_jobs()) == 6 + (2 if existing == "unversioned" else 0)
    store.close()
    assert pragma(path, "user_version") == SCHEMA_VERSION


def test_threads_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / STORE_NAME
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_and_submit() -> None:
        barrier.wait()
        try:
            store = JobStore(path)
            store.submit(SPEC)
            store.close()
        except BaseException as exc:  # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=open_and_submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = JobStore(path)
    assert len(store.list_jobs()) == 6
    store.close()
    assert pragma(path, "user_version") == SCHEMA_VERSION
