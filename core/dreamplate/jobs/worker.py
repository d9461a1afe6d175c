"""Worker threads inside the server process: take queued jobs one at a time and run them to their end.

Threads rather than processes so that loaded models stay warm between jobs (`runtime.model_cache`); memory is
checked between jobs and the cache emptied when it runs low. Stopping asks running jobs to halt after their current
frame and puts them back in the queue, so the next start resumes them.
"""

from __future__ import annotations

import logging
import threading

from dreamplate.jobs.runner import run_job
from dreamplate.jobs.store import JobStore, process_owner

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.5
"""How often an idle worker looks at the queue when nobody woke it (jobs queued by another process)."""


class WorkerPool:
    """`workers` threads pulling queued jobs from `store`; `wake()` after a submit starts one without delay."""

    def __init__(self, store: JobStore, workers: int = 1, ray_address: str | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be 1 or more, got {workers}")
        self.store = store
        self.workers = workers
        self.ray_address = ray_address
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._owner = process_owner()

    def start(self) -> None:
        for index in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"dreamplate-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        where = f"on ray at {self.ray_address}" if self.ray_address else "in this process"
        log.info("%d worker(s) started, running jobs %s", self.workers, where)

    def wake(self) -> None:
        """A job was queued: an idle worker takes it now rather than at its next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask running jobs to stop after their current frame (they go back to the queue) and wait for the threads."""
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s still busy after %.0f s; its job resumes on the next start", thread.name, timeout)
        self._threads.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                # A bug or a store that cannot be written (disk full): log it, keep the worker alive, back off.
                log.exception("worker error; retrying in %.1f s", IDLE_POLL_SECONDS)
                self._stop.wait(IDLE_POLL_SECONDS)

    def _step(self) -> None:
        """Run the oldest queued job, or wait a moment for one."""
        self._wake.clear()
        record = self.store.claim_next(self._owner)
        if record is None:
            self._wake.wait(IDLE_POLL_SECONDS)
            return
        log.info("job %s (%s): started, attempt %d", record.id, record.task, record.attempts)
        state = run_job(self.store, record.id, stop=self._stop, ray_address=self.ray_address)
        log.info("job %s: %s", record.id, state)
        _release_if_memory_low()


def _release_if_memory_low() -> None:
    """Models stay warm between jobs unless memory runs low; without psutil there is no measure, so they stay."""
    from dreamplate.runtime.model_cache import release_if_memory_low

    try:
        release_if_memory_low()
    except ImportError:
        log.debug("psutil not installed: cannot check memory between jobs")
