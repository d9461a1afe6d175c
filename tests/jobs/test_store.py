"""The SQLite job store: states, frames, events, cancel, and recovery of jobs a dead process left running."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from dreamplate.errors import JobError
from dreamplate.jobs.store import STORE_NAME, JobStore, owner_alive, process_owner
from dreamplate.userdirs import data_dir

SPEC = {"schema": "dreamplate.job/1", "task": "interpolate", "inputs": ["/a.####.exr"], "output": "/o.####.exr"}
DEAD_OWNER = "999999999:1.000"  # no such pid


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    opened = JobStore.open(tmp_path)
    yield opened
    opened.close()


def test_store_lives_in_dreamplate_home_and_uses_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMPLATE_HOME", str(tmp_path / "h"))
    assert data_dir() == tmp_path / "h"
    store = JobStore.open()
    assert store.path == tmp_path / "h" / STORE_NAME
    store.close()
    with sqlite3.connect(tmp_path / "h" / STORE_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_submit_claim_finish_in_order_with_events(store: JobStore) -> None:
    first, second = store.submit(SPEC), store.submit({**SPEC, "output": "/p.####.exr"})
    assert store.require(first).state == "queued" and store.require(first).spec == SPEC
    claimed = store.claim_next()
    assert (claimed.id, claimed.state, claimed.attempts) == (first, "running", 1)
    assert store.claim_next().id == second
    assert store.claim_next() is None
    store.finish(first, "failed", error="plate.0003.exr: truncated")
    record = store.require(first)
    assert (record.state, record.error) == ("failed", "plate.0003.exr: truncated")
    assert record.finished is not None and record.finished >= record.started >= record.created
    states = [e.data["state"] for e in store.events(first) if e.kind == "state"]
    assert states == ["queued", "running", "failed"]
    assert store.counts() == {"queued": 0, "running": 1, "done": 0, "failed": 1, "cancelled": 0}
    assert [r.id for r in store.list_jobs()] == [second, first]
    assert [r.id for r in store.list_jobs("failed")] == [first]
    with pytest.raises(ValueError, match="terminal"):
        store.finish(second, "running")


def test_frames_and_progress(store: JobStore) -> None:
    job_id = store.submit(SPEC)
    store.claim_next()
    store.set_frames(job_id, [1001, 1002, 1003, 1004])
    store.frame_done(job_id, 1001, 1, 4, "wrote o.1001.exr")
    store.frame_done(job_id, 1002, 2, 4, "wrote o.1002.exr")
    record = store.require(job_id)
    assert (record.frames_done, record.frames_total, record.progress) == (2, 4, 0.5)
    assert store.frames(job_id) == {1001: "done", 1002: "done", 1003: "pending", 1004: "pending"}
    # A resumed run plans the same frames again: finished ones stay finished.
    store.set_frames(job_id, [1001, 1002, 1003, 1004])
    assert store.require(job_id).frames_done == 2
    progress = [e.data for e in store.events(job_id) if e.kind == "progress"]
    assert [(p["done"], p["frame"]) for p in progress] == [(1, 1001), (2, 1002)]
    last = store.events(job_id)[-1].id
    assert store.events(job_id, after=last) == []


def test_cancel_queued_at_once_running_on_request_ended_refused(store: JobStore) -> None:
    queued, running = store.submit(SPEC), store.submit(SPEC)
    assert store.request_cancel(queued).state == "cancelled"
    assert store.claim_next().id == running  # the cancelled one is never claimed
    record = store.request_cancel(running)
    assert record.state == "running" and record.cancel_requested and store.cancel_requested(running)
    store.finish(running, "cancelled")
    with pytest.raises(JobError, match="already cancelled"):
        store.request_cancel(running)
    with pytest.raises(JobError, match="no such job"):
        store.request_cancel("nope")


def test_jobs_of_a_dead_process_are_queued_again_on_open(tmp_path: Path) -> None:
    store = JobStore.open(tmp_path)
    dead, alive, asked = store.submit(SPEC), store.submit(SPEC), store.submit(SPEC)
    store.claim_next(DEAD_OWNER)
    store.claim_next(process_owner())
    store.claim_next(DEAD_OWNER)
    store.request_cancel(asked)
    store.close()
    reopened = JobStore.open(tmp_path)
    assert reopened.require(dead).state == "queued"
    assert "resumed" in reopened.require(dead).message
    assert reopened.require(alive).state == "running"  # its owner, this process, still runs it
    assert reopened.require(asked).state == "cancelled"  # the user had asked: no point running it again
    again = reopened.claim_next()
    assert (again.id, again.attempts) == (dead, 2)
    reopened.close()


def test_owner_alive() -> None:
    assert owner_alive(process_owner())
    assert not owner_alive(DEAD_OWNER)
    assert not owner_alive(None) and not owner_alive("garbage")
    pid = process_owner().split(":")[0]
    assert not owner_alive(f"{pid}:12.000")  # the pid was recycled: another process, not our owner


def test_concurrent_claims_take_each_job_once(tmp_path: Path) -> None:
    stores = [JobStore.open(tmp_path) for _ in range(4)]  # separate connections, as separate processes would have
    ids = {stores[0].submit(SPEC) for _ in range(60)}
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(store: JobStore) -> None:
        while (record := store.claim_next()) is not None:
            with lock:
                claimed.append(record.id)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)
    for store in stores:
        store.close()
