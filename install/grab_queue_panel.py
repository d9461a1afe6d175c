"""Save an offscreen screenshot of the job queue widget: `grab_queue_panel.py OUT.png --url URL --token T`.

Run with `QT_QPA_PLATFORM=offscreen` on a machine without a display. The README's picture
(`nuke_plugin/docs/queue_panel.png`) is made this way against a server holding a few jobs.
"""

from __future__ import annotations

import argparse
import sys


def grab(url: str, token: str | None, out: str, width: int = 980, height: int = 300, select: str | None = None) -> str:
    """Show the widget offscreen, fill it from the server, save a PNG of it; returns `out`."""
    from PySide6 import QtWidgets

    from dreamplate.client import Client
    from dreamplate.queue_widget import JobQueueWidget

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    widget = JobQueueWidget(Client(url, token, timeout=5.0))
    widget.timer.stop()  # one picture of one moment
    widget.resize(width, height)
    widget.show()
    if select:
        widget.select_job(select)
    app.processEvents()
    if not widget.grab().save(out, "PNG"):
        raise OSError(f"{out}: could not save the screenshot")
    widget.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="PNG file to write")
    parser.add_argument("--url", default=None)
    parser.add_argument("--token", default=None)
    parser.add_argument("--select", default=None, help="job id to show selected")
    args = parser.parse_args(argv)
    print(grab(args.url, args.token, args.out, select=args.select))
    return 0


if __name__ == "__main__":
    sys.exit(main())
