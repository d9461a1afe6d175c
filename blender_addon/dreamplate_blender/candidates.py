"""The candidates of a `--candidates` job in Blender: the contact sheet as an image, a choice, a re-render.

After a job whose settings asked for candidates, `after_job` loads the contact sheet beside the output into an
image datablock (`<label> candidates`, for the Image Editor) and keeps the report; `draw` shows a box in the
dreamplate panels with the sheet's preview and one row per candidate, the one rendered in full marked, each with a
button that opens the same operation's dialog with `pick` set to that candidate (the server reuses the drafts and
renders only that one at full quality). Main thread only.
"""

from __future__ import annotations

from typing import Any

import bpy

from . import candidate_report, prefs

LAST: dict[str, Any] = {}
"""The latest candidates job: `report`, `op` (its description), `image` (the sheet's datablock name), `label`."""


def after_job(context: bpy.types.Context, op: dict[str, Any], spec: dict[str, Any], label: str) -> str:
    """Keep and show the candidates of the finished job `spec` (as submitted); the text to add to its report line."""
    params = spec.get("params") or {}
    if int(params.get("candidates") or 1) < 2:
        return ""
    paths = prefs.path_map(context)
    report = candidate_report.load(paths.to_client(spec["output"]), paths)
    if report is None:
        return ""
    name = f"{label} candidates"
    image = bpy.data.images.get(name)
    sheet = report.get("contact_sheet")
    if sheet:
        if image is None:
            image = bpy.data.images.load(sheet, check_existing=False)
            image.name = name
        else:
            image.filepath = sheet
            image.reload()
    LAST.clear()
    LAST.update(report=report, op=op, image=image.name if image is not None else None, label=label)
    chosen = int(report.get("chosen") or report["winner"])
    return f"; candidate {chosen} of {len(report['candidates'])} (contact sheet: image '{name}')"


def draw(layout: bpy.types.UILayout) -> None:
    """The latest candidates box: the sheet, and a button per candidate re-rendering it with `pick` set."""
    report = LAST.get("report")
    if not report:
        return
    op = LAST["op"]
    cls = getattr(bpy.types, f"DREAMPLATE_OT_{op['name']}", None)
    box = layout.box()
    box.label(text=f"Candidates: {LAST['label']}")
    image = bpy.data.images.get(LAST["image"] or "")
    if image is not None:
        image.preview_ensure()
        box.template_icon(icon_value=image.preview.icon_id, scale=6.0)
    settings = {s.name: s for s in getattr(cls, "dp_settings", ())}
    for number, text, chosen in candidate_report.rows(report):
        row = box.row(align=True)
        row.label(text=text, icon="CHECKMARK" if chosen else "BLANK1")
        if cls is None or "pick" not in settings:
            continue
        props = row.operator(f"dreamplate.{op['name']}", text="Render")
        pick = settings["pick"]
        setattr(props, pick.prop, number)
        if pick.toggle is not None:
            setattr(props, pick.toggle, True)
        candidates = settings.get("candidates")
        if candidates is not None:
            rounds = report.get("rounds") or []
            per_round = len(rounds[0]["seeds"]) if rounds else len(report["candidates"])
            setattr(props, candidates.prop, per_round)
