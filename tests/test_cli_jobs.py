"""`dreamplate job run|schema` and `dreamplate farm export`: job files from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from openjd.model import decode_job_template
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.demo import render_plate_frame
from dreamplate.io.exr import ExrImage, write_exr

SIZE = (96, 64)


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    """A 3-frame plate and a job file retiming it 2x (5 output frames, 1-5), all under tmp_path."""
    window = (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    (tmp_path / "in").mkdir()
    for index in range(3):
        channels = render_plate_frame(index, 3, SIZE)
        image = ExrImage(channels, dict.fromkeys(channels, "half"), window, window, {"colorInteropID": "lin_ap1_scene"})
        write_exr(tmp_path / "in" / f"plate.{index + 1:04d}.exr", image)
    job = {
        "schema": "dreamplate.job/1",
        "task": "interpolate",
        "inputs": [str(tmp_path / "in" / "plate.####.exr")],
        "output": str(tmp_path / "out" / "out.####.exr"),
        "params": {"factor": 2, "method": "flow"},
    }
    path = tmp_path / "shot.json"
    path.write_text(json.dumps(job))
    return path


def _invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_error_line(result, start: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(start), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"task": "interpolate", ', "not valid JSON: Expecting property name enclosed in double quotes at line 1"),
        ("[1, 2]", "job: Input should be a valid dictionary"),
        ('{"task": "interpolate", "inputs": ["a.####.exr"]}', "output: Field required"),
        ('{"task": "paint", "inputs": ["a.####.exr"], "output": "b.####.exr"}', "operation 'paint': unknown"),
        (
            '{"task": "interpolate", "inputs": ["a.####.exr"], "output": "b.####.exr", "params": {"factor": 0}}',
            "interpolate job: factor: Input should be greater than or equal to 1",
        ),
        ('{"task": "interpolate", "inputs": [], "output": "b.####.exr", "extra": 1}', "inputs: List should have"),
    ],
)
def test_job_run_with_a_bad_job_file_is_one_error_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    line = _one_error_line(_invoke("job", "run", path), f"ERROR: {path}: ")
    assert problem in line


def test_job_run_with_no_such_file(tmp_path: Path) -> None:
    _one_error_line(_invoke("job", "run", tmp_path / "nope.json"), f"ERROR: {tmp_path / 'nope.json'}: no such file")


def test_job_run_in_process_then_a_chunk_resumes(job_file: Path) -> None:
    out = job_file.parent / "out"
    chunk = _invoke("job", "run", job_file, "--frames", "2-3")
    assert chunk.exit_code == 0, chunk.output
    assert sorted(p.name for p in out.iterdir()) == ["out.0002.exr", "out.0003.exr"]
    whole = _invoke("job", "run", job_file)
    assert whole.exit_code == 0, whole.output
    assert "wrote 3 frames" in whole.stdout and "skipped 2 already written" in whole.stdout
    assert len(list(out.iterdir())) == 5


def test_job_run_refuses_a_chunk_the_job_does_not_make(job_file: Path) -> None:
    line = _one_error_line(_invoke("job", "run", job_file, "--frames", "4-9"), "ERROR: ")
    assert "frames [6, 7, 8, 9] are not among this run's output frames" in line


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (["--ray", "local", "--frames", "1-2"], "ERROR: --frames runs one chunk in this process"),
        (["--chunk-size", "4"], "ERROR: --chunk-size: only with --ray"),
        (["--ray", "local", "--chunk-size", "0"], "ERROR: --chunk-size: must be 1 or more, got 0"),
        (["--frames", "9-1"], "ERROR: --frames: range 9-1 runs backwards"),
    ],
)
def test_job_run_option_mistakes_are_one_error_line(job_file: Path, options: list[str], problem: str) -> None:
    _one_error_line(_invoke("job", "run", job_file, *options), problem)
    assert not (job_file.parent / "out").exists()


def test_job_schema_prints_the_job_spec_schema() -> None:
    result = _invoke("job", "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "JobSpec"
    assert schema["properties"]["schema"]["const"] == "dreamplate.job/1"
    assert set(schema["required"]) >= {"task", "inputs", "output"}


def test_farm_export_writes_a_valid_template_beside_the_job(job_file: Path) -> None:
    result = _invoke("farm", "export", job_file, "--chunk-size", "2")
    assert result.exit_code == 0, result.output
    template = yaml.safe_load((job_file.parent / "shot.template.yaml").read_text())
    decode_job_template(template=template)
    (frames,) = template["steps"][0]["parameterSpace"]["taskParameterDefinitions"]
    assert frames["range"] == ["1-2", "3-4", "5"]
    assert template["parameterDefinitions"][0]["default"] == "shot.json"
    as_json = _invoke("farm", "export", job_file, "-o", job_file.parent / "t.json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads((job_file.parent / "t.json").read_text())["specificationVersion"] == "jobtemplate-2023-09"


def test_farm_export_refuses_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "rel.json"
    path.write_text(json.dumps({"task": "interpolate", "inputs": ["in/plate.####.exr"], "output": "o.####.exr"}))
    (tmp_path / "in").mkdir()
    line = _one_error_line(_invoke("farm", "export", path), "ERROR: ")
    assert "farm workers need absolute paths" in line
    assert not list(tmp_path.glob("*.yaml"))
