"""`--candidates N` end to end on tiny random models: drafts, report, contact sheet, refine, winner, --pick, jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from plates import write_plate
from server_support import wait_job
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.gen.random_models import build_random_model
from dreamplate.gen.spec import RelightSpec
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance
from dreamplate.judge.candidates import candidate_paths, refine_plan, run_operation
from dreamplate.judge.scores import CandidateScores, Score
from dreamplate.ops import OPS

SIZE = (48, 32)
TOKEN = "test-token-0123456789"
JOB_SECONDS = 240.0
"""A candidates job renders drafts and a refine on the CPU: far longer than the server tests' jobs."""


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(2)
    return build_random_model("wan", "wan-t2v", tmp_path_factory.mktemp("wan") / "model", size="tiny", seed=0)


def _seed(path: Path) -> int:
    return Provenance.from_attributes(read_exr(path).attributes).seed


def test_cli_candidates_render_the_winner_with_its_seed(tmp_path: Path, tiny_wan: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    out = tmp_path / "out" / "o.####.exr"
    args = ["relight", plate, "-o", out, "--prompt", "dusk", "--model", tiny_wan, "--steps", "4", "--device", "cpu"]
    result = CliRunner().invoke(app, [str(a) for a in [*args, "--candidates", "3", "--refine", "0", "--seed", "7"]])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "o.candidates.json").read_text())
    assert report["operation"] == "relight" and len(report["candidates"]) == 3
    assert sorted(c["settings"]["seed"] for c in report["candidates"]) == [7, 8, 9]
    winner = next(c for c in report["candidates"] if c["number"] == report["winner"])
    assert winner["rank"] == 1 and report["chosen"] == report["winner"]
    assert _seed(tmp_path / "out" / "o.0003.exr") == winner["settings"]["seed"]
    draft = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.candidates" / "c01" / "o.0001.exr").attributes)
    assert draft.parameters["draft"] is True and draft.seed == 7
    assert (tmp_path / "out" / "o.candidates.png").read_bytes()[:4] == b"\x89PNG"
    assert f"#{winner['number']} seed {winner['settings']['seed']}" in result.output

    # --pick K renders another candidate at full quality; the drafts are found on disk, none re-rendered.
    other = next(c for c in report["candidates"] if c["number"] != report["winner"])
    drafts = sorted((tmp_path / "out" / "o.candidates").rglob("*.exr"))
    stamps = [p.stat().st_mtime_ns for p in drafts]
    picked = CliRunner().invoke(
        app, [str(a) for a in [*args, "--candidates", "3", "--refine", "0", "--seed", "7", "--pick", other["number"]]]
    )
    assert picked.exit_code == 0, picked.output
    assert [p.stat().st_mtime_ns for p in drafts] == stamps
    assert _seed(tmp_path / "out" / "o.0003.exr") == other["settings"]["seed"]
    assert json.loads((tmp_path / "out" / "o.candidates.json").read_text())["chosen"] == other["number"]


def test_drafts_only_stops_after_the_report_and_refine_says_why(tmp_path: Path, tiny_wan: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    spec = RelightSpec(
        inputs=[plate], output=str(tmp_path / "o.####.exr"), prompt="dusk", model=str(tiny_wan), steps=12,
        device="cpu", candidates=2, drafts_only=True, strength_spread=0.1,
    )  # fmt: skip
    result = run_operation(OPS.get("relight"), spec)
    assert not list(tmp_path.glob("o.0*.exr"))  # no full render
    report = json.loads((tmp_path / "o.candidates.json").read_text())
    assert result.written == [tmp_path / "o.candidates.json", tmp_path / "o.candidates.png"]
    assert [c["settings"]["strength"] for c in sorted(report["candidates"], key=lambda c: c["number"])][:2] == [
        0.4,
        0.6,
    ]
    # Random weights make noise: structure is lost, so a second round lowers the strength and says so.
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    second = report["rounds"][1]
    assert second["changed"] == {"strength": [0.5, 0.3], "steps": [12, 20]}  # a draft step left at strength 0.2
    assert any("structure" in why for why in second["why"])
    assert second["seeds"] == [2, 3] and len(report["candidates"]) == 4


def test_refine_plan_follows_the_failing_score() -> None:
    spec = RelightSpec(inputs=["p.####.exr"], output="o.####.exr", prompt="x", model="m", steps=30, candidates=2)
    base = {"strength": 0.5, "steps": 30, "guidance": 5.0}

    def best(**values: float) -> CandidateScores:
        return CandidateScores("c", "c.####.exr", {n: Score(v) for n, v in values.items()})

    assert refine_plan(spec, best(temporal=0.9, structure=0.9, adherence=0.9), base) is None
    lost, why = refine_plan(spec, best(temporal=0.9, structure=0.2, adherence=0.9), base)
    assert (lost["strength"], lost["steps"]) == (0.3, 30) and "structure 0.20 < 0.5" in why[0]
    flicker, why = refine_plan(spec, best(temporal=0.2, structure=0.9, adherence=0.3), base)
    assert flicker["steps"] == 45 and any("steps 30 -> 45" in line for line in why)


def test_candidates_refuse_from_draft_and_a_pick_out_of_range() -> None:
    common = {"inputs": ["p.####.exr"], "output": "o.####.exr", "prompt": "x", "model": "m"}
    with pytest.raises(ValueError, match="--candidates or --from-draft"):
        RelightSpec(**common, candidates=2, from_draft="d.####.exr")
    with pytest.raises(ValueError, match="--pick needs --candidates"):
        RelightSpec(**common, pick=1)
    with pytest.raises(ValueError, match="number 1-4, got 5"):
        RelightSpec(**common, candidates=2, refine=1, pick=5)


def test_candidate_paths_sit_beside_the_output() -> None:
    paths = candidate_paths("/shots/relit.####.exr")
    assert (paths.report, paths.sheet) == (Path("/shots/relit.candidates.json"), Path("/shots/relit.candidates.png"))
    assert paths.draft(3) == "/shots/relit.candidates/c03/relit.####.exr"


@pytest.fixture
def api(tmp_path: Path, tiny_wan: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    from fastapi.testclient import TestClient

    from dreamplate.jobs.store import JobStore
    from dreamplate.server.app import ServerConfig, create_app
    from dreamplate.server.security import PathPolicy

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DREAMPLATE_HOME", str(home))
    monkeypatch.delenv("DREAMPLATE_TOKEN", raising=False)
    store = JobStore.open(home)
    config = ServerConfig(
        token=TOKEN, policy=PathPolicy([tmp_path], model_roots=[tiny_wan.parent]), store=store, workers=1
    )
    client = TestClient(create_app(config), headers={"Authorization": f"Bearer {TOKEN}"})
    with client:
        yield client
    store.close()


def test_server_runs_candidates_and_judge_jobs(api, tmp_path: Path, tiny_wan: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    params = {"prompt": "dusk", "model": str(tiny_wan), "steps": 4, "device": "cpu", "candidates": 2, "refine": 0}
    job = {"task": "relight", "inputs": [plate], "output": str(tmp_path / "out" / "o.####.exr"), "params": params}
    done = wait_job(api, api.post("/v1/jobs", json=job).json()["id"], JOB_SECONDS)
    assert done["state"] == "done", done
    assert (done["frames_done"], done["frames_total"]) == (5, 5)
    report = json.loads((tmp_path / "out" / "o.candidates.json").read_text())
    winner = next(c for c in report["candidates"] if c["number"] == report["winner"])
    assert _seed(tmp_path / "out" / "o.0001.exr") == winner["settings"]["seed"]

    drafts = [c["path"] for c in sorted(report["candidates"], key=lambda c: c["number"])]
    judge = {"task": "judge", "inputs": [plate, *drafts], "output": str(tmp_path / "judged.json"), "params": {}}
    judged = wait_job(api, api.post("/v1/jobs", json=judge).json()["id"], JOB_SECONDS)
    assert judged["state"] == "done", judged
    again = json.loads((tmp_path / "judged.json").read_text())
    assert again["ranking"] == report["ranking"]  # the same scorer, the same order
