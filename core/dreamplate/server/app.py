"""The `/v1` HTTP API that Nuke, Blender and scripts submit jobs to; jobs run in worker threads of this process.

Every answer is JSON; every refusal is a 4xx with `{"error": "<one line>"}`, and a bad request never stops the
server. The token guards every route but `GET /v1/health` (and the OpenAPI docs, which hold no data). Job paths are
mapped and checked against the `--root` folders before the job is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from dreamplate import __version__
from dreamplate.errors import DreamplateError
from dreamplate.jobs.spec import JobSpec
from dreamplate.jobs.store import STATES, TERMINAL_STATES, JobRecord, JobStore
from dreamplate.jobs.worker import WorkerPool
from dreamplate.ops import OPS
from dreamplate.ops.registry import describe_op, describe_ops
from dreamplate.server.security import ForbiddenPathError, PathPolicy, token_matches

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
"""A job spec is a few hundred bytes of paths and settings; a megabyte leaves room and refuses floods."""
SSE_POLL_SECONDS = 0.2
SSE_PING_SECONDS = 5.0
# Declared for the OpenAPI docs' Authorize button; the check itself is `require_token`, which also answers 401.
_bearer = HTTPBearer(auto_error=False, description="The server's token (DREAMPLATE_TOKEN or its token file).")


@dataclass
class ServerConfig:
    """What `dreamplate serve` was started with."""

    token: str
    policy: PathPolicy
    store: JobStore
    workers: int = 1  # 0: accept and queue jobs but run none (another process runs them)
    ray_address: str | None = None
    max_body_bytes: int = MAX_BODY_BYTES


def create_app(config: ServerConfig) -> FastAPI:
    """The FastAPI app; its lifespan starts the workers and stops them (running jobs go back to the queue)."""
    pool = WorkerPool(config.store, config.workers, config.ray_address) if config.workers else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if pool is not None:
            pool.start()
        try:
            yield
        finally:
            if pool is not None:
                await run_in_threadpool(pool.stop)

    app = FastAPI(
        title="dreamplate",
        version=__version__,
        description="Generative video jobs on scene-linear EXR plates. Send `Authorization: Bearer TOKEN`.",
        docs_url="/v1/docs",
        redoc_url=None,
        openapi_url="/v1/openapi.json",
        lifespan=lifespan,
    )

    def require_token(
        request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None
    ) -> None:
        if not token_matches(request.headers.get("authorization"), config.token):
            raise HTTPException(
                401, "missing or wrong token: send 'Authorization: Bearer TOKEN'", {"WWW-Authenticate": "Bearer"}
            )

    guarded = [Depends(require_token)]
    store = config.store

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _first_error(exc.errors(), "request")}, 422)

    @app.exception_handler(Exception)
    async def _internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.error("internal error", exc_info=exc)
        return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    @app.get("/v1/health", tags=["server"])
    def health() -> dict[str, Any]:
        """Alive, and which version; the one route that needs no token."""
        return {"status": "ok", "version": __version__}

    @app.get("/v1/models", tags=["server"], dependencies=guarded)
    def models() -> dict[str, Any]:
        """The models a job may name (learned interpolation pins, registered generative models) and those held warm.

        Hosts fill their model menus from this; a registered model that no longer resolves is listed with its error.
        """
        from dreamplate.gen.models import registered_models, resolve_model
        from dreamplate.runtime.model_cache import MAX_MODELS, cached_keys
        from dreamplate.runtime.weights import DEFAULT_LEARNED, PINNED, find_weights

        learned = [
            {
                "name": name,
                "description": entry.description,
                "installed": find_weights(entry) is not None,
                "default": name == DEFAULT_LEARNED,
            }
            for name, entry in PINNED.items()
            if entry.operation == "interpolate"
        ]
        generative = []
        for name, path in registered_models().items():
            try:
                info = resolve_model(name)
            except DreamplateError as exc:
                generative.append({"name": name, "path": str(path), "error": str(exc)})
                continue
            generative.append(
                {
                    "name": name,
                    "path": str(info.path),
                    "family": info.family,
                    "capabilities": sorted(info.capabilities),
                    "hub_repo": info.hub_repo,
                    "random_weights": info.random_weights,
                }
            )
        loaded = [str(key) for key in cached_keys()]
        return {"learned": learned, "generative": generative, "loaded": loaded, "max_loaded": MAX_MODELS}

    @app.get("/v1/ops", tags=["jobs"], dependencies=guarded)
    def ops(response: Response) -> dict[str, Any]:
        """Every operation: name, title, summary, settings (type, default, bounds, help, UI hints), the JSON schema
        of its params and a hash; `version` changes whenever any of it does, so hosts cache the description by it."""
        description = describe_ops()
        response.headers["ETag"] = f'"{description["version"]}"'
        return {**description, "job_schema": JobSpec.model_json_schema(by_alias=True)}

    @app.get("/v1/ops/{name}", tags=["jobs"], dependencies=guarded)
    def op(name: str) -> dict[str, Any]:
        """One operation's description, as in `/v1/ops`."""
        if name not in OPS:
            raise HTTPException(404, f"operation {name!r}: unknown; known operations are {', '.join(OPS.names())}")
        return describe_op(OPS.get(name))

    @app.post(
        "/v1/jobs",
        tags=["jobs"],
        status_code=201,
        dependencies=guarded,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": JobSpec.model_json_schema(by_alias=True)}},
            }
        },
    )
    async def submit(request: Request) -> dict[str, str]:
        """Queue a job `{"task", "inputs", "output", "params"}`; paths are mapped and checked against the roots."""
        body = await _read_body(request, config.max_body_bytes)
        job_id = await run_in_threadpool(_accept, body, config.policy, store)
        if pool is not None:
            pool.wake()
        return {"id": job_id}

    @app.get("/v1/jobs", tags=["jobs"], dependencies=guarded)
    def list_jobs(
        state: Annotated[str | None, Query(description=f"only jobs in this state: {', '.join(STATES)}")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Jobs, newest first."""
        if state is not None and state not in STATES:
            raise HTTPException(422, f"state {state!r}: unknown; use one of {', '.join(STATES)}")
        return {"jobs": [record.to_dict() for record in store.list_jobs(state, limit)]}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], dependencies=guarded)
    def job(job_id: str) -> dict[str, Any]:
        """One job: state, progress in [0, 1], frames done and total, error text when it failed."""
        return _job_or_404(store, job_id).to_dict()

    @app.post("/v1/jobs/{job_id}/cancel", tags=["jobs"], dependencies=guarded)
    def cancel(job_id: str) -> dict[str, Any]:
        """Cancel: a queued job at once, a running one after its current frame (finished frames are kept)."""
        _job_or_404(store, job_id)
        try:
            return store.request_cancel(job_id).to_dict()
        except DreamplateError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"], dependencies=guarded)
    async def events(
        job_id: str,
        request: Request,
        last_event_id: Annotated[int, Header(alias="Last-Event-ID", ge=0)] = 0,
    ) -> StreamingResponse:
        """Server-sent events: `job` (a snapshot), then `state` and `progress` as they happen, until the job ends."""
        record = await run_in_threadpool(_job_or_404, store, job_id)
        stream = _event_stream(store, record.id, request, last_event_id)
        return StreamingResponse(stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body of {int(declared)} bytes is over the {limit} byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body is over the {limit} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _accept(body: bytes, policy: PathPolicy, store: JobStore) -> str:
    """Parse, validate and path-check a job, then store it; HTTPException with one line for anything wrong."""
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise HTTPException(422, f"job must be a JSON object, got {type(data).__name__}")
    try:
        job = JobSpec.model_validate(data)
    except ValidationError as exc:
        raise HTTPException(422, _first_error(exc.errors(), "job")) from None
    if job.task not in OPS:
        raise HTTPException(422, f"operation {job.task!r}: unknown; known operations are {', '.join(OPS.names())}")
    try:
        job = policy.check_job(job)
    except ForbiddenPathError as exc:
        log.warning("refused job: %s", exc)
        raise HTTPException(403, str(exc)) from None
    except DreamplateError as exc:
        raise HTTPException(422, str(exc)) from None
    return store.submit(job.model_dump(mode="json", by_alias=True))


def _first_error(errors: Any, what: str) -> str:
    """pydantic's first complaint as one line: `job: output: Field required`."""
    errors = list(errors)
    if not errors:
        return f"{what}: invalid"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    return f"{what}: {where}: {first.get('msg', 'invalid')}" if where else f"{what}: {first.get('msg', 'invalid')}"


def _job_or_404(store: JobStore, job_id: str) -> JobRecord:
    record = store.get(job_id)
    if record is None:
        raise HTTPException(404, f"job {job_id}: no such job")
    return record


async def _event_stream(store: JobStore, job_id: str, request: Request, after: int) -> AsyncIterator[str]:
    """SSE frames for one job until it reaches a terminal state, or the client goes away."""
    record = await run_in_threadpool(store.require, job_id)
    yield _sse("job", record.to_dict())
    idle, ended = 0.0, False
    while True:
        batch = await run_in_threadpool(store.events, job_id, after)
        for event in batch:
            after = event.id
            yield _sse(event.kind, {**event.data, "job_id": job_id, "time": event.time}, event.id)
            if event.kind == "state" and event.data.get("state") in TERMINAL_STATES:
                return
        if batch:
            idle = 0.0
            continue
        if ended or await request.is_disconnected():
            return
        # No new events: the job may have ended before `after` (a reconnect); look once more, then stop.
        record = await run_in_threadpool(store.require, job_id)
        if record.state in TERMINAL_STATES:
            ended = True
            continue
        idle += SSE_POLL_SECONDS
        if idle >= SSE_PING_SECONDS:
            idle = 0.0
            yield ": ping\n\n"  # a comment line: keeps proxies and the client's read timeout from closing the stream
        await asyncio.sleep(SSE_POLL_SECONDS)


def _sse(kind: str, data: dict[str, Any], event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data)}\n\n"
