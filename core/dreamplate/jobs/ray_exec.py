"""Run one job on a Ray cluster: its output frames cut into chunks, one Ray task per chunk, progress gathered back.

Each task runs `run_task(job, only_frames=chunk)` where it lands and writes its frames straight to the job's output
path, so every node must see the job's inputs and outputs at the same paths (shared storage). Frames already written
with the same settings are skipped and writes are atomic, so a re-run after a failure or cancel redoes only what is
missing. `ray` is imported inside `run_on_ray`: importing this module costs nothing.

Connections: the first call in a process connects (or, for `"local"`, starts a local Ray runtime) and keeps that
connection for later calls in the same process, because a server running many jobs should not pay Ray's start-up
(seconds) per job; `ray.shutdown` runs at exit, which stops a local runtime we started and only disconnects from a
cluster someone else started. A Ray connection made by someone else in this process (a test, an embedding
application) is used as it is and never shut down here.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from dreamplate.errors import Cancelled, DreamplateError, JobError
from dreamplate.jobs.chunks import chunk_frames, chunk_range
from dreamplate.jobs.spec import JobSpec, output_frames, run_task
from dreamplate.ops.plate.progress import ProgressCallback

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
"""How often `cancelled()` is polled while chunks run."""
CONNECT_TIMEOUT_SECONDS = 5.0
"""How long a `host:port` address may take to accept a TCP connection before it is called unreachable."""
CANCEL_GRACE_SECONDS = 10.0
"""How long a cancel waits for running chunks to stop, so no frame appears after `Cancelled` is raised."""

_lock = threading.Lock()
_our_address: str | None = None  # the address this module connected to, when the connection is ours


def run_on_ray(
    job: JobSpec,
    address: str,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    chunk_size: int | None = None,
) -> None:
    """Run `job` as Ray tasks of `chunk_size` output frames each (default: `chunks.default_chunk_size`).

    `address`: `"auto"` (the cluster this machine belongs to), `"local"` (start a Ray runtime in this process) or a
    `ray://host:10001` / `host:6379` address. Each chunk asks for one GPU when the cluster has any, else one CPU.
    `progress(done_frames, total_frames, message)` is called as chunks finish; `cancelled()` is polled every
    0.2 s and a cancel stops the outstanding chunks and raises `Cancelled`, leaving finished frames in place.
    The job is planned here first, so a bad spec or a missing input raises before anything is submitted. When a
    chunk fails the other chunks still finish (their frames count on a re-run); then JobError names the first
    failed chunk's frames and the remote error. Raises JobError when Ray cannot be reached.
    """
    import ray

    # 1. Plan on this machine: the whole spec is validated before any task exists.
    job = _absolute(job)
    frames = output_frames(job)
    chunks = chunk_frames(frames, chunk_size)
    total = len(frames)
    # 2. Connect, and size each task by what the cluster has.
    _connect(ray, address)
    has_gpus = ray.cluster_resources().get("GPU", 0) >= 1
    resources: dict[str, Any] = {"num_gpus": 1} if has_gpus else {"num_cpus": 1}
    log.info(
        "%s: %d frames in %d chunks on Ray, %s per chunk",
        job.task,
        total,
        len(chunks),
        "1 GPU" if has_gpus else "1 CPU",
    )
    # 3. Submit every chunk; the job travels as its JSON dict, the same thing a job file or the server holds.
    remote_chunk = ray.remote(_run_chunk).options(**resources)
    job_data = job.model_dump(mode="json", by_alias=True)
    pending = {remote_chunk.remote(job_data, chunk): chunk for chunk in chunks}
    _report(progress, 0, total, f"submitted {len(chunks)} chunks to Ray")
    # 4. Gather as chunks finish, polling for a cancel in between.
    done_frames = 0
    done_chunks = 0
    failures: list[tuple[list[int], str]] = []
    try:
        while pending:
            if cancelled is not None and cancelled():
                raise Cancelled(f"{job.task}: cancelled on Ray after {done_frames} of {total} frames")
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for ref in ready:
                chunk = pending.pop(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayError as exc:
                    reason = _remote_reason(exc)
                    log.error("%s: frames %s failed on Ray: %s", job.task, chunk_range(chunk), reason)
                    failures.append((chunk, reason))
                    continue
                done_frames += len(chunk)
                done_chunks += 1
                _report(progress, done_frames, total, f"frames {chunk_range(chunk)} done ({done_chunks}/{len(chunks)})")
    except BaseException:
        # A cancel, Ctrl-C or a bug here: nothing of this job may keep running on the cluster.
        _cancel(ray, list(pending))
        raise
    # 5. A failed chunk fails the job; what the other chunks wrote is kept for the re-run.
    if failures:
        chunk, reason = failures[0]
        more = f" ({len(failures)} of {len(chunks)} chunks failed)" if len(failures) > 1 else ""
        raise JobError(f"{job.task}: frames {chunk_range(chunk)} failed on Ray: {reason}{more}")


def _run_chunk(job_data: dict[str, Any], frames: list[int]) -> tuple[int, int]:
    """The Ray task: run the chunk `frames` of the job in the worker; returns (written, skipped) frame counts."""
    result = run_task(JobSpec.model_validate(job_data), only_frames=frames)
    return len(getattr(result, "written", ())), len(getattr(result, "skipped", ()))


def _absolute(job: JobSpec) -> JobSpec:
    """The job with absolute input and output paths: a Ray worker does not run in this process's folder."""
    inputs = [os.path.abspath(p) for p in job.inputs]
    output = os.path.abspath(job.output)
    if inputs == job.inputs and output == job.output:
        return job
    log.info("relative paths in the job resolved against %s for Ray workers", os.getcwd())
    return job.model_copy(update={"inputs": inputs, "output": output})


def _connect(ray: Any, address: str) -> None:
    """Connect this process to Ray at `address` once; later calls reuse the connection."""
    global _our_address
    with _lock:
        if ray.is_initialized():
            if _our_address is not None and _our_address != address:
                raise JobError(
                    f"--ray {address}: this process is already connected to Ray at {_our_address!r}; "
                    "use that address or start another process"
                )
            return
        _check_reachable(address)
        try:
            # "local" is Ray's own word for "start a new local instance", so every address passes straight through.
            ray.init(address=address, include_dashboard=False if address == "local" else None)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise JobError(f"--ray {address}: cannot connect to Ray: {first}") from exc
        _our_address = address
        atexit.register(ray.shutdown)
        log.info("connected to Ray at %s: %s", address, ray.cluster_resources())


def _check_reachable(address: str) -> None:
    """Refuse a `host:port` or `ray://host:port` address where nothing listens: Ray itself retries for minutes."""
    host_port = address.removeprefix("ray://")
    host, sep, port = host_port.rpartition(":")
    if address in ("auto", "local") or not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_SECONDS):
            pass
    except OSError as exc:
        raise JobError(
            f"--ray {address}: nothing answers there ({exc.strerror or exc}); is the Ray head running?"
        ) from exc


def _cancel(ray: Any, refs: list[Any]) -> None:
    """Cancel outstanding chunks and give running ones a moment to stop between frames."""
    if not refs:
        return
    for ref in refs:
        ray.cancel(ref)
    ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_SECONDS)
    log.info("cancelled %d outstanding chunks on Ray", len(refs))


def _remote_reason(exc: Exception) -> str:
    """One line for a failed chunk: a dreamplate error's own message, else the remote traceback's last line."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, DreamplateError):
        return str(cause)
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _report(progress: ProgressCallback | None, done: int, total: int, message: str) -> None:
    if progress is not None:
        progress(done, total, message)
