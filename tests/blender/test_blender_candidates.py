"""A `--candidates` relight from Blender (bpy 5.0.1 and 4.5 LTS) against a real server on a tiny random LTX-Video:
the contact sheet as an image, the candidates box's report, and a picked candidate rendered at full quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import plates
import pytest
from blender_support import BPY_VERSIONS, bpy_python
from server_support import TOKEN

from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

pytestmark = [pytest.mark.blender, pytest.mark.parametrize("version", sorted(BPY_VERSIONS))]
SCENARIO = Path(__file__).with_name("scenarios_candidates.py")
MARKER = "SCENARIO-RESULT "


@pytest.fixture(scope="module")
def tiny_ltx(blender_server) -> str:
    _, root = blender_server
    folder = root / "models" / "ltx-candidates"
    if not folder.is_dir():
        command = [sys.executable, "-m", "dreamplate.cli", "models", "init-random", "ltx", str(folder)]
        subprocess.run(command, check=True, capture_output=True, timeout=120)
    return str(folder)


def test_candidates_sheet_choice_and_pick(version, blender_server, extension_zip, tiny_ltx) -> None:
    server, root = blender_server
    work = root / f"candidates-{version}"
    work.mkdir()
    plate = Path(plates.write_plate(work / "plate", range(1, 4), (48, 32))).parent
    command = [str(bpy_python(version)), str(SCENARIO), "candidates", "--url", server.url, "--token", TOKEN,
               "--work", str(work), "--zip", str(extension_zip), "--plate", str(plate)]  # fmt: skip
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(work / "blender-user"), "DREAMPLATE_TEST_MODEL": tiny_ltx}
    env.pop("DREAMPLATE_TOKEN", None)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    assert done.returncode == 0 and lines, f"bpy {version}:\n{(done.stdout + done.stderr)[-4000:]}"
    result = json.loads(lines[-1][len(MARKER) :])
    assert result["first"] == {"result": ["FINISHED"]} and result["picked"] == {"result": ["FINISHED"]}
    report = result["report"]
    assert sorted(report["ranking"]) == [1, 2] and report["chosen"] == report["winner"]
    assert result["image"] is not None and result["image"]["size"][0] > 0
    assert [chosen for _, _, chosen in result["rows"]] == [n == report["winner"] for n in (1, 2)]
    assert result["chosen_after_pick"] == result["other"]
    # Three panels (Sequencer, Compositor, Image) each draw the box: the sheet and a Render button per candidate.
    assert result["drawn_errors"] == [] and result["drawn_icons"] == 3
    assert result["drawn_buttons"] >= 3 * 2
    # Each Blender job writes to a folder of its own: the picked render's drafts are made again there, with the same
    # seeds, so candidate K is the same candidate.
    first_report = json.loads(Path(report["contact_sheet"]).with_suffix(".json").read_text())
    data = json.loads(Path(result["picked_sheet"]).with_suffix(".json").read_text())
    assert [c["settings"] for c in data["candidates"]] == [c["settings"] for c in first_report["candidates"]]
    picked = next(c for c in data["candidates"] if c["number"] == result["other"])
    output = Path(data["output"])
    first = sorted(output.parent.glob(output.name.replace("####", "*")))[0]
    assert Provenance.from_attributes(read_exr(first).attributes).seed == picked["settings"]["seed"]
