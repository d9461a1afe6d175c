"""Run one stored job to its end: plan its frames, clear a killed run's temp files, run the task, record the outcome.

The task itself skips frames already on disk with the same provenance, so a job resumed after a kill only renders
what is missing. Progress goes to the store frame by frame (and from there to the SSE stream); cancel is polled
between frames. Every outcome is recorded: done, cancelled, failed with a one-line reason, or queued again when the
server is shutting down.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dreamplate.errors import Cancelled, DreamplateError
from dreamplate.jobs.spec import JobSpec, output_frames, run_task
from dreamplate.jobs.store import JobStore

log = logging.getLogger(__name__)

# Temp names written by `dreamplate.io.atomic.atomic_path`: `.{stem}.{12 hex}.partial{suffix}`.
_ATOMIC_TEMP = re.compile(r"\.(?P<stem>.+)\.[0-9a-f]{12}\.partial(?P<suffix>\.[^.]*)?")
# Write probes from the output-folder check (`.dreamplate-probe-*`); only old ones are stale, a young one may be live.
_PROBE_PREFIX = ".dreamplate-probe-"
_PROBE_STALE_SECONDS = 60.0


def run_job(
    store: JobStore,
    job_id: str,
    stop: threading.Event | None = None,
    ray_address: str | None = None,
) -> str:
    """Run the (already claimed, `running`) job `job_id`; returns the state it ended in.

    `stop` set means the server is shutting down: the job stops after its current frame and goes back to the queue.
    Never raises for a job's own failure; those are recorded under the job's id.
    """
    record = store.require(job_id)
    started = time.monotonic()
    try:
        # 1. Plan: the output frames, validated spec included (a bad spec fails here, before any file is touched).
        job = JobSpec.model_validate(record.spec)
        frames = output_frames(job)
        store.set_frames(job_id, frames)
        # 2. A run of this job was killed before: its half-written temps are garbage now.
        if record.attempts > 1:
            removed = remove_stale_temps(job, frames)
            if removed:
                log.info("job %s: removed %d temp file(s) left by the interrupted run", job_id, removed)

        # 3. Run, recording each finished frame; the task reports frames in plan order.
        def progress(done: int, total: int, message: str) -> None:
            frame = frames[done - 1] if ray_address is None and 0 < done <= len(frames) else None
            store.frame_done(job_id, frame, done, total, message)

        cancelled = _cancel_check(store, job_id, stop)
        if ray_address is not None:
            from dreamplate.jobs.ray_exec import run_on_ray

            # Chunks finish out of order across the cluster: progress is counted, frames are marked when all are in.
            run_on_ray(job, ray_address, progress=progress, cancelled=cancelled)
            store.mark_frames_done(job_id)
        else:
            run_task(job, progress=progress, cancelled=cancelled)
    except Cancelled as exc:
        if stop is not None and stop.is_set() and not store.cancel_requested(job_id):
            store.requeue(job_id, "server stopped; the job resumes when it starts again")
            return "queued"
        store.finish(job_id, "cancelled", message=str(exc))
        return "cancelled"
    except DreamplateError as exc:
        log.warning("job %s failed: %s", job_id, exc)
        store.finish(job_id, "failed", error=str(exc))
        return "failed"
    except Exception as exc:
        # A bug, not a user error: keep the traceback in the log, and the job's reason names it.
        log.exception("job %s: internal error", job_id)
        store.finish(job_id, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
        return "failed"
    seconds = time.monotonic() - started
    store.finish(job_id, "done", message=f"{len(frames)} frames in {seconds:.1f} s")
    return "done"


def _cancel_check(store: JobStore, job_id: str, stop: threading.Event | None) -> Callable[[], bool]:
    """A `cancelled()` for the task: true once the user asked, or the server is stopping."""

    def cancelled() -> bool:
        return (stop is not None and stop.is_set()) or store.cancel_requested(job_id)

    return cancelled


def output_paths(job: JobSpec, frames: list[int]) -> list[Path]:
    """The files the job writes: its output pattern filled with each frame, or the one output file."""
    from dreamplate.io.sequence import FrameSequence, is_sequence_pattern

    if not is_sequence_pattern(job.output):
        return [Path(job.output)]
    sequence = FrameSequence.for_output(job.output, frames)
    return [sequence.path(frame) for frame in frames]


def remove_stale_temps(job: JobSpec, frames: list[int]) -> int:
    """Delete the atomic-write temps of this job's outputs (and old write probes) left by a killed run; count them.

    Only temps named after this job's own output files are touched, so other work in the same folder is left alone.
    """
    targets: dict[Path, set[str]] = {}
    for path in output_paths(job, frames):
        targets.setdefault(path.parent, set()).add(path.name)
    removed = 0
    now = time.time()
    for folder, names in targets.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = _ATOMIC_TEMP.fullmatch(entry.name)
            stale = match is not None and f"{match['stem']}{match['suffix'] or ''}" in names
            if not stale and entry.name.startswith(_PROBE_PREFIX):
                stale = now - entry.stat().st_mtime > _PROBE_STALE_SECONDS
            if stale and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
    return removed
