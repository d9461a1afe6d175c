"""The extension in real Blender (bpy 5.0.1 and 4.5 LTS from PyPI) against a real `dreamplate serve` on loopback.

Each test writes its inputs here, runs one scenario of `scenarios.py` in that version's bpy virtualenv (background
mode) and checks the JSON it prints and the files on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import OpenEXR
import plates
import pytest
from blender_support import BPY_VERSIONS, bpy_python
from server_support import TOKEN

pytestmark = [pytest.mark.blender, pytest.mark.parametrize("version", sorted(BPY_VERSIONS))]
SCENARIOS = Path(__file__).with_name("scenarios.py")
MARKER = "SCENARIO-RESULT "


def run_scenario(
    version: str,
    name: str,
    server,
    work: Path,
    zip_path: Path,
    plate: Path | None = None,
    factor: int = 2,
    while_running=None,
) -> dict:
    """Run one scenario in the bpy venv; returns its JSON. `while_running(process)` runs beside it when given."""
    command = [
        str(bpy_python(version)),
        str(SCENARIOS),
        name,
        "--url",
        server.url,
        "--token",
        TOKEN,
        "--work",
        str(work),
        "--zip",
        str(zip_path),
        "--factor",
        str(factor),
    ]
    if plate is not None:
        command += ["--plate", str(plate)]
    # A private user-resources folder: the extension installs there, never into ~/.config/blender.
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(work / "blender-user")}
    env.pop("DREAMPLATE_TOKEN", None)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=work)
    helper = threading.Thread(target=while_running, args=(process,)) if while_running else None
    if helper:
        helper.start()
    output, _ = process.communicate(timeout=240)
    if helper:
        helper.join(60)
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    assert process.returncode == 0 and lines, f"scenario {name} on bpy {version} failed:\n{output[-4000:]}"
    return json.loads(lines[-1][len(MARKER) :])


def _work(root: Path, version: str, name: str) -> Path:
    folder = root / f"{name}-{version}"
    folder.mkdir()
    return folder


def test_register_and_unregister_cleanly(version, blender_server, extension_zip) -> None:
    server, root = blender_server
    result = run_scenario(version, "register", server, _work(root, version, "register"), extension_zip)
    assert result["blender"].startswith(BPY_VERSIONS[version])
    assert len(result["registered"]) == 7 and result["reenabled"] == result["registered"]
    assert result["after_disable"] == [] and result["after_second_disable"] == []
    assert result["client_vendored"] is True  # the zip's own copy of the client, not a dreamplate install
    assert result["prefs_url"] == server.url


def test_interpolate_relight_and_compositor_end_to_end(version, blender_server, extension_zip) -> None:
    server, root = blender_server
    work = _work(root, version, "interp")
    plates.write_plate(work / "plate", range(1001, 1005), (64, 48))  # 4 frames, tagged ACEScg
    result = run_scenario(version, "interpolate", server, work, extension_zip, plate=work / "plate", factor=3)
    assert result["interpolate"] == {"result": ["FINISHED"]}, result["interpolate"]
    source, strips = result["source"], result["strips"]
    new = strips["plate interpolate"]
    # Factor 3 on 4 frames: 3 gaps x 3 + 1 = 10 frames, sped up 3x so the strip spans the source's 4 frames.
    assert len(new["elements"]) == 10
    assert (new["start"], new["end"], new["duration"]) == (source["start"], source["end"], 4)
    assert new["channel"] == source["channel"] + 1
    assert new["colorspace"] == "ACEScg"
    files = sorted(Path(new["directory"]).glob("*.exr"))
    assert [f.name for f in files] == new["elements"]
    header = OpenEXR.File(str(files[1])).header()
    assert header["colorInteropID"] == "lin_ap1_scene"  # tagged by the server in the space the job was told
    # Relight at strength 0 needs no model: the plate comes back on the next free channel, same frames and timing.
    assert result["relight"] == {"result": ["FINISHED"]}, result["relight"]
    relit = strips["plate relight"]
    assert (relit["start"], relit["end"], relit["channel"]) == (source["start"], source["end"], new["channel"] + 1)
    assert len(relit["elements"]) == 4 and relit["colorspace"] == "ACEScg"
    # The compositor: an Image node of the 7-frame (factor 2) result beside the original.
    assert result["compositor"] == {"result": ["FINISHED"]}, result["compositor"]
    (node,) = result["nodes"]
    assert node["duration"] == 7 and node["source"] == "SEQUENCE" and node["colorspace"] == "ACEScg"
    assert Path(node["image"]).is_file()


def test_scene_render_is_sent_as_sketch_input(version, blender_server, extension_zip) -> None:
    """No generative model exists here: the render and the job go out, and the server's refusal comes back as is."""
    server, root = blender_server
    work = _work(root, version, "sketch")
    plates.write_plate(work / "plate", range(1, 3), (32, 24))
    result = run_scenario(version, "scene_sketch", server, work, extension_zip, plate=work / "plate")
    assert "sketch needs a prompt and a model" in result["no_model"]["error"]  # refused at submit (422)
    assert "no-such-model: no such directory" in result["missing_model"]["error"]  # the job ran and failed
    assert "no-such-model" in result["keyframes"]["error"]
    assert result["render_settings_restored"] == "PNG"
    renders = sorted((work / "out").glob("Scene_sketch_*/input/render.*.exr"))
    assert len(renders) == 6  # 3 frames, rendered for each of the two attempts
    channels = OpenEXR.File(str(renders[0])).channels()
    assert {str(c.pixels.dtype) for c in channels.values()} == {"float16"}  # half, as Blender wrote it
    jobs = _jobs(server)
    failed = [
        j for j in jobs if j["task"] == "sketch" and j["state"] == "failed" and str(work) in j["spec"]["inputs"][0]
    ]
    assert failed and failed[0]["spec"]["params"]["colorspace"] == "lin_rec709_scene"  # Blender's working space


def test_cancel_a_running_job(version, blender_server, extension_zip) -> None:
    server, root = blender_server
    work = _work(root, version, "cancel")
    plates.write_plate(work / "plate", range(1, 5), (320, 240))

    def cancel_the_operators_job(process: subprocess.Popen) -> None:
        """Once the operator's job runs, cancel it from outside (as the panel's button or another client would)."""
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            running = [j for j in _jobs(server, "running") if str(work) in j["spec"]["inputs"][0]]
            mine = [j for j in running if "/cancel/" not in j["spec"]["output"] and (j.get("frames_done") or 0) >= 1]
            if mine:
                _post(server, f"/v1/jobs/{mine[0]['id']}/cancel")
                return
            time.sleep(0.05)

    result = run_scenario(
        version,
        "cancel",
        server,
        work,
        extension_zip,
        plate=work / "plate",
        factor=20,
        while_running=cancel_the_operators_job,
    )
    assert result["running_when_escaped"] == "running"
    assert result["state"] == "cancelled" and result["board"] == "cancelled"
    assert result["frames_done"] < result["frames_total"] == 61
    assert _get(server, f"/v1/jobs/{result['job_id']}")["state"] == "cancelled"
    assert result["operator"] == {"result": ["CANCELLED"]}  # a cancel, not an error report
    assert result["strips_added"] == 0


def _get(server, path: str) -> dict:
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _post(server, path: str) -> dict:
    request = urllib.request.Request(
        server.url + path,
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _jobs(server, state: str | None = None) -> list[dict]:
    return _get(server, "/v1/jobs" + (f"?state={state}" if state else ""))["jobs"]
