"""The `/v1` routes through FastAPI's TestClient: jobs run for real in the app's worker thread."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from server_support import interpolate_job, wait_job, write_plate

from dreamplate import __version__
from dreamplate.io.exr import read_exr


def test_health_answers_version(api) -> None:
    response = api.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_ops_publish_each_operation_with_its_settings_and_version(api) -> None:
    response = api.get("/v1/ops")
    body = response.json()
    assert body["schema"] == "dreamplate.ops/1"
    assert response.headers["etag"] == f'"{body["version"]}"' and len(body["version"]) == 16
    assert set(body["job_schema"]["required"]) >= {"inputs", "output"}
    ops = {op["name"]: op for op in body["ops"]}
    assert list(ops)[:4] == ["interpolate", "relight", "sketch", "keyframes"]
    assert {"matte", "edges"} <= set(ops)
    interpolate = ops["interpolate"]
    properties = interpolate["params_schema"]["properties"]
    assert "factor" in properties and "method" in properties
    assert "inputs" not in properties and "output" not in properties  # the job's own fields, not settings
    assert interpolate["summary"] and interpolate["title"] == "Interpolate"
    strength = next(f for f in ops["relight"]["fields"] if f["name"] == "strength")
    bounds = (strength["default"], strength["minimum"], strength["maximum"], strength["type"])
    assert bounds == (0.5, 0.0, 1.0, "number")
    assert {f["name"]: f["kind"] for f in ops["relight"]["fields"]}["model"] == "model"
    assert api.get("/v1/ops/relight").json() == ops["relight"]
    assert api.get("/v1/ops/paint").status_code == 404


def test_models_lists_what_jobs_may_name_and_what_is_warm(api, tmp_path, monkeypatch) -> None:
    from dreamplate.gen import models

    registry = {"broken": str(tmp_path / "gone")}
    monkeypatch.setattr(models, "registered_models", lambda: {k: Path(v) for k, v in registry.items()})
    body = api.get("/v1/models").json()
    assert isinstance(body["loaded"], list) and body["max_loaded"] >= 1
    assert {m["name"] for m in body["learned"]} == {"rife-hdv3", "rife-v4"}
    assert [m["default"] for m in body["learned"] if m["name"] == "rife-hdv3"] == [True]
    assert body["generative"][0]["name"] == "broken" and "gone" in body["generative"][0]["error"]


def test_openapi_docs_describe_the_job_routes(api) -> None:
    paths = api.get("/v1/openapi.json").json()["paths"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel", "/v1/jobs/{job_id}/events"} <= set(paths)
    assert api.get("/v1/docs").status_code == 200


def test_submitted_job_runs_to_done_with_every_frame_written(api, root: Path) -> None:
    plate = write_plate(root / "plate", count=3)
    response = api.post("/v1/jobs", json=interpolate_job(plate, str(root / "out" / "out.####.exr")))
    assert response.status_code == 201
    job_id = response.json()["id"]
    job = wait_job(api, job_id)
    assert job["state"] == "done", job
    assert (job["frames_done"], job["frames_total"], job["progress"]) == (5, 5, 1.0)
    assert job["error"] is None and job["attempts"] == 1
    for frame in range(1001, 1006):
        assert read_exr(root / "out" / f"out.{frame}.exr").channels["R"].shape == (48, 64)
    listed = api.get("/v1/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    assert api.get("/v1/jobs", params={"state": "done"}).json()["jobs"][0]["id"] == job_id
    assert api.get("/v1/jobs", params={"state": "queued"}).json()["jobs"] == []


def test_failed_job_keeps_its_reason(api, root: Path) -> None:
    missing = str(root / "nothing" / "plate.####.exr")
    job_id = api.post("/v1/jobs", json=interpolate_job(missing, str(root / "out.####.exr"))).json()["id"]
    job = wait_job(api, job_id)
    assert job["state"] == "failed"
    assert "nothing" in job["error"] and "\n" not in job["error"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b"[1, 2]", 422, "must be a JSON object"),
        (json.dumps({"task": "interpolate", "inputs": ["/x.exr"]}).encode(), 422, "job: output: Field required"),
        (json.dumps({"task": "interpolate", "inputs": [], "output": "/o.exr"}).encode(), 422, "job: inputs"),
        (json.dumps({"task": "paint", "inputs": ["/x"], "output": "/y"}).encode(), 422, "operation 'paint': unknown"),
        (json.dumps({"task": "interpolate", "inputs": ["/a"], "output": "/b", "nope": 1}).encode(), 422, "nope"),
    ],
)
def test_bad_requests_get_one_line_4xx_and_the_server_keeps_serving(
    api, root: Path, body: bytes, status: int, message: str
) -> None:
    response = api.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error
    assert api.get("/v1/health").status_code == 200
    assert api.get("/v1/jobs").json()["jobs"] == []  # nothing was stored


def test_bad_task_params_are_refused_before_queueing(api, root: Path) -> None:
    plate = write_plate(root / "plate", count=2)
    response = api.post("/v1/jobs", json=interpolate_job(plate, str(root / "o.####.exr"), factor=0))
    assert response.status_code == 422
    assert response.json()["error"].startswith("interpolate job: factor:")


def test_oversized_body_gets_413_and_the_server_keeps_serving(make_api) -> None:
    api = make_api(max_body_bytes=1000)
    huge = json.dumps({"task": "interpolate", "inputs": ["/x" * 5000], "output": "/y"})
    response = api.post("/v1/jobs", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "1000 byte limit" in response.json()["error"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b" " * 100

    response = api.post("/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert api.get("/v1/health").status_code == 200


def test_unknown_job_is_404(api) -> None:
    for response in (api.get("/v1/jobs/abc"), api.post("/v1/jobs/abc/cancel"), api.get("/v1/jobs/abc/events")):
        assert response.status_code == 404
        assert response.json() == {"error": "job abc: no such job"}


def test_bad_query_is_422(api) -> None:
    assert api.get("/v1/jobs", params={"state": "sleeping"}).status_code == 422
    response = api.get("/v1/jobs", params={"limit": "many"})
    assert response.status_code == 422 and "limit" in response.json()["error"]


def test_cancel_queued_job_is_immediate_and_an_ended_job_is_409(make_api, root: Path) -> None:
    api = make_api(workers=0)  # nothing runs: the job stays queued
    plate = write_plate(root / "plate", count=2)
    job_id = api.post("/v1/jobs", json=interpolate_job(plate, str(root / "o.####.exr"))).json()["id"]
    assert api.get(f"/v1/jobs/{job_id}").json()["state"] == "queued"
    cancelled = api.post(f"/v1/jobs/{job_id}/cancel").json()
    assert cancelled["state"] == "cancelled" and cancelled["cancel_requested"]
    again = api.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["error"]
    assert not list(root.glob("o.*.exr"))


def test_events_stream_progress_until_the_job_ends(api, root: Path) -> None:
    plate = write_plate(root / "plate", count=3)
    job_id = api.post("/v1/jobs", json=interpolate_job(plate, str(root / "out" / "o.####.exr"))).json()["id"]
    events = []
    with api.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind, ident = None, None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("id: "):
                ident = int(line.removeprefix("id: "))
            elif line.startswith("data: "):
                events.append((kind, ident, json.loads(line.removeprefix("data: "))))
                ident = None
    assert events[0][0] == "job" and events[0][2]["id"] == job_id
    progress = [data for kind, _, data in events if kind == "progress"]
    assert [p["done"] for p in progress] == [1, 2, 3, 4, 5]
    assert [p["frame"] for p in progress] == [1001, 1002, 1003, 1004, 1005]
    assert events[-1][0] == "state" and events[-1][2]["state"] == "done"
    ids = [ident for _, ident, _ in events[1:]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # A reconnect after the end with Last-Event-ID sends the snapshot only, then closes.
    with api.stream("GET", f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(ids[-1])}) as response:
        data_lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert len(data_lines) == 1 and json.loads(data_lines[0][6:])["state"] == "done"


def test_cancel_running_job_stops_between_frames_keeping_finished_ones(api, root: Path) -> None:
    plate = write_plate(root / "plate", count=20, size=(128, 96))
    out = root / "out"
    job_id = api.post("/v1/jobs", json=interpolate_job(plate, str(out / "o.####.exr"), threads=1)).json()["id"]
    deadline = time.monotonic() + 20
    while api.get(f"/v1/jobs/{job_id}").json()["frames_done"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    response = api.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    job = wait_job(api, job_id)
    assert job["state"] == "cancelled" and job["error"] is None
    written = sorted(p.name for p in out.iterdir())  # no temp files either: the cancel came between frames
    assert written == [f"o.{frame}.exr" for frame in range(1001, 1001 + job["frames_done"])]
    assert 2 <= job["frames_done"] < job["frames_total"] == 39
