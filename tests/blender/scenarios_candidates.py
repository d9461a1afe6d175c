"""The `--candidates` scenario, run inside a bpy virtualenv like those of scenarios.py (whose helpers it uses).

    .venv-bpy/5.0/bin/python tests/blender/scenarios_candidates.py candidates --url URL --token T --work DIR \
        --zip ZIP --plate DIR --factor 0   # the model folder in $DREAMPLATE_TEST_MODEL

A relight strip with `candidates=2`: the contact sheet lands as an image datablock and the candidates box is kept;
then candidate K (not the winner) is rendered as the box's button does (the same operator, `pick` set).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import bpy
import scenarios
from scenarios import configure, extension, install, plate_strip, run_op


def scenario_candidates(args: argparse.Namespace) -> dict[str, Any]:
    configure(args)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 100
    source = plate_strip(scene, Path(args.plate))
    common = {"prompt": "dusk", "model": os.environ["DREAMPLATE_TEST_MODEL"], "steps": 2, "candidates": 2, "refine": 0}
    out: dict[str, Any] = {"first": run_op(bpy.ops.dreamplate.relight, **common)}
    last = extension("candidates").LAST
    report = last.get("report") or {}
    out["report"] = {k: report.get(k) for k in ("winner", "chosen", "ranking", "contact_sheet")}
    out["rows"] = extension("candidate_report").rows(report) if report else []
    image = bpy.data.images.get(last.get("image") or "")
    out["image"] = {"name": image.name, "size": list(image.size)} if image is not None else None
    drawn = scenarios.draw_everything(["relight"])  # the candidates box in every panel, checked call by call
    out["drawn_errors"] = drawn["errors"]
    out["drawn_buttons"] = sum(call == "operator:dreamplate.relight" for call in drawn["calls"])
    out["drawn_icons"] = sum(call.startswith("template_icon") for call in drawn["calls"])
    other = next(number for number in report.get("ranking", []) if number != report["winner"])
    scene.sequence_editor.active_strip = source
    out["picked"] = run_op(bpy.ops.dreamplate.relight, **common, pick=other, use_pick=True)
    out["other"] = other
    after = extension("candidates").LAST.get("report") or {}
    out["chosen_after_pick"], out["picked_sheet"] = after.get("chosen"), after.get("contact_sheet")
    out["strips"] = [s.name for s in extension("compat").all_strips(scene)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["candidates"])
    for name in ("--url", "--token", "--work", "--zip"):
        parser.add_argument(name, required=True)
    parser.add_argument("--plate", default="")
    parser.add_argument("--factor", type=int, default=2)
    args = parser.parse_args()
    install(args.zip)
    result = scenario_candidates(args)
    result["blender"] = bpy.app.version_string
    print(scenarios.MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
