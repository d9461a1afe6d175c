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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import OpenEXR
import plates
import pytest
from blender_support import BPY_VERSIONS, bpy_python
from ops_support import THROWAWAY
from server_support import TOKEN

from dreamplate.ops import OPS
from dreamplate.ops.registry import OpRegistry, describe_ops

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


_RESULTS: dict[tuple[str, str], dict] = {}


def _once(version: str, name: str, run) -> dict:
    """A scenario's result, run once per bpy version however many tests read it."""
    if (version, name) not in _RESULTS:
        _RESULTS[(version, name)] = run()
    return _RESULTS[(version, name)]


def _register_result(version, blender_server, extension_zip) -> dict:
    server, root = blender_server
    return _once(
        version,
        "register",
        lambda: run_scenario(version, "register", server, _work(root, version, "register"), extension_zip),
    )


def test_register_and_unregister_cleanly(version, blender_server, extension_zip) -> None:
    server, _ = blender_server
    result = _register_result(version, blender_server, extension_zip)
    declared = describe_ops()
    names = [op["name"] for op in declared["ops"]]
    assert result["blender"].startswith(BPY_VERSIONS[version])
    # Installed with no cache and no server: the job list's classes only; the server's operations once it answers.
    assert len(result["static_before_fetch"]) == 6 and result["ops_before_fetch"] == []
    assert result["ops"] == names and result["source"] == "server" and result["version"] == declared["version"]
    assert result["registered"] == [f"DREAMPLATE_OT_{name}" for name in names]
    assert f"ops-{declared['version']}.json" in result["cache_files"]
    assert result["after_disable"] == [] and result["after_second_disable"] == []
    # Enabled again with the server gone: the same operators from the cache; a refresh reports the network's line.
    assert result["offline_registered"] == result["registered"] and result["offline_source"] == "cache"
    assert "cannot reach the dreamplate server at http://127.0.0.1:9" in result["offline_refresh"]["error"]
    assert result["offline_after_refresh"] == result["registered"]
    assert result["client_vendored"] is True  # the zip's own copy of the client, not a dreamplate install
    assert result["prefs_url"] == server.url


def test_dialogs_and_panels_draw_from_the_description(version, blender_server, extension_zip) -> None:
    """Background Blender draws nothing, so each draw runs into a layout that checks its calls against UILayout."""
    drawn = _register_result(version, blender_server, extension_zip)["drawn"]
    assert drawn["errors"] == []
    calls = drawn["calls"]
    relight = calls[calls.index("dialog:relight") : calls.index("dialog:sketch")]
    assert "prop:source" in relight and "prop:strength" in relight and "prop:prompt" in relight
    assert relight.index("label:Advanced") < relight.index("prop:guidance")  # advanced settings fold away
    assert "prop:use_window" in relight and relight[-1] == "prop:output_dir"
    sequencer = calls[calls.index("panel:DREAMPLATE_PT_sequencer") : calls.index("panel:DREAMPLATE_PT_compositor")]
    buttons = [c for c in sequencer if c.startswith("operator:dreamplate.")]
    assert buttons[:3] == ["operator:dreamplate.interpolate"] * 2 + ["operator:dreamplate.relight"]
    assert "operator:dreamplate.keyframes" in buttons


def _mismatches(op: dict, properties: dict, settings: dict) -> list[str]:
    """Where the operator Blender registered differs from the operation's declaration: defaults, bounds, choices.

    Written from the description's rules, not the extension's code: a None default is a tick box left off (numbers,
    integers, switches), an empty string, or the "server default" item of a choice.
    """
    found = []
    for field in op["fields"]:
        if field["kind"] == "keyframes":
            continue  # filled from two images or strips, not a property
        where = f"{op['name']}.{field['name']}"
        prop, toggle = settings[field["name"]]
        got, default = properties[prop], field["default"]
        if toggle is not None and properties[toggle]["default"] is not (default is not None):
            found.append(f"{where}: tick box {toggle} defaults to {properties[toggle]['default']}")
        kind = field["type"]
        if kind in ("boolean", "integer", "number"):
            if default is None:
                pass  # the tick box, above, says the server decides
            elif got["default"] is not default if kind == "boolean" else abs(got["default"] - default) > 1e-6:
                found.append(f"{where}: {got['default']!r} != {default!r}")
        elif kind == "choice":
            items = [c if isinstance(c, str) else json.dumps(c) for c in field["choices"]]
            wanted = "__server_default__" if default is None else items[field["choices"].index(default)]
            if got["default"] != wanted or got["items"] != (["__server_default__"] if default is None else []) + items:
                found.append(f"{where}: {got['default']!r} of {got['items']} != {default!r} of {field['choices']}")
        elif kind in ("string", "text") and got["default"] != (default if isinstance(default, str) else ""):
            found.append(f"{where}: {got['default']!r} != {default!r}")
        for bound, key in (("minimum", "min"), ("maximum", "max")):
            if field.get(bound) is not None and kind in ("integer", "number"):
                limit = max(-(2**31), min(2**31 - 1, field[bound])) if kind == "integer" else field[bound]
                if abs(got[key] - limit) > 1e-6 * max(1.0, abs(limit)):
                    found.append(f"{where}: {key} {got[key]!r} != {field[bound]!r}")
        if field["kind"] in ("file", "frame_pattern") and got["subtype"] != "FILE_PATH":
            found.append(f"{where}: subtype {got['subtype']}, not a file path")
    return found


def test_operator_defaults_are_the_declared_ones(version, blender_server, extension_zip) -> None:
    """Every setting of every operation: the registered operator's default, bounds and choices are the declaration's."""
    result = _register_result(version, blender_server, extension_zip)
    declared = {op["name"]: op for op in describe_ops()["ops"]}
    mismatches = [
        line
        for name, op in declared.items()
        for line in _mismatches(op, result["properties"][name], result["settings"][name])
    ]
    assert mismatches == []
    # The drift that started this: Blender's relight strength was 0.4 while the CLI and Nuke had 0.5.
    assert result["properties"]["relight"]["strength"]["default"] == declared["relight"]["defaults"]["strength"] == 0.5


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


# --- a server that answers slowly, describing an operation made up here ----------------------------------------------


SLOW_SECONDS = {"ops": 5.0, "poll": 5.0, "submit": 2.0, "cancel": 2.0}
"""How long the stub takes per request; health and models answer at once."""


def throwaway_description() -> dict:
    """The real operations' description plus the throwaway one, as `describe_ops` writes it (no global change)."""
    registry = OpRegistry()
    for op in OPS:
        registry.register(op)
    registry.register(THROWAWAY)
    return describe_ops(registry)


class SlowServer:
    """A stand-in for `dreamplate serve` on 127.0.0.1 that takes seconds per request and records what it gets.

    A job runs until it is cancelled (then it says so), or fails on its third poll, so no test waits unboundedly.
    """

    def __init__(self, description: dict) -> None:
        self.description = description
        self.jobs: dict[str, dict] = {}
        self.cancelled: set[str] = set()
        self.polls: dict[str, int] = {}
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet: the test reads what the stub records
                pass

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self.answer(401, {"error": "missing or wrong token"})
                return False

            def do_GET(self) -> None:
                if self.path == "/v1/health":
                    return self.answer(200, {"status": "ok", "version": "slow stub"})
                if not self.authorised():
                    return None
                if self.path == "/v1/ops":
                    time.sleep(SLOW_SECONDS["ops"])
                    return self.answer(200, stub.description)
                if self.path == "/v1/models":
                    return self.answer(200, {"learned": [], "generative": [{"name": "stub-model"}]})
                job_id = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/v1/jobs/") and job_id in stub.jobs:
                    time.sleep(SLOW_SECONDS["poll"])
                    return self.answer(200, stub.snapshot(job_id))
                return self.answer(404, {"error": f"{self.path}: not here"})

            def do_POST(self) -> None:
                if not self.authorised():
                    return None
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path == "/v1/jobs":
                    time.sleep(SLOW_SECONDS["submit"])
                    with stub.lock:
                        job_id = f"stub-{len(stub.jobs) + 1}"
                        stub.jobs[job_id] = body
                    return self.answer(201, {"id": job_id})
                job_id = self.path.split("/")[-2] if self.path.endswith("/cancel") else ""
                if job_id in stub.jobs:
                    time.sleep(SLOW_SECONDS["cancel"])
                    stub.cancelled.add(job_id)
                    return self.answer(200, {**stub.snapshot(job_id, poll=False), "cancel_requested": True})
                return self.answer(404, {"error": f"{self.path}: not here"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self, job_id: str, poll: bool = True) -> dict:
        with self.lock:
            polls = self.polls[job_id] = self.polls.get(job_id, 0) + (1 if poll else 0)
        job = {"id": job_id, "task": self.jobs[job_id]["task"], "frames_done": 1, "frames_total": 4, "progress": 0.25}
        if job_id in self.cancelled and poll:
            return {**job, "state": "cancelled"}
        if polls >= 3:
            return {**job, "state": "failed", "error": "slow stub: gave up after three polls"}
        return {**job, "state": "running"}

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _slow_result(version: str, blender_server, extension_zip) -> tuple[dict, SlowServer]:
    _, root = blender_server

    def run() -> tuple[dict, SlowServer]:
        work = _work(root, version, "slow")
        plates.write_plate(work / "plate", range(1, 5), (32, 24))
        stub = SlowServer(throwaway_description())
        try:
            result = run_scenario(version, "slow", stub, work, extension_zip, plate=work / "plate")
        finally:
            stub.stop()
        return result, stub

    return _once(version, "slow", run)


def test_timer_ticks_stay_short_while_the_server_takes_seconds(version, blender_server, extension_zip) -> None:
    """Every request takes 2 to 5 s, yet no timer tick (description fetch, job follow) reaches 20 ms."""
    result, stub = _slow_result(version, blender_server, extension_zip)
    assert result["fetch_seconds"] >= SLOW_SECONDS["ops"] and result["catalog_ticks"] > 50
    assert result["catalog_longest_tick"] < 0.020, result["catalog_longest_tick"]
    # submit, a poll (running: Esc), the cancel, a poll (cancelled): every one slow, all on the job's worker.
    slowest = SLOW_SECONDS["submit"] + 2 * SLOW_SECONDS["poll"] + SLOW_SECONDS["cancel"]
    assert result["job_seconds"] >= slowest and result["job_ticks"] > 100
    assert result["job_longest_tick"] < 0.020, result["job_longest_tick"]
    assert result["operator"] == {"result": ["CANCELLED"]}, result["operator"]  # a cancel, not an error
    assert list(stub.cancelled) == ["stub-1"] and stub.polls["stub-1"] == 2


def test_an_operation_added_in_one_place_becomes_an_operator(version, blender_server, extension_zip) -> None:
    """The throwaway operation exists only in this test's description; Blender gets it with its settings."""
    result, stub = _slow_result(version, blender_server, extension_zip)
    op = next(op for op in throwaway_description()["ops"] if op["name"] == "dp_test_throwaway")
    made = result["throwaway"]
    assert made["label"] == "Throwaway"
    assert _mismatches(op, made["properties"], made["settings"]) == []
    assert made["settings"]["source"] == ["source_setting", None]  # `source` is the extension's own property
    assert made["settings"]["limit"] == ["limit", "use_limit"]
    assert made["properties"]["scale"]["items"] == ["auto", "1.0", "0.5"]
    assert result["model_suggestions"] == ["stub-model"]  # the model field's menu, from GET /v1/models
    # The job sends what was set and what Blender's data says (the strip's range, its colour space), nothing else.
    (job,) = stub.jobs.values()
    assert job["task"] == "dp_test_throwaway" and job["inputs"][0].endswith("plate.####.exr")
    assert job["params"] == {"passes": 9, "look": "neon", "limit": 4, "frames": "1-4", "colorspace": "lin_ap1_scene"}
