"""The queue widget with real PySide6 offscreen against a real server: populate, cancel, re-run, open, grab."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nuke_support import REPO, copy_sequence
from server_support import TOKEN

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
QtWidgets = pytest.importorskip("PySide6.QtWidgets", reason="PySide6 is a dev dependency of the queue panel")

from dreamplate.client import Client  # noqa: E402
from dreamplate.queue_widget import JobQueueWidget, format_elapsed  # noqa: E402


@pytest.fixture(scope="module")
def qapp():
    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def _until(app, condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        app.processEvents()
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.02)


def _job(plate: str, output: str, factor: int) -> dict:
    return {"task": "interpolate", "inputs": [plate], "output": output, "params": {"method": "flow", "factor": factor}}


def test_widget_lists_jobs_cancels_the_running_one_and_reruns(qapp, server, shared_data: Path, tmp_path: Path) -> None:
    process, root = server
    folder = root / f"queue_{tmp_path.name}"
    plate = copy_sequence(shared_data, folder / "plate", 30)
    client = Client(process.url, TOKEN, timeout=10)
    short = client.submit(_job(plate, str(folder / "a" / "a.####.exr"), 1))
    client.wait(short, timeout=30)
    long = client.submit(_job(plate, str(folder / "b" / "b.####.exr"), 8))
    opened = []
    widget = JobQueueWidget(client, interval_ms=100, opener=lambda url: opened.append(url.toLocalFile()) or True)
    widget.resize(900, 300)
    widget.show()

    _until(qapp, lambda: any(j["id"] == long and j["frames_done"] >= 1 for j in widget.jobs))
    ids = [widget.table.item(row, 0).text() for row in range(widget.table.rowCount())]
    assert ids[:2] == [long, short]  # newest first
    assert widget.table.item(1, 2).text() == "done"
    assert widget.table.cellWidget(1, 3).value() == 100
    assert widget.select_job(long)
    assert widget.cancel_button.isEnabled() and not widget.rerun_button.isEnabled()

    widget.cancel_button.click()
    _until(qapp, lambda: client.job(long)["state"] == "cancelled")
    _until(qapp, lambda: widget.table.item(0, 2).text() == "cancelled")

    widget.select_job(short)
    widget.open_button.click()
    assert opened == [str(folder / "a")]
    widget.rerun_button.click()
    rerun = widget.jobs[0]
    assert rerun["id"] not in (long, short) and rerun["spec"]["output"] == str(folder / "a" / "a.####.exr")
    assert client.wait(rerun["id"], timeout=30)["state"] == "done"
    widget.close()


def test_an_unreachable_server_shows_in_the_header_and_backs_off(qapp) -> None:
    widget = JobQueueWidget(Client("http://127.0.0.1:9", TOKEN, timeout=1), interval_ms=100)
    assert widget.server_label.text().startswith("server: cannot reach the dreamplate server at http://127.0.0.1:9")
    assert widget.timer.interval() == 10000
    widget.close()


def test_elapsed_format() -> None:
    assert [format_elapsed(s) for s in (0, 42, 187, 3720)] == ["0s", "42s", "3m07s", "1h02m"]


def test_grab_script_saves_a_png_of_the_panel(server, tmp_path: Path) -> None:
    process, _ = server
    out = tmp_path / "queue.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, str(REPO / "install" / "grab_queue_panel.py"), str(out), "--url", process.url]
    result = subprocess.run([*command, "--token", TOKEN], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (980, 300)


def test_queue_command_is_registered_and_imports_no_qt_until_run() -> None:
    check = (
        "import sys; from dreamplate.cli import app; import typer.main; "
        "names = [c.name for c in typer.main.get_command(app).commands.values()]; "
        "print('queue' in names, any(m.startswith('PySide') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True", "False"]
