"""Open Job Description export: a job file becomes a template whose tasks run `dreamplate job run` on frame chunks.

Deadline Cloud and other OpenJD schedulers then run dreamplate on their own workers. The chunks are a STRING task
parameter holding frame-range text (`1001-1010`), not the TASK_CHUNKING extension's CHUNK[INT]: that needs the
extension on the scheduler, and it lets the scheduler pick chunk boundaries, while the same chunks as Ray's keep a
farm run and a Ray run of one job interchangeable. The job file is a PATH job parameter (data flow IN, so job
attachments carry it). OpenJD resolves a PATH default against the template's folder and refuses one that walks up
out of it, so the default is set only when the job file lies in the template's folder (as `farm export` writes it by
default); otherwise the submitter gives JobFile. `openjd-model` is imported inside `farm_template`: importing this
module costs nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from dreamplate.errors import JobError
from dreamplate.io.atomic import atomic_path
from dreamplate.jobs.chunks import chunk_frames, chunk_range
from dreamplate.jobs.spec import JobSpec, output_frames

log = logging.getLogger(__name__)

SPECIFICATION_VERSION = "jobtemplate-2023-09"
FRAMES_PARAMETER = "Frames"  # named as {{Task.Param.Frames}} in the action below
"""The task parameter: one chunk's frames as range text."""


def farm_template(
    job: JobSpec, job_file: Path, chunk_size: int | None = None, *, template_dir: Path | None = None
) -> dict[str, Any]:
    """An OpenJD job template (jobtemplate-2023-09) that runs the job in `job_file` chunk by chunk.

    One step, named after the task; one task per chunk of `chunk_size` output frames (default
    `chunks.default_chunk_size`), each running `{{Param.DreamplateCommand}} job run {{Param.JobFile}} --frames
    <chunk>`. `template_dir` is where the template will be written (default: `job_file`'s folder); JobFile gets
    a default (relative to it) only when the job file lies inside it. Farm workers run in their own folders, so the
    job's inputs and output must be absolute paths: JobError otherwise, and when openjd-model rejects the template
    (one line, its first complaint).
    """
    from openjd.model import DecodeValidationError, decode_job_template

    # 1. Paths a farm worker can use.
    for path in (*job.inputs, job.output):
        if not Path(path).is_absolute():
            raise JobError(f"{job_file}: {path}: farm workers need absolute paths; give the full path in the job")
    # 2. The chunks, planned here, so a bad spec or a missing input fails now rather than on the farm.
    chunks = chunk_frames(output_frames(job), chunk_size)
    folder = (template_dir if template_dir is not None else job_file.parent).absolute()
    job_file_parameter: dict[str, Any] = {
        "name": "JobFile",
        "type": "PATH",
        "objectType": "FILE",
        "dataFlow": "IN",
        "description": "The dreamplate job file (dreamplate.job/1 JSON).",
    }
    if job_file.absolute().is_relative_to(folder):
        job_file_parameter["default"] = job_file.absolute().relative_to(folder).as_posix()
    else:
        log.warning("%s is outside the template's folder %s: give JobFile when submitting", job_file, folder)
    # 3. The template.
    template: dict[str, Any] = {
        "specificationVersion": SPECIFICATION_VERSION,
        "name": f"dreamplate {job.task} {Path(job.output).name}"[:128],
        "description": f"dreamplate {job.task} job {job_file.name}: {len(chunks)} chunks, output {job.output}",
        "parameterDefinitions": [
            job_file_parameter,
            {
                "name": "DreamplateCommand",
                "type": "STRING",
                "default": "dreamplate",
                "description": "The dreamplate command on the workers: a name on PATH or a full path.",
            },
        ],
        "steps": [
            {
                "name": job.task,
                "parameterSpace": {
                    "taskParameterDefinitions": [
                        {"name": FRAMES_PARAMETER, "type": "STRING", "range": [chunk_range(c) for c in chunks]}
                    ]
                },
                "script": {
                    "actions": {
                        "onRun": {
                            "command": "{{Param.DreamplateCommand}}",
                            "args": ["job", "run", "{{Param.JobFile}}", "--frames", "{{Task.Param.Frames}}"],
                        }
                    }
                },
            }
        ],
    }
    # 4. Validated by the specification's own model before anyone sees it.
    try:
        decode_job_template(template=template)
    except DecodeValidationError as exc:
        first = (str(exc).strip().splitlines() or ["invalid"])[0]
        raise JobError(f"{job_file}: the OpenJD template does not validate: {first}") from exc
    log.info("OpenJD template: %d tasks of up to %d frames", len(chunks), max((len(c) for c in chunks), default=0))
    return template


def write_template(template: dict[str, Any], path: Path) -> Path:
    """Write the template atomically: JSON for a `.json` name, YAML otherwise (what OpenJD tools expect)."""
    if path.suffix.lower() == ".json":
        text = json.dumps(template, indent=2) + "\n"
    else:
        import yaml  # PyYAML comes with openjd-model

        text = yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=120)
    with atomic_path(path) as tmp_path:
        tmp_path.write_text(text, encoding="utf-8")
    return path
