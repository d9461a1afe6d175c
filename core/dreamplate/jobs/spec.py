"""`JobSpec`: one job as the CLI, the server, Ray and render farms all see it, and the task registry behind it.

A job is `{"task", "inputs", "output", "params"}`; the task's own pydantic spec (e.g. `InterpolateSpec`) is built
from it and validated before anything runs. The registry is a plain dict of import strings, so looking a task up
imports nothing heavy: the task's module (and torch, for generative tasks) loads only when the job runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dreamplate.errors import JobError

ProgressCallback = Callable[[int, int, str], None]
"""(frames done, frames total, what happened), called after each output frame."""


@dataclass(frozen=True)
class TaskEntry:
    """Where a task's code lives, as "module:attribute" strings resolved only when used."""

    spec: str  # the task's pydantic spec class; takes inputs, output and the params as fields
    run: str  # run(spec, progress=, cancelled=, only_frames=) -> result with .written and .skipped
    frames: str  # frames(spec) -> list[int]: the output frame numbers, in order, for chunking
    summary: str


TASKS: dict[str, TaskEntry] = {
    "interpolate": TaskEntry(
        spec="dreamplate.interp.spec:InterpolateSpec",
        run="dreamplate.interp.retime:run_interpolate",
        frames="dreamplate.interp.retime:plan_output_frames",
        summary="in-betweens, retimes and frame-rate changes of an EXR plate (flow or learned)",
    ),
    "relight": TaskEntry(
        spec="dreamplate.gen.spec:RelightSpec",
        run="dreamplate.gen.relight:run_relight",
        frames="dreamplate.gen.relight:relight_frames",
        summary="relight / restyle a plate with a video-to-video model (Wan, LTX-Video), optionally inside a matte",
    ),
    "sketch": TaskEntry(
        spec="dreamplate.gen.spec:SketchSpec",
        run="dreamplate.gen.sketch:run_sketch",
        frames="dreamplate.gen.sketch:sketch_frames",
        summary="a blocking pass or rough render made into a finished shot (Wan VACE control video, else v2v)",
    ),
    "keyframes": TaskEntry(
        spec="dreamplate.gen.spec:KeyframesSpec",
        run="dreamplate.gen.keyframes:run_keyframes",
        frames="dreamplate.gen.keyframes:keyframes_frames",
        summary="frames generated between two or more keyframes, passing exactly through each",
    ),
}


class JobSpec(BaseModel):
    """One job. Versioned (`schema`) so a job stored today still loads when the model grows."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["dreamplate.job/1"] = Field("dreamplate.job/1", alias="schema")
    task: str = Field(description="the operation: " + ", ".join(sorted(TASKS)))
    inputs: list[str] = Field(min_length=1, description="input files or frame patterns (shot.####.exr)")
    output: str = Field(description="output file or frame pattern")
    params: dict[str, Any] = Field(default_factory=dict, description="the task's own settings, as in its CLI")


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _entry(job: JobSpec) -> TaskEntry:
    entry = TASKS.get(job.task)
    if entry is None:
        raise JobError(f"task {job.task!r}: unknown; known tasks are {', '.join(sorted(TASKS))}")
    return entry


def task_spec(job: JobSpec) -> BaseModel:
    """The task's own validated spec; JobError (one line) when the params do not fit it."""
    cls = _resolve(_entry(job).spec)
    try:
        return cls(inputs=job.inputs, output=job.output, **job.params)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "params"
        raise JobError(f"{job.task} job: {where}: {first['msg']}") from None
    except TypeError as exc:
        raise JobError(f"{job.task} job: {exc}") from None


def output_frames(job: JobSpec) -> list[int]:
    """The output frame numbers the job writes, in order; what Ray and farms split into chunks."""
    entry = _entry(job)
    return list(_resolve(entry.frames)(task_spec(job)))


def run_task(
    job: JobSpec,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    only_frames: Collection[int] | None = None,
):
    """Run the job (or the chunk `only_frames` of it) in this process; finished frames on disk are skipped."""
    entry = _entry(job)
    return _resolve(entry.run)(task_spec(job), progress=progress, cancelled=cancelled, only_frames=only_frames)
