"""Host-free: the report a `--candidates` job leaves beside its output, read for the candidates box.

The engine writes `<output stem>.candidates.json` (schema `dreamplate.judge/1`) and `<stem>.candidates.png` beside
the output; this module finds and reads them and lists the candidates, the one rendered in full first chosen.
Nothing is scored here: the numbers are the server's, shown as they are; the report's paths are the server's and are
mapped back with the add-on's path map.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .mapping import PathMap

REPORT_SCHEMA = "dreamplate.judge/1"
_FRAME_TOKEN = re.compile(r"#+|%0?\d*d|@+")


def report_path(output: str) -> str:
    """`shots/relit.####.exr` -> `shots/relit.candidates.json`: where the engine puts a candidates report."""
    folder, name = os.path.split(output)
    stem = _FRAME_TOKEN.split(name)[0].rstrip("._") if _FRAME_TOKEN.search(name) else os.path.splitext(name)[0]
    return os.path.join(folder, stem + ".candidates.json")


def load(output: str, paths: PathMap | None = None) -> dict[str, Any] | None:
    """The report beside `output` (a local path), its paths mapped to this machine; None when there is none."""
    paths = paths if paths is not None else PathMap()
    try:
        with open(report_path(output), encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        return None
    if report.get("contact_sheet"):
        report["contact_sheet"] = paths.to_client(report["contact_sheet"])
    for candidate in report.get("candidates", []):
        candidate["path"] = paths.to_client(candidate["path"])
    return report


def rows(report: dict[str, Any]) -> list[tuple[int, str, bool]]:
    """(number, text, chosen) per candidate in number order: `#2 seed 1: 0.812 (best)`."""
    winner, chosen = int(report["winner"]), int(report.get("chosen") or report["winner"])
    out = []
    for candidate in sorted(report.get("candidates", []), key=lambda c: c["number"]):
        seed = candidate.get("settings", {}).get("seed")
        text = f"#{candidate['number']}" + ("" if seed is None else f" seed {seed}") + f": {candidate['overall']:.3f}"
        if candidate["number"] == winner:
            text += " (best)"
        elif candidate.get("caught_by"):
            text += f" (caught by {candidate['caught_by']})"
        out.append((candidate["number"], text, candidate["number"] == chosen))
    return out
