"""OpenJD export: the template validates with openjd-model and its tasks, run one by one, make the whole job."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from openjd.model import (
    StepParameterSpaceIterator,
    SymbolTable,
    create_job,
    decode_job_template,
    preprocess_job_parameters,
)
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.errors import JobError
from dreamplate.jobs.openjd import farm_template, write_template
from dreamplate.jobs.spec import JobSpec


def _job_file(job: JobSpec, path: Path) -> Path:
    path.write_text(json.dumps(job.model_dump(mode="json", by_alias=True), indent=2))
    return path


def _task_command_lines(template_path: Path) -> list[list[str]]:
    """Each task's command line, as an OpenJD worker resolves it from the template file on disk."""
    template = decode_job_template(template=yaml.safe_load(template_path.read_text()))
    values = preprocess_job_parameters(
        job_template=template,
        job_parameter_values={},
        environment_templates=[],
        job_template_dir=template_path.parent,
        current_working_dir=Path.cwd(),
    )
    job = create_job(job_template=template, job_parameter_values=values)
    (step,) = job.steps
    action = step.script.actions.onRun
    lines = []
    for task in StepParameterSpaceIterator(space=step.parameterSpace):
        symbols = SymbolTable()
        for name, value in values.items():
            symbols[f"Param.{name}"] = value.value
        for name, value in task.items():
            symbols[f"Task.Param.{name}"] = value.value
        lines.append([action.command.resolve(symtab=symbols), *(arg.resolve(symtab=symbols) for arg in action.args)])
    return lines


def test_template_validates_and_has_one_task_per_chunk(tmp_path: Path, job_for: Callable[..., JobSpec]) -> None:
    job = job_for(tmp_path / "out")
    template = farm_template(job, tmp_path / "shot.json", chunk_size=6)
    assert template["specificationVersion"] == "jobtemplate-2023-09"
    decode_job_template(template=template)
    (step,) = template["steps"]
    (frames,) = step["parameterSpace"]["taskParameterDefinitions"]
    assert frames == {"name": "Frames", "type": "STRING", "range": ["1001-1006", "1007-1012", "1013-1017"]}
    assert step["script"]["actions"]["onRun"]["args"] == [
        "job",
        "run",
        "{{Param.JobFile}}",
        "--frames",
        "{{Task.Param.Frames}}",
    ]
    job_file = next(p for p in template["parameterDefinitions"] if p["name"] == "JobFile")
    assert job_file["type"] == "PATH" and job_file["dataFlow"] == "IN" and job_file["default"] == "shot.json"


def test_template_written_as_yaml_or_json_reads_back_the_same(tmp_path: Path, job_for: Callable[..., JobSpec]) -> None:
    template = farm_template(job_for(tmp_path / "out"), tmp_path / "shot.json", chunk_size=4)
    assert yaml.safe_load(write_template(template, tmp_path / "t.yaml").read_text()) == template
    assert json.loads(write_template(template, tmp_path / "t.json").read_text()) == template
    assert not list(tmp_path.glob(".*partial*"))


def test_a_job_file_outside_the_template_folder_has_no_default(tmp_path: Path, job_for: Callable[..., JobSpec]) -> None:
    # OpenJD refuses a PATH default that walks up out of the template's folder: the submitter gives JobFile.
    template = farm_template(job_for(tmp_path / "out"), tmp_path / "shot.json", template_dir=tmp_path / "bundle")
    job_file = next(p for p in template["parameterDefinitions"] if p["name"] == "JobFile")
    assert "default" not in job_file


def test_relative_paths_are_refused_for_farms(tmp_path: Path) -> None:
    job = JobSpec(task="interpolate", inputs=["plate.####.exr"], output=str(tmp_path / "o.####.exr"))
    with pytest.raises(JobError, match=r"shot\.json: plate\.####\.exr: farm workers need absolute paths"):
        farm_template(job, tmp_path / "shot.json")


def test_template_tasks_run_through_the_cli_make_the_whole_output(
    tmp_path: Path, job_for: Callable[..., JobSpec], reference: Path, output_names: list[str], same_frames
) -> None:
    (tmp_path / "bundle" / "jobs").mkdir(parents=True)
    job = job_for(tmp_path / "out")
    job_file = _job_file(job, tmp_path / "bundle" / "jobs" / "shot.json")
    template = farm_template(job, job_file, chunk_size=5, template_dir=tmp_path / "bundle")
    template_path = write_template(template, tmp_path / "bundle" / "template.yaml")
    lines = _task_command_lines(template_path)
    assert [line[-1] for line in lines] == ["1001-1005", "1006-1010", "1011-1015", "1016-1017"]
    runner = CliRunner()
    for command, *args in lines:
        assert command == "dreamplate"
        assert args[2] == str(job_file)  # the relative default, resolved against the template's folder
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == output_names
    same_frames(reference, tmp_path / "out", output_names)
