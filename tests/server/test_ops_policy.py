"""The server's path policy comes from the declarations: every path- or model-valued setting of every operation is
refused outside the roots, and a new operation is published and covered with no server change."""

from __future__ import annotations

from pathlib import Path

import pytest
from ops_support import NAME, throwaway_op

from dreamplate.ops import OPS
from dreamplate.ops.fields import PATH_KINDS
from dreamplate.ops.registry import describe_op

CHECKED_KINDS = (*PATH_KINDS, "model")


def _path_settings() -> list[tuple[str, str]]:
    """(operation, setting) for every declared path or model setting, the job's inputs and output included."""
    cases = []
    for op in OPS:
        # An operation without a positional argument (keyframes) takes its inputs from a setting checked below.
        cases += [(op.name, "inputs"), (op.name, "output")] if op.argument else [(op.name, "output")]
        cases += [(op.name, f["name"]) for f in describe_op(op)["fields"] if f["kind"] in CHECKED_KINDS]
    return cases


REQUIRED_CHOICES = {"reframe": {"aspect": "9:16"}, "extend": {"after": 24}}
"""Settings an operation needs one of (reframe: --aspect or --size; extend: --after, --before or --seconds) that no
declaration marks required."""


def _valid_job(op_name: str, root: Path) -> dict:
    """A job of `op_name` whose every path lies inside `root` (the server accepts it)."""
    plate = str(root / "plate" / "plate.####.exr")
    kinds = {f["name"]: f["kind"] for f in describe_op(OPS.get(op_name))["fields"]}
    fields = set(kinds)
    # A `model` that names a model (not a choice among an operation's own nets, as upscale's) gets a path.
    wanted = {"prompt": "p", "model": str(root / "models" / "m")}
    names_a_model = kinds.get("model") in ("model", "learned_model")
    params = {k: v for k, v in wanted.items() if k in fields and (k != "model" or names_a_model)}
    params |= REQUIRED_CHOICES.get(op_name, {})
    for f in describe_op(OPS.get(op_name))["fields"]:  # a required file setting (paths' --path) gets one in root
        if f["required"] and f["kind"] in PATH_KINDS and f["name"] not in params:
            params[f["name"]] = str(root / f"{f['name']}.json")
    inputs = [plate] if OPS.get(op_name).roles else []  # generate takes none
    job = {"task": op_name, "inputs": inputs, "output": str(root / "out" / "o.####.exr"), "params": params}
    if "keys" in fields:
        keys = {"1001": str(root / "a.exr"), "1010": str(root / "b.exr")}
        job.update(inputs=list(keys.values()), params={**params, "keys": keys})
    return job


def _outside_value(field: str, job: dict, outside: Path):
    if field == "inputs":
        return [str(outside / "plate.####.exr")] * len(job["inputs"])
    if field == "keys":
        return {**job["params"]["keys"], "1010": str(outside / "b.exr")}
    if field == "model":
        return str(outside / "models" / "m")
    return str(outside / f"{field}.####.exr")


@pytest.mark.parametrize(("op_name", "field"), _path_settings())
def test_every_declared_path_setting_is_refused_outside_the_roots(
    api, root: Path, tmp_path: Path, op_name: str, field: str
) -> None:
    outside = tmp_path / "outside"
    job = _valid_job(op_name, root)
    value = _outside_value(field, job, outside)
    if field in ("inputs", "output"):
        bad = {**job, field: value}
    else:
        bad = {**job, "params": {**job["params"], field: value}}
        if field == "keys":
            bad["inputs"] = list(value.values())
    response = api.post("/v1/jobs", json=bad)
    assert response.status_code == 403, response.json()
    assert "outside the server's roots" in response.json()["error"]
    assert api.get("/v1/jobs").json()["jobs"] == []


@pytest.mark.parametrize("op_name", OPS.names())
def test_the_same_jobs_inside_the_roots_are_accepted(api, root: Path, op_name: str) -> None:
    response = api.post("/v1/jobs", json=_valid_job(op_name, root))
    assert response.status_code == 201, response.json()


def test_a_registered_model_outside_every_root_is_refused(api, root: Path, tmp_path: Path, monkeypatch) -> None:
    from dreamplate.gen import models

    registered = {"inside": root / "models" / "wan", "outside": tmp_path / "elsewhere" / "wan"}
    monkeypatch.setattr(models, "registered_models", lambda: registered)
    job = _valid_job("relight", root)
    accepted = api.post("/v1/jobs", json={**job, "params": {**job["params"], "model": "inside"}})
    assert accepted.status_code == 201, accepted.json()
    refused = api.post("/v1/jobs", json={**job, "params": {**job["params"], "model": "outside"}})
    assert refused.status_code == 403
    assert "outside (registered as" in refused.json()["error"] and "models roots" in refused.json()["error"]
    relative = api.post("/v1/jobs", json={**job, "params": {**job["params"], "model": "not-registered"}})
    assert relative.status_code == 403 and "not a registered model" in relative.json()["error"]


def test_a_models_root_admits_models_and_nothing_else(root: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from server_support import TOKEN

    from dreamplate.jobs.store import JobStore
    from dreamplate.server.app import ServerConfig, create_app
    from dreamplate.server.security import PathPolicy

    shelf = tmp_path / "shelf"
    shelf.mkdir()
    store = JobStore.open(tmp_path / "home2")
    policy = PathPolicy([root], model_roots=[shelf])
    config = ServerConfig(token=TOKEN, policy=policy, store=store, workers=0)
    with TestClient(create_app(config), headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        job = _valid_job("relight", root)
        model = api.post("/v1/jobs", json={**job, "params": {**job["params"], "model": str(shelf / "wan")}})
        assert model.status_code == 201, model.json()
        matte = api.post("/v1/jobs", json={**job, "params": {**job["params"], "mask": str(shelf / "m.####.exr")}})
        assert matte.status_code == 403
    store.close()


def test_a_throwaway_operation_is_published_and_its_paths_are_checked(api, root: Path, tmp_path: Path) -> None:
    with throwaway_op():
        ops = {op["name"]: op for op in api.get("/v1/ops").json()["ops"]}
        assert ops[NAME]["defaults"]["gain"] == 1.5 and ops[NAME]["title"] == "Throwaway"
        job = {"task": NAME, "inputs": [str(root / "p.####.exr")], "output": str(root / "o.####.exr")}
        refused = api.post("/v1/jobs", json={**job, "params": {"reference": str(tmp_path / "ref.exr")}})
        assert refused.status_code == 403 and "reference" in refused.json()["error"]
        assert api.post("/v1/jobs", json={**job, "params": {"matte": "alpha"}}).status_code == 201
