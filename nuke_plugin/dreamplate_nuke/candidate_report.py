"""Host-free: the report a `--candidates` render leaves beside its output, read for the node's candidate menu.

The engine writes `<output stem>.candidates.json` (schema `dreamplate.judge/1`) and `<stem>.candidates.png` beside
the output; this module finds and reads them and turns the candidates into menu items, the winner first chosen.
Nothing is scored here: the numbers are the server's, shown as they are. Paths in the report are the server's, so
they are mapped back to this workstation's spelling with the plugin's path maps.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from dreamplate_nuke import mapping

REPORT_SCHEMA = "dreamplate.judge/1"


def report_path(output: str) -> str:
    """`shots/relit.####.exr` -> `shots/relit.candidates.json`: where the engine puts a candidates report."""
    folder, name = os.path.split(output)
    if mapping.FRAME_TOKEN.search(name):
        stem = mapping.FRAME_TOKEN.split(name)[0].rstrip("._")
    else:
        stem = os.path.splitext(name)[0]
    return os.path.join(folder, stem + ".candidates.json")


def load(output: str, maps: mapping.PathMaps = ()) -> Optional[Dict[str, Any]]:
    """The report beside `output` (a client path), its paths mapped to the client; None when there is none."""
    try:
        with open(report_path(output), encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        return None
    if report.get("contact_sheet"):
        report["contact_sheet"] = mapping.to_client(report["contact_sheet"], maps)
    for candidate in report.get("candidates", []):
        candidate["path"] = mapping.to_client(candidate["path"], maps)
    return report


def item(candidate: Dict[str, Any], winner: int) -> str:
    """One menu item: `#2 seed 1: 0.812 (best)` or `#3 seed 2: 0.540 (caught by temporal)`."""
    seed = candidate.get("settings", {}).get("seed")
    text = "#{}{}: {:.3f}".format(candidate["number"], "" if seed is None else " seed {}".format(seed),
                                  float(candidate["overall"]))
    if candidate["number"] == winner:
        return text + " (best)"
    if candidate.get("caught_by"):
        return text + " (caught by {})".format(candidate["caught_by"])
    return text


def items(report: Dict[str, Any]) -> List[str]:
    """Menu items in candidate order."""
    ordered = sorted(report.get("candidates", []), key=lambda c: c["number"])
    return [item(c, int(report["winner"])) for c in ordered]


def chosen_item(report: Dict[str, Any]) -> str:
    """The item of the candidate rendered in full (the winner unless one was picked)."""
    number = int(report.get("chosen") or report["winner"])
    return next(i for i, c in zip(items(report), sorted(report["candidates"], key=lambda c: c["number"]))
                if c["number"] == number)


def number_of(text: str) -> int:
    """The candidate number a menu item names (`#2 seed 1: ...` -> 2); SpecError for anything else."""
    head = text.split(" ", 1)[0]
    if not head.startswith("#") or not head[1:].isdigit():
        raise mapping.SpecError("candidate: {!r} names no candidate; render with candidates 2 or more".format(text))
    return int(head[1:])
