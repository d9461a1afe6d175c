"""The candidates of a `--candidates` render in the node: the contact sheet, a choice of candidate, a re-render.

After a render whose report exists (`candidate_report`), the node gains a `candidates` tab: the contact sheet's
path and a Read of it beside the node (`<node>_candidates`), a menu of the candidates with the one rendered in full
chosen (the winner unless one was picked), and a button rendering the chosen one at full quality: the node's own
settings with `pick` set, so the server finds the drafts on disk and renders only that candidate.
Touches Nuke only on the main thread (called from `render.apply_result`).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

import nuke

from dreamplate_nuke import candidate_report, nodes, prefs

log = logging.getLogger(__name__)

TAB = "dp_candidates_tab"
MENU = "dp_candidate"
SHEET = "dp_contact_sheet"
BUTTON = "dp_render_candidate"
RENDER_CANDIDATE_SCRIPT = "import dreamplate_nuke.candidates\ndreamplate_nuke.candidates.render_candidate(nuke.thisNode())"


def show(group: Any, output: str) -> Optional[Dict[str, Any]]:
    """Show the candidates of the render whose output is `output` (a client path); None when it made none."""
    report = candidate_report.load(output, prefs.load().maps)
    if report is None:
        return None
    if group.knob(MENU) is None:
        group.addKnob(nuke.Tab_Knob(TAB, "candidates"))
        group.addKnob(nuke.File_Knob(SHEET, "contact sheet"))
        group.addKnob(nuke.Enumeration_Knob(MENU, "candidate", candidate_report.items(report)))
        button = nuke.PyScript_Knob(BUTTON, "Render candidate", RENDER_CANDIDATE_SCRIPT)
        button.setTooltip("Render the chosen candidate at full quality (its seed and settings; drafts are reused)")
        group.addKnob(button)
    group[MENU].setValues(candidate_report.items(report))
    group[MENU].setValue(candidate_report.chosen_item(report))
    sheet = report.get("contact_sheet") or ""
    group[SHEET].setValue(sheet)
    if sheet:
        _sheet_read(group, sheet)
    return report


def _sheet_read(group: Any, sheet: str) -> Any:
    """A Read of the contact sheet at the script's top level, named after the node, made once."""
    name = "{}_candidates".format(group.name())
    root = nuke.root()
    root.begin()
    try:
        read = nuke.toNode(name)
        if read is None:
            read = nuke.nodes.Read(file=sheet)  # the usual idiom: Nuke opens the file and takes its format
            read.setName(name)
        else:
            # A later --pick render of the same drafts leaves the same picture; only the path could differ.
            read["file"].setValue(sheet)
    finally:
        root.end()
    return read


def render_candidate(group: Any = None, block: Optional[bool] = None) -> Any:
    """Render the candidate chosen in the node's menu at full quality: the node's settings with `pick` set."""
    from dreamplate_nuke import render  # render imports this module for its result hook

    group = group if group is not None else nuke.thisNode()
    number = candidate_report.number_of(group[MENU].value())
    fields = {f["name"]: f for f in (nodes.op_of(group) or {}).get("fields", [])}
    for name, value in (("pick", str(number)), ("drafts_only", False)):
        field = fields.get(name)
        if field is None or field.get("place") != "knob":
            raise render.RenderError("{}: this operation has no {} setting".format(group.name(), name))
        knob = group[field["knob"]]
        knob.setValue(value if knob.Class() != "Enumeration_Knob" else str(value).lower())
    log.info("dreamplate %s: rendering candidate %d", group.name(), number)
    return render.render_node(group, block=block)
