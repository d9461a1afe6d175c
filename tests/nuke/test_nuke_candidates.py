"""A `--candidates` relight in Nuke through the stub and a real server (tiny random LTX-Video): the contact sheet,
the candidate menu (the winner chosen), and the chosen candidate re-rendered at full quality."""

from __future__ import annotations

import json
from pathlib import Path

import nuke
import pytest
from dreamplate_nuke import candidate_report, candidates, mapping, nodes
from nuke_support import job_of, make_read, press_render
from plates import write_plate

from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (64, 48)


def _seed_of(output: str, frame: int) -> int:
    return Provenance.from_attributes(read_exr(Path(mapping.frame_path(output, frame))).attributes).seed


def test_candidates_show_the_sheet_and_render_the_chosen_one(script: Path, tiny_ltx: str) -> None:
    plate = write_plate(script / "plate", range(1001, 1004), SIZE)
    make_read(plate, 1001, 1003)
    node = nodes.create("Relight")
    for name, value in (("prompt", "dusk"), ("model", tiny_ltx), ("steps", 2), ("candidates", 2), ("refine", "0")):
        node[name].setValue(value)

    press_render(node, timeout=120)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    output = job_of(node)["spec"]["output"]
    report = json.loads(Path(candidate_report.report_path(output)).read_text())
    menu = node[candidates.MENU]
    assert len(menu.values()) == 2 and menu.value() == candidate_report.chosen_item(report)
    assert menu.value().startswith("#{} ".format(report["winner"])) and menu.value().endswith("(best)")
    sheet = nuke.toNode(node.name() + "_candidates")
    assert sheet is not None and sheet["file"].value() == report["contact_sheet"] == node[candidates.SHEET].value()
    winner = next(c for c in report["candidates"] if c["number"] == report["winner"])
    assert _seed_of(output, 1002) == winner["settings"]["seed"]

    other = next(item for item in menu.values() if not item.endswith("(best)"))
    menu.setValue(other)
    node[candidates.BUTTON].execute()
    nuke.pump(until=lambda: node["status"].value().startswith(("done", "job", "error")), timeout=120)
    nuke.pump(until=lambda: job_of(node)["state"] == "done" and node["status"].value().startswith("done"), timeout=60)
    params = job_of(node)["spec"]["params"]
    number = candidate_report.number_of(other)
    assert params["pick"] == number and params["candidates"] == 2
    picked = next(c for c in report["candidates"] if c["number"] == number)
    assert _seed_of(output, 1002) == picked["settings"]["seed"]
    assert node[candidates.MENU].value() == other  # the menu now shows the candidate rendered in full


def test_report_path_and_menu_items_are_host_free() -> None:
    assert candidate_report.report_path("/s/relit.####.exr") == "/s/relit.candidates.json"
    assert candidate_report.report_path("/s/relit.%04d.exr") == "/s/relit.candidates.json"
    report = {
        "winner": 2,
        "chosen": 2,
        "candidates": [
            {"number": 1, "overall": 0.4, "caught_by": "temporal", "settings": {"seed": 0}},
            {"number": 2, "overall": 0.9, "caught_by": None, "settings": {"seed": 1}},
        ],
    }
    assert candidate_report.items(report) == ["#1 seed 0: 0.400 (caught by temporal)", "#2 seed 1: 0.900 (best)"]
    assert candidate_report.chosen_item(report) == "#2 seed 1: 0.900 (best)"
    with pytest.raises(mapping.SpecError, match="names no candidate"):
        candidate_report.number_of("")
