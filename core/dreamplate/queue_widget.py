"""The job queue as a Qt widget: jobs with state, progress and elapsed time; cancel, re-run and open output.

One widget for every host: Nuke registers it as a pane, `dreamplate queue` shows it in its own window. It needs the
standard library, `dreamplate.client` and PySide6 (PySide2 in Nuke 13 to 15) and nothing else, so a host's Python
can import it; keep it that way (Python 3.7 syntax, no numpy). Refreshes poll `client.jobs()` on a QTimer.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

try:
    from PySide6 import QtCore, QtGui, QtWidgets
except ImportError:  # Nuke 13 to 15 ship PySide2
    from PySide2 import QtCore, QtGui, QtWidgets  # type: ignore[no-redef]

from dreamplate.client import TERMINAL_STATES, Client, ClientError

log = logging.getLogger(__name__)

COLUMNS = ("job", "task", "state", "progress", "elapsed", "output", "message")
STATE_COLOURS = {
    "queued": "#8a8a8a",
    "running": "#3d8fd1",
    "done": "#4caf50",
    "failed": "#e0533d",
    "cancelled": "#c9a227",
}
REFRESH_MS = 1000
BACKOFF_MS = 10000
"""Poll interval while the server does not answer, so a dead server cannot keep the host's UI waiting."""


def format_elapsed(seconds: float) -> str:
    """`42s`, `3m07s`, `1h02m`."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def elapsed_seconds(job: dict[str, Any], now: float) -> float:
    """Running time so far (or in all, once ended); queue time while it waits."""
    start = job.get("started") or job.get("created") or now
    end = job.get("finished") if job.get("state") in TERMINAL_STATES and job.get("finished") else now
    return end - start


class JobQueueWidget(QtWidgets.QWidget):
    """A table of the server's jobs, newest first, refreshed every `interval_ms`.

    `local_path(server_path)` spells a server path for this machine (path maps), for "open output";
    `opener(QUrl)` opens a folder (QDesktopServices.openUrl by default; tests replace it).
    """

    def __init__(
        self,
        client: Client,
        parent: QtWidgets.QWidget | None = None,
        interval_ms: int = REFRESH_MS,
        local_path: Callable[[str], str] | None = None,
        opener: Callable[[Any], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.interval_ms = interval_ms
        self.local_path = local_path or (lambda path: path)
        self.opener = opener or QtGui.QDesktopServices.openUrl
        self.jobs: list[dict[str, Any]] = []
        self.setWindowTitle("dreamplate queue")

        self.server_label = QtWidgets.QLabel(f"server: {client.url}")
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.rerun_button = QtWidgets.QPushButton("Re-run")
        self.open_button = QtWidgets.QPushButton("Open output")
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.cancel_button.setToolTip("cancel the selected job (a running job stops after its current frame)")
        self.rerun_button.setToolTip("submit the selected job again (frames already written are kept)")
        self.open_button.setToolTip("open the folder of the selected job's output")
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.server_label, 1)
        for button in (self.cancel_button, self.rerun_button, self.open_button, self.refresh_button):
            buttons.addWidget(button)

        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(COLUMNS.index("output"), QtWidgets.QHeaderView.ResizeMode.Stretch)

        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.table)

        self.cancel_button.clicked.connect(self.cancel_selected)
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.open_button.clicked.connect(self.open_selected_output)
        self.refresh_button.clicked.connect(self.refresh)
        self.table.itemSelectionChanged.connect(self._update_buttons)

        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(interval_ms)
        self.refresh()

    # --- data ---------------------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Fetch the job list and redraw, keeping the selection; a server error shows in the header line."""
        try:
            jobs = self.client.jobs()
        except ClientError as exc:
            self.server_label.setText(f"server: {exc}")
            self.timer.setInterval(BACKOFF_MS)
            return
        self.timer.setInterval(self.interval_ms)
        self.server_label.setText(f"server: {self.client.url} ({len(jobs)} jobs)")
        self._populate(jobs)

    def _populate(self, jobs: list[dict[str, Any]]) -> None:
        selected = self.selected_job()
        self.jobs = jobs
        now = time.time()
        self.table.setRowCount(len(jobs))
        for row, job in enumerate(jobs):
            output = job.get("spec", {}).get("output", "")
            values = {
                "job": job["id"],
                "task": job.get("task", ""),
                "state": job.get("state", ""),
                "elapsed": format_elapsed(elapsed_seconds(job, now)),
                "output": self.local_path(output) if output else "",
                "message": job.get("error") or job.get("message") or "",
            }
            for column, name in enumerate(COLUMNS):
                if name == "progress":
                    self.table.setCellWidget(row, column, self._progress_bar(job))
                    continue
                item = QtWidgets.QTableWidgetItem(str(values[name]))
                if name == "state":
                    item.setForeground(QtGui.QBrush(QtGui.QColor(STATE_COLOURS.get(values[name], "#cccccc"))))
                if name in ("message", "output"):
                    item.setToolTip(str(values[name]))
                self.table.setItem(row, column, item)
        if selected is not None:
            for row, job in enumerate(jobs):
                if job["id"] == selected["id"]:
                    self.table.selectRow(row)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def _progress_bar(self, job: dict[str, Any]) -> QtWidgets.QProgressBar:
        bar = QtWidgets.QProgressBar()
        bar.setRange(0, 100)
        bar.setValue(int(round(100 * float(job.get("progress") or 0.0))))
        done, total = job.get("frames_done", 0), job.get("frames_total", 0)
        bar.setFormat(f"{done}/{total}" if total else "%p%")
        return bar

    def selected_job(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.jobs):
            return None
        return self.jobs[rows[0].row()]

    def select_job(self, job_id: str) -> bool:
        """Select the row of `job_id`; False when the list does not hold it."""
        for row, job in enumerate(self.jobs):
            if job["id"] == job_id:
                self.table.selectRow(row)
                return True
        return False

    def _update_buttons(self) -> None:
        job = self.selected_job()
        state = job.get("state") if job else None
        self.cancel_button.setEnabled(state in ("queued", "running"))
        self.rerun_button.setEnabled(state in TERMINAL_STATES)
        self.open_button.setEnabled(job is not None)

    # --- actions ------------------------------------------------------------------------------------------------------

    def _act(self, what: str, action: Callable[[dict[str, Any]], object]) -> None:
        job = self.selected_job()
        if job is None:
            return
        try:
            action(job)
        except ClientError as exc:
            # The server's own words, as the artist should see them.
            self.server_label.setText(f"{what} job {job['id']}: {exc}")
            return
        self.refresh()

    def cancel_selected(self) -> None:
        """Cancel the selected job on the server: at once when queued, after its current frame when running."""
        self._act("cancel", lambda job: self.client.cancel(job["id"]))

    def rerun_selected(self) -> None:
        """Submit the selected job's spec again as a new job (its finished frames are skipped)."""
        self._act("re-run", lambda job: self.client.submit(job["spec"]))

    def open_selected_output(self) -> None:
        """Open the folder holding the selected job's output."""
        job = self.selected_job()
        if job is None:
            return
        folder = os.path.dirname(self.local_path(job.get("spec", {}).get("output", "")))
        self.opener(QtCore.QUrl.fromLocalFile(folder))


def run_window(client: Client, interval_ms: int = REFRESH_MS) -> int:
    """`dreamplate queue`: the widget in its own window until it is closed; returns Qt's exit code."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    widget = JobQueueWidget(client, interval_ms=interval_ms)
    widget.resize(980, 360)
    widget.show()
    return app.exec() if hasattr(app, "exec") else app.exec_()
