"""Running stored jobs: outcomes, per-frame progress, cancel between frames, shutdown, resume after a kill."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import pytest

from dreamplate.io.exr import read_info
from dreamplate.jobs import runner
from dreamplate.jobs.runner import remove_stale_temps, run_job
from dreamplate.jobs.spec import JobSpec
from dreamplate.jobs.store import JobStore


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    opened = JobStore.open(tmp_path / "home")
    yield opened
    opened.close()


def _claimed(store: JobStore, job: JobSpec | dict) -> str:
    data = job.model_dump(mode="json", by_alias=True) if isinstance(job, JobSpec) else job
    job_id = store.submit(data)
    assert store.claim_next().id == job_id
    return job_id


def _cancel_after(store: JobStore, monkeypatch: pytest.MonkeyPatch, frames: int, action) -> None:
    """Run `action(job_id)` right after the job's `frames`-th frame is recorded: a cancel with exact timing."""
    original = store.frame_done

    def frame_done(job_id: str, frame, done: int, total: int, message: str) -> None:
        original(job_id, frame, done, total, message)
        if done == frames:
            action(job_id)

    monkeypatch.setattr(store, "frame_done", frame_done)


def test_job_runs_to_done_recording_every_frame(store: JobStore, job_for, tmp_path: Path, output_names) -> None:
    job_id = _claimed(store, job_for(tmp_path / "out"))
    assert run_job(store, job_id) == "done"
    record = store.require(job_id)
    assert (record.state, record.frames_done, record.frames_total, record.error) == ("done", 17, 17, None)
    assert set(store.frames(job_id).values()) == {"done"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == output_names
    assert read_info(tmp_path / "out" / output_names[1])[0].display_window == (0, 0, 95, 63)
    progress = [e.data for e in store.events(job_id) if e.kind == "progress"]
    assert [p["frame"] for p in progress] == list(range(1001, 1018))


def test_missing_input_fails_with_the_reason(store: JobStore, tmp_path: Path) -> None:
    job = JobSpec(task="interpolate", inputs=[str(tmp_path / "gone.####.exr")], output=str(tmp_path / "o.####.exr"))
    job_id = _claimed(store, job)
    assert run_job(store, job_id) == "failed"
    assert "gone.####.exr" in store.require(job_id).error


@pytest.mark.parametrize(
    ("params", "message"),
    [({"factor": "two"}, "interpolate job: factor:"), ({"colour": 1}, "colour")],
)
def test_bad_params_fail_before_any_file(store: JobStore, plate: str, tmp_path: Path, params, message) -> None:
    job = JobSpec(task="interpolate", inputs=[plate], output=str(tmp_path / "o.####.exr"), params=params)
    job_id = _claimed(store, job)
    assert run_job(store, job_id) == "failed"
    assert message in store.require(job_id).error
    assert not list(tmp_path.glob("o.*"))


def test_a_bug_fails_the_job_naming_it(store: JobStore, job_for, tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(runner, "run_task", broken)
    job_id = _claimed(store, job_for(tmp_path / "out"))
    assert run_job(store, job_id) == "failed"
    assert store.require(job_id).error == "internal error: RuntimeError: boom"


def test_cancel_stops_between_frames_and_keeps_finished_ones(
    store: JobStore, job_for, tmp_path: Path, monkeypatch, output_names
) -> None:
    _cancel_after(store, monkeypatch, 3, store.request_cancel)
    job_id = _claimed(store, job_for(tmp_path / "out"))
    assert run_job(store, job_id) == "cancelled"
    record = store.require(job_id)
    assert (record.state, record.frames_done, record.error) == ("cancelled", 3, None)
    assert "cancelled after 3 of 17" in record.message
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == output_names[:3]


def test_shutdown_puts_the_job_back_and_the_next_run_resumes(
    store: JobStore, job_for, tmp_path: Path, monkeypatch, output_names
) -> None:
    stop = threading.Event()
    _cancel_after(store, monkeypatch, 4, lambda _: stop.set())
    job_id = _claimed(store, job_for(tmp_path / "out"))
    assert run_job(store, job_id, stop=stop) == "queued"
    assert store.require(job_id).state == "queued"
    kept = {name: (tmp_path / "out" / name).stat().st_ino for name in output_names[:4]}
    monkeypatch.undo()
    assert store.claim_next().id == job_id
    assert run_job(store, job_id) == "done"
    assert {name: (tmp_path / "out" / name).stat().st_ino for name in kept} == kept  # skipped, not rewritten
    messages = [e.data["message"] for e in store.events(job_id) if e.kind == "progress"][4:]
    assert [m.startswith("skipped") for m in messages] == [True] * 4 + [False] * 13


def test_resumed_job_removes_its_stale_temps_only(store: JobStore, job_for, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".out.1005.0123456789ab.partial.exr"
    foreign = out / ".other.1005.0123456789ab.partial.exr"
    for path in (stale, foreign):
        path.write_bytes(b"half a frame")
    job_id = store.submit(job_for(out).model_dump(mode="json", by_alias=True))
    store.claim_next("999999999:1.000")  # a run by a process that then died
    store.close()
    reopened = JobStore.open(tmp_path / "home")
    assert reopened.claim_next().attempts == 2
    assert run_job(reopened, job_id) == "done"
    assert not stale.exists() and foreign.exists()
    reopened.close()


def test_remove_stale_temps_matches_the_atomic_writer_names(job_for, tmp_path: Path) -> None:
    from dreamplate.io.atomic import atomic_path

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError), atomic_path(out / "out.1002.exr") as temp:
        raise RuntimeError
    temp.write_bytes(b"half a frame")  # what a kill -9 in the middle of the write leaves
    assert remove_stale_temps(job_for(out), [1001, 1002]) == 1
    assert not temp.exists()


def test_ray_address_runs_the_job_through_ray_exec(store: JobStore, job_for, tmp_path: Path, monkeypatch) -> None:
    calls = []

    def run_on_ray(job, address, progress=None, cancelled=None):
        calls.append((job.task, address, cancelled()))
        progress(10, 17, "chunk 1001-1010 done")
        progress(17, 17, "chunk 1011-1017 done")

    fake = types.ModuleType("dreamplate.jobs.ray_exec")
    fake.run_on_ray = run_on_ray
    monkeypatch.setitem(sys.modules, "dreamplate.jobs.ray_exec", fake)
    job_id = _claimed(store, job_for(tmp_path / "out"))
    assert run_job(store, job_id, ray_address="ray://head:10001") == "done"
    assert calls == [("interpolate", "ray://head:10001", False)]
    record = store.require(job_id)
    assert (record.frames_done, record.frames_total) == (17, 17)
    assert set(store.frames(job_id).values()) == {"done"}
