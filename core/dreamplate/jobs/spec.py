"""`JobSpec`: one job as the CLI, the server, Ray and render farms all see it.

A job is `{"task", "inputs", "output", "params"}` (`op` is accepted for `task`); its operation's own pydantic spec
(e.g. `InterpolateSpec`) is built from it and validated before anything runs. Operations come from the registry in
`dreamplate.ops`, which holds import strings, so looking one up imports nothing heavy: its module (and torch, for
generative operations) loads only when the job runs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dreamplate.errors import JobError
from dreamplate.ops import OPS, Op
from dreamplate.ops.plate.progress import ProgressCallback


class JobSpec(BaseModel):
    """One job. Versioned (`schema`) so a job stored today still loads when the model grows."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["dreamplate.job/1"] = Field("dreamplate.job/1", alias="schema")
    task: str = Field(validation_alias=AliasChoices("task", "op"), description="the operation (GET /v1/ops lists them)")
    inputs: list[str] = Field(description="input files or frame patterns (shot.####.exr); [] for generate")
    output: str = Field(description="output file or frame pattern")
    params: dict[str, Any] = Field(default_factory=dict, description="the task's own settings, as in its CLI")

    @field_validator("inputs")
    @classmethod
    def _some_inputs(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """At least one input, except for an operation that takes none (generate declares no input roles)."""
        task = info.data.get("task")
        if value or (task in OPS and not OPS.get(task).roles):
            return value
        raise PydanticCustomError("too_short", "List should have at least 1 item after validation, not 0")

    @model_validator(mode="after")
    def _follow_route(self) -> JobSpec:
        """A setting that hands the job to another operation (interpolate, method generative) does so here, once,
        so the store, the runner, Ray and farms only ever see the operation that runs."""
        if self.task not in OPS:
            return self
        route = OPS.get(self.task).route_for(self.params)
        if route is None:
            return self
        inputs, output, params = route.apply(self.inputs, self.output, self.params)
        return self.model_copy(update={"task": route.to, "inputs": inputs, "output": output, "params": params})


def job_op(job: JobSpec) -> Op:
    """The job's operation; JobError naming the known ones when there is none by its name."""
    return OPS.get(job.task)


def task_spec(job: JobSpec) -> BaseModel:
    """The operation's own validated spec; JobError (one line) when the params do not fit it."""
    cls = job_op(job).spec_class()
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
    return list(job_op(job).frames_function()(task_spec(job)))


def run_task(
    job: JobSpec,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    only_frames: Collection[int] | None = None,
):
    """Run the job (or the chunk `only_frames` of it) in this process; finished frames on disk are skipped."""
    from dreamplate.judge.candidates import run_operation  # drafts, judging and the winner with --candidates

    return run_operation(job_op(job), task_spec(job), progress=progress, cancelled=cancelled, only_frames=only_frames)
