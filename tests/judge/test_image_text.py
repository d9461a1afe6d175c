"""The prompt score from a tiny random CLIP / SigLIP: registered by name, loaded, scored; a bad folder is one error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from damage import relight, write_sequence
from plates import write_plate
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.errors import ModelError
from dreamplate.judge.image_text import registered_image_text_models, resolve_image_text_model


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_registered_random_model_scores_the_prompt(tmp_path: Path, kind: str) -> None:
    made = CliRunner().invoke(app, ["models", "init-random", kind, str(tmp_path / kind)])
    assert made.exit_code == 0, made.output
    added = CliRunner().invoke(app, ["models", "add-judge", "judge-tiny", str(tmp_path / kind)])
    assert added.exit_code == 0, added.output
    assert registered_image_text_models() == {"judge-tiny": (tmp_path / kind).resolve()}
    plate = write_plate(tmp_path / "plate", range(1, 5), (48, 32))
    a = write_sequence(plate, tmp_path / "a", "a", relight)
    b = write_sequence(plate, tmp_path / "b", "b", lambda rgb, i, n: rgb * 0.5)
    report = tmp_path / "r.json"
    result = CliRunner().invoke(
        app, ["judge", "--plate", plate, "--candidate", a, "--candidate", b, "--prompt", "warm light", "--json",
              str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for candidate in json.loads(report.read_text())["candidates"]:
        prompt = candidate["scores"]["prompt"]
        assert 0.0 <= prompt["value"] <= 1.0 and prompt["value"] == pytest.approx((prompt["cosine"] + 1) / 2, abs=1e-3)
        assert prompt["model"] == "judge-tiny" and prompt["note"] == "random weights: this score is noise"
        assert prompt["frames"] == [1, 3, 4]  # first, middle, last


def test_a_folder_that_is_not_an_image_text_model_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(ModelError, match="model_type t5 is not an image-text model"):
        resolve_image_text_model(tmp_path / "m")
    result = CliRunner().invoke(app, ["models", "add-judge", "x", str(tmp_path / "m")])
    assert result.exit_code == 1 and "model_type t5" in result.output


def test_a_real_size_random_judge_model_is_refused_not_made_tiny(tmp_path: Path) -> None:
    """`init-random clip --size real` used to write a tiny model and print "(real, random weights)"."""
    made = CliRunner().invoke(app, ["models", "init-random", "clip", str(tmp_path / "clip"), "--size", "real"])
    assert made.exit_code == 1 and "--size real" in made.output and "tiny size only" in made.output
    assert not (tmp_path / "clip").exists()
