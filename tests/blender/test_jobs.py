"""Following jobs off Blender's main thread (`dreamplate_blender.jobs`), without Blender."""

from __future__ import annotations

import threading

from blender_support import load_hostfree

jobs = load_hostfree("jobs")
clientlib = load_hostfree("clientlib")


class FakeClient:
    """Answers like the server: running with progress, then done, or cancelled once asked."""

    def __init__(self) -> None:
        self.submitted: list[dict] = []
        self.cancels = 0
        self.polls = 0

    def submit(self, job: dict) -> str:
        self.submitted.append(job)
        return "j1"

    def job(self, job_id: str) -> dict:
        self.polls += 1
        if self.cancels:
            return {"state": "cancelled", "frames_done": 2, "frames_total": 4, "progress": 0.5}
        if self.polls == 1:
            return {"state": "running", "frames_done": 1, "frames_total": 4, "progress": 0.25}
        return {"state": "done", "frames_done": 4, "frames_total": 4, "progress": 1.0}

    def cancel(self, job_id: str) -> dict:
        self.cancels += 1
        return {"state": "running", "frames_done": 2, "frames_total": 4, "progress": 0.5, "cancel_requested": True}


def test_watch_submits_and_follows_on_its_worker_to_done() -> None:
    board, client = jobs.Board(), FakeClient()
    watch = jobs.JobWatch(lambda: client, {"task": "interpolate"}, "x", board, interval=0)
    assert watch.wait(timeout=10)["state"] == "done"
    assert watch.job_id == "j1" and client.submitted == [{"task": "interpolate"}]
    assert board.entries["j1"].status == "done 4/4 frames" and board.active() == [] and not board.following()


def test_escape_before_the_submit_cancels_right_after_it_and_only_once() -> None:
    board, client = jobs.Board(), FakeClient()
    release = threading.Event()

    def connect() -> FakeClient:
        release.wait(10)
        return client

    watch = jobs.JobWatch(connect, {}, "y", board, interval=0)
    assert board.following()  # from before the submit: operators are not re-registered under a starting job
    watch.escape()
    watch.escape()  # a second Esc sends nothing more
    release.set()
    assert watch.wait(timeout=10)["state"] == "cancelled"
    assert client.cancels == 1 and board.entries["j1"].state == "cancelled" and board.entries["j1"].cancel_requested
    board.clear_finished()
    assert board.entries == {} and board.watches == {} and board.followed == []


def test_drain_never_waits_for_a_server_that_does_not_answer() -> None:
    """The worker is stuck in a request; the main thread's drain still returns, with nothing new."""
    stuck, release = threading.Event(), threading.Event()

    class StuckClient(FakeClient):
        def job(self, job_id: str) -> dict:
            stuck.set()
            release.wait(10)
            return super().job(job_id)

    board = jobs.Board()
    watch = jobs.JobWatch(StuckClient, {}, "z", board, interval=0)
    assert stuck.wait(10)
    assert watch.drain() is True and watch.job_id == "j1"  # the submit arrived; the poll has not
    assert watch.drain() is False and not watch.finished and board.following()
    release.set()
    assert watch.wait(timeout=10)["state"] == "done"


def test_a_refused_submit_ends_the_watch_with_the_servers_words() -> None:
    class Refusing(FakeClient):
        def submit(self, job: dict) -> str:
            raise clientlib.ClientError("sketch needs a prompt and a model", 422)

    watch = jobs.JobWatch(Refusing, {}, "r", jobs.Board(), errors=(clientlib.ClientError,))
    watch.wait(timeout=10)
    assert watch.finished and watch.job_id is None and watch.error == "sketch needs a prompt and a model"


def test_a_bug_in_the_worker_ends_the_watch_instead_of_hanging_it(caplog) -> None:
    class Broken(FakeClient):
        def job(self, job_id: str) -> dict:
            raise KeyError("state")

    board = jobs.Board()
    watch = jobs.JobWatch(Broken, {}, "b", board, errors=(clientlib.ClientError,))
    watch.wait(timeout=10)
    assert watch.error == "internal error: KeyError: 'state'" and board.entries["j1"].state == "failed"
    assert "the worker failed" in caplog.text  # with its traceback
