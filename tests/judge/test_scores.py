"""`dreamplate judge` on synthetic candidate sets: the undamaged one wins, each damage is named, amounts rank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from damage import (
    colour_drift,
    key_missed,
    outside_matte,
    relight,
    structure_destroyed,
    temporal_noise,
    then,
    write_sequence,
)
from plates import write_plate
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.errors import InputError
from dreamplate.io.exr import ExrImage, write_exr
from dreamplate.judge.run import run_judge
from dreamplate.judge.scores import JudgeInputs, score_set
from dreamplate.judge.spec import JudgeSpec

SIZE = (96, 64)
FRAMES = range(1001, 1011)


def _same(rgb: np.ndarray, index: int, count: int) -> np.ndarray:
    return rgb


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory) -> str:
    return write_plate(tmp_path_factory.mktemp("plate"), FRAMES, SIZE)


def _matte(folder: Path) -> tuple[str, np.ndarray]:
    matte = np.zeros((SIZE[1], SIZE[0]), np.float32)
    matte[16:48, 24:72] = 1.0
    folder.mkdir(parents=True, exist_ok=True)
    box = (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    for frame in FRAMES:
        write_exr(folder / f"m.{frame:04d}.exr", ExrImage({"A": matte}, {"A": "half"}, box, box))
    return str(folder / "m.####.exr"), matte


@pytest.mark.parametrize("base", ["plate", "relight"])
def test_undamaged_wins_and_each_damage_is_named(tmp_path: Path, plate: str, base: str) -> None:
    clean = _same if base == "plate" else relight
    candidates = {
        "clean": write_sequence(plate, tmp_path / "clean", "clean", clean),
        "noise": write_sequence(plate, tmp_path / "noise", "noise", then(clean, temporal_noise(0.2))),
        "blur": write_sequence(plate, tmp_path / "blur", "blur", then(clean, structure_destroyed(3.0))),
        "drift": write_sequence(plate, tmp_path / "drift", "drift", then(clean, colour_drift(0.5))),
    }
    ranked, _ = score_set(JudgeInputs(plate=plate), list(candidates.items()))
    assert ranked[0].label == "clean", [(c.label, round(c.overall, 3)) for c in ranked]
    caught = {c.label: c.caught_by for c in ranked}
    assert caught == {"clean": None, "noise": "temporal", "blur": "structure", "drift": "adherence.colour"}
    if base == "plate":
        assert {name: score.value for name, score in ranked[0].scores.items() if name != "prompt"} == {
            "temporal": 1.0,
            "structure": 1.0,
            "adherence": 1.0,
        }


def test_outside_the_matte_and_a_missed_key_are_caught(tmp_path: Path, plate: str) -> None:
    mask, matte = _matte(tmp_path / "matte")

    def inside(change):
        return lambda rgb, i, n: np.where((matte > 0)[..., None], change(rgb, i, n), rgb)

    keys = {1001: plate.replace("####", "1001"), 1010: plate.replace("####", "1010")}
    clean = write_sequence(plate, tmp_path / "c", "clean", _same)
    in_matte = [
        ("clean", clean),
        ("relit", write_sequence(plate, tmp_path / "r", "relit", inside(relight))),
        ("outside", write_sequence(plate, tmp_path / "o", "outside", outside_matte(matte, 0.5))),
    ]
    ranked, _ = score_set(JudgeInputs(plate=plate, mask=mask), in_matte)
    assert [c.label for c in ranked][0] == "clean"
    by_label = {c.label: c for c in ranked}
    assert by_label["outside"].caught_by == "adherence.outside_matte"
    assert by_label["relit"].scores["adherence"].parts["outside_matte"]["value"] == 1.0
    with_keys = [("clean", clean), ("key", write_sequence(plate, tmp_path / "k", "key", key_missed(9)))]
    ranked, _ = score_set(JudgeInputs(plate=plate, keys=keys), with_keys)
    assert [c.label for c in ranked] == ["clean", "key"] and ranked[1].caught_by == "adherence.keys"
    assert ranked[1].scores["adherence"].parts["keys"]["worst_frame"] == 1010
    assert ranked[0].scores["adherence"].parts["keys"]["value"] == 1.0


@pytest.mark.parametrize(
    ("damage", "amounts"),
    [
        (temporal_noise, (0.05, 0.1, 0.2, 0.4)),
        (structure_destroyed, (1.0, 2.0, 4.0, 8.0)),
        (colour_drift, (0.1, 0.2, 0.4, 0.8)),
    ],
)
def test_growing_damage_ranks_by_amount(tmp_path: Path, plate: str, damage, amounts: tuple[float, ...]) -> None:
    candidates = [
        (f"x{amount}", write_sequence(plate, tmp_path / str(amount), "c", then(relight, damage(amount))))
        for amount in reversed(amounts)  # given worst first, so the order found is the scorer's own
    ]
    ranked, _ = score_set(JudgeInputs(plate=plate), candidates)
    assert [c.label for c in ranked] == [f"x{amount}" for amount in amounts]


def test_judge_command_writes_report_and_contact_sheet(tmp_path: Path, plate: str) -> None:
    a = write_sequence(plate, tmp_path / "a", "a", relight)
    b = write_sequence(plate, tmp_path / "b", "b", then(relight, temporal_noise(0.3)))
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        ["judge", "--plate", plate, "--candidate", b, "--candidate", a, "--prompt", "warm", "--json", str(report),
         "--key", f"1001={plate.replace('####', '1001')}"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote 2 files to {report}" in result.output  # the report and its sheet, not "2 frames"
    data = json.loads(report.read_text())
    assert data["schema"] == "dreamplate.judge/1" and data["winner"] == 2 and data["ranking"] == [2, 1]
    best, worst = data["candidates"]
    assert (best["label"], worst["label"], worst["caught_by"]) == ("a", "b", "temporal")
    assert best["scores"]["adherence"]["keys"]["frames"] == [1001]  # the --key, checked on both
    assert best["scores"]["prompt"] == {
        "value": None,
        "note": "not scored: no image-text model registered (dreamplate models add-judge NAME DIR)",
    }
    assert set(data["scores"]) == {"temporal", "structure", "adherence", "prompt", "overall"}
    assert all("range" in doc and "meaning" in doc for doc in data["scores"].values())
    sheet = tmp_path / "report.png"
    assert data["contact_sheet"] == str(sheet) and sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_judge_refuses_a_missing_candidate_and_writes_nothing(tmp_path: Path, plate: str) -> None:
    a = write_sequence(plate, tmp_path / "a", "a", relight)
    spec = JudgeSpec(plate=plate, candidates=[a, str(tmp_path / "none.####.exr")], output=str(tmp_path / "r.json"))
    with pytest.raises(InputError, match="none.####.exr"):
        run_judge(spec)
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.png").exists()


def test_judge_spec_takes_job_inputs_and_names_bad_settings(tmp_path: Path) -> None:
    spec = JudgeSpec(inputs=["p.####.exr", "a.####.exr", "b.####.exr"], output=str(tmp_path / "r.json"))
    assert (spec.plate, spec.candidates) == ("p.####.exr", ["a.####.exr", "b.####.exr"])
    with pytest.raises(ValueError, match="one or more candidates"):
        JudgeSpec(plate="p.####.exr", output="r.json")
    with pytest.raises(ValueError, match="would overwrite an input"):
        JudgeSpec(plate="p.####.exr", candidates=["a.####.exr", "r.json"], output="r.json")
