"""Fixtures for server tests: a private DREAMPLATE_HOME, a root folder and an in-process app (TestClient)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from server_support import TOKEN


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DREAMPLATE_HOME (job store, token file) and no token in the environment."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("DREAMPLATE_HOME", str(folder))
    monkeypatch.delenv("DREAMPLATE_TOKEN", raising=False)
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The one folder the server may touch."""
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


@pytest.fixture
def make_api(home: Path, root: Path) -> Iterator[Callable[..., object]]:
    """`make_api(workers=1, maps=None)`: a started TestClient on a fresh app (store in `home`, `root` allowed)."""
    from fastapi.testclient import TestClient

    from dreamplate.jobs.store import JobStore
    from dreamplate.server.app import ServerConfig, create_app
    from dreamplate.server.security import PathPolicy

    opened: list[tuple[TestClient, JobStore]] = []

    def make(workers: int = 1, maps: list | None = None, max_body_bytes: int | None = None) -> TestClient:
        store = JobStore.open(home)
        config = ServerConfig(token=TOKEN, policy=PathPolicy([root], maps), store=store, workers=workers)
        if max_body_bytes is not None:
            config.max_body_bytes = max_body_bytes
        client = TestClient(create_app(config), headers={"Authorization": f"Bearer {TOKEN}"})
        client.__enter__()  # runs the lifespan: workers start
        opened.append((client, store))
        return client

    yield make
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


@pytest.fixture
def api(make_api: Callable[..., object]) -> object:
    """A TestClient with one worker, sending the right token."""
    return make_api()
