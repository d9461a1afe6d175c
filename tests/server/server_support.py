"""Helpers for server tests: a tiny plate, job dicts, polling, and a real `dreamplate serve` child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import plates
import pytest

TOKEN = "test-token-0123456789"
PLATE_SIZE = (64, 48)


def write_plate(folder: Path, count: int = 3, size: tuple[int, int] = PLATE_SIZE, first: int = 1001) -> str:
    """`count` frames of the demo plate (RGBA + Z, highlights above 1.0) tagged ACEScg; returns the #### pattern."""
    return plates.write_plate(folder, range(first, first + count), size)


def interpolate_job(plate: str, output: str, **params: object) -> dict:
    return {"task": "interpolate", "inputs": [plate], "output": output, "params": {"factor": 2, **params}}


def wait_job(api, job_id: str, seconds: float = 20.0) -> dict:
    """Poll `GET /v1/jobs/{id}` until the job ends; fails the test past `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = api.get(f"/v1/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.02)
    pytest.fail(f"job {job_id} still {job['state']} after {seconds} s")


# --- a real server process -------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A `dreamplate serve` child process on loopback."""

    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would; reaped so its pid is gone."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(
    home: Path, roots: list[Path], log_path: Path, workers: int = 1, timeout: float = 30.0
) -> ServerProcess:
    """Start `python -m dreamplate.cli serve` with its store in `home`; returns once `/v1/health` answers."""
    port = free_port()
    env = {**os.environ, "DREAMPLATE_HOME": str(home), "DREAMPLATE_TOKEN": TOKEN}
    command = [sys.executable, "-m", "dreamplate.cli", "serve", "--port", str(port), "--workers", str(workers)]
    for folder in roots:
        command += ["--root", str(folder)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = ServerProcess(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dreamplate serve exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/v1/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    pytest.fail(f"dreamplate serve did not answer within {timeout} s:\n{server.log()}")
