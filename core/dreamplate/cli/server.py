"""`serve`, `job` and `farm`: the local job server, job files run here or on Ray, render-farm export."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from dreamplate import __version__
from dreamplate.cli.common import app, fail, log, out_console, running, say_written
from dreamplate.errors import DreamplateError


@app.command()
def serve(
    root: Annotated[
        list[Path], typer.Option(help="Folder jobs may read and write; repeat for several. Nothing outside is touched.")
    ],
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="CLIENT_PREFIX=SERVER_PREFIX path mapping for shared storage, e.g. 'Z:\\=/mnt/z'."),
    ] = None,
    models_root: Annotated[
        list[Path] | None,
        typer.Option(
            "--models-root",
            help="Folder models may be loaded from (besides the --root folders); repeat for several. "
            "Default: dreamplate's model store ($DREAMPLATE_MODELS, else the user cache).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once in this process.")] = 1,
    ray: Annotated[str | None, typer.Option(help="Run each job's frame chunks on Ray: auto, local or ADDRESS.")] = None,
) -> None:
    """Run the local job server that Nuke, Blender and scripts submit to (token required, paths kept in --root)."""
    import ipaddress

    try:
        import uvicorn

        from dreamplate.jobs.store import JobStore
        from dreamplate.server.app import ServerConfig, create_app
        from dreamplate.server.security import PathPolicy, load_or_create_token, parse_map
    except ImportError as exc:
        fail(f"serve needs the server extra ({exc.name} is missing): pip install 'dreamplate[server]'")
        return
    for option, folders in (("--root", root), ("--models-root", models_root or [])):
        for folder in folders:
            if not folder.is_dir():
                fail(f"{option} {folder}: not a folder")
    try:
        maps = [parse_map(text) for text in map_ or []]
    except ValueError as exc:
        fail(str(exc))
        return
    token = load_or_create_token()
    if token.created:
        out_console.print(f"new API token (saved to {token.source}, mode 0600): {token.value}", markup=False)
    else:
        out_console.print(f"API token: from {token.source}", markup=False, highlight=False)
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        log.warning("binding %s: the server is reachable from other machines; only the token protects it", host)
    store = JobStore.open()
    policy = PathPolicy(root, maps, models_root)
    config = ServerConfig(token=token.value, policy=policy, store=store, workers=workers, ray_address=ray)
    log.info(
        "job store: %s; roots: %s; models roots: %s",
        store.path,
        ", ".join(str(r) for r in policy.roots),
        ", ".join(str(r) for r in policy.model_roots),
    )
    out_console.print(f"dreamplate {__version__} serving on http://{host}:{port}/v1 (docs at /v1/docs)", markup=False)
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_config=None,  # keep dreamplate's logging setup
        access_log=log.isEnabledFor(logging.DEBUG),
        timeout_graceful_shutdown=3,
    )
    store.close()


job_app = typer.Typer(
    help="Run job files (dreamplate.job/1 JSON, as the server stores them) here or on a Ray cluster.",
    no_args_is_help=True,
)
farm_app = typer.Typer(help="Render farms: export a job as an Open Job Description template.", no_args_is_help=True)
app.add_typer(job_app, name="job")
app.add_typer(farm_app, name="farm")


def _load_job_file(job_file: Path):
    """The job in `job_file`, its task's params validated too; any problem is one `ERROR: <file>: ...` line."""
    import json

    from pydantic import ValidationError

    from dreamplate.jobs.spec import JobSpec, task_spec

    try:
        data = json.loads(job_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{job_file}: no such file")
    except UnicodeDecodeError:
        fail(f"{job_file}: not a text file; a job file is JSON (see `dreamplate job schema`)")
    except OSError as exc:
        fail(f"{job_file}: cannot read: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        fail(f"{job_file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    try:
        job = JobSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "job"
        fail(f"{job_file}: {where}: {first['msg']}")
    try:
        task_spec(job)
    except DreamplateError as exc:
        fail(f"{job_file}: {exc}")
    return job


def _chunk_size_option(chunk_size: int | None) -> None:
    if chunk_size is not None and chunk_size < 1:
        fail(f"--chunk-size: must be 1 or more, got {chunk_size}")


def _missing_extra(exc: ModuleNotFoundError, option: str, package: str, extra: str) -> None:
    """An optional library that is not installed: say which extra brings it; any other missing module is a bug."""
    if (exc.name or "").split(".")[0] != package:
        raise exc
    fail(f"{option}: needs {package}, which is not installed; DREAMPLATE_EXTRAS={extra} install/setup.sh adds it")


@job_app.command("run")
def job_run(
    job_file: Annotated[Path, typer.Argument(help="Job file, dreamplate.job/1 JSON (see `dreamplate job schema`).")],
    frames: Annotated[
        str | None, typer.Option(help="Only these output frames, e.g. 1001-1010: one chunk of the job.")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option("--ray", help="Run as Ray tasks: auto, local, or ray://HOST:10001.")
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="With --ray: output frames per Ray task (default total/32, within 10-100).")
    ] = None,
) -> None:
    """Run a job file in this process (with --frames, just that chunk), or on Ray with --ray."""
    from dreamplate.io.sequence import parse_frame_range
    from dreamplate.jobs.spec import run_task

    _chunk_size_option(chunk_size)
    if ray_address is not None and frames is not None:
        fail("--frames runs one chunk in this process and --ray runs the whole job on Ray; give one of them")
    if ray_address is None and chunk_size is not None:
        fail("--chunk-size: only with --ray; a run in this process is one chunk")
    job = _load_job_file(job_file)
    with running() as progress:
        only_frames = None if frames is None else parse_frame_range(frames)
        if ray_address is not None:
            try:
                from dreamplate.jobs.ray_exec import run_on_ray

                run_on_ray(job, ray_address, progress=progress.update, chunk_size=chunk_size)
            except ModuleNotFoundError as exc:
                _missing_extra(exc, "--ray", "ray", "ray")
            out_console.print(f"{job.task}: done on Ray, output {job.output}", markup=False, highlight=False)
            return
        result = run_task(job, progress=progress.update, only_frames=only_frames)
    say_written(result.written, result.skipped, job.output)


@job_app.command("schema")
def job_schema() -> None:
    """Print the JSON schema of job files (dreamplate.job/1)."""
    import json

    from dreamplate.jobs.spec import JobSpec

    # typer.echo, not rich: the schema must come out byte for byte for tools that read it.
    typer.echo(json.dumps(JobSpec.model_json_schema(by_alias=True), indent=2))


@farm_app.command("export")
def farm_export(
    job_file: Annotated[Path, typer.Argument(help="Job file, dreamplate.job/1 JSON, with absolute paths.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Template file, .yaml or .json (default JOB.template.yaml beside JOB)."),
    ] = None,
    chunk_size: Annotated[
        int | None, typer.Option(help="Output frames per farm task (default total/32, within 10-100).")
    ] = None,
) -> None:
    """Write an Open Job Description template whose tasks run `dreamplate job run JOB --frames CHUNK`."""
    _chunk_size_option(chunk_size)
    job = _load_job_file(job_file)
    target = output if output is not None else job_file.with_name(f"{job_file.stem}.template.yaml")
    try:
        from dreamplate.jobs.openjd import farm_template, write_template

        template = farm_template(job, job_file, chunk_size, template_dir=target.parent)
        write_template(template, target)
    except ModuleNotFoundError as exc:
        _missing_extra(exc, "farm export", "openjd", "farm")
        return
    except DreamplateError as exc:
        fail(str(exc))
        return
    tasks = len(template["steps"][0]["parameterSpace"]["taskParameterDefinitions"][0]["range"])
    out_console.print(f"wrote {target}: {tasks} tasks, each `dreamplate job run {job_file} --frames ...`", markup=False)
