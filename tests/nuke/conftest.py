"""Nuke plugin tests: the `nuke` stub and `nuke_plugin/` on sys.path, a fresh script per test, one real server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# isort: off
import nuke_support  # noqa: F401  (first: puts the stub, nuke_plugin/ and the server helpers on sys.path)
import nuke  # the stub
from server_support import TOKEN, ServerProcess, start_server

# isort: on


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """A real `dreamplate serve` on loopback whose one root holds the comps and plates of this module's tests."""
    base = tmp_path_factory.mktemp("nuke")
    root = base / "root"
    root.mkdir()
    process = start_server(base / "home", [root], base / "server.log", workers=1)
    yield process, root
    process.stop()


@pytest.fixture(scope="module")
def tiny_ltx(server: tuple[ServerProcess, Path]) -> str:
    """A tiny random LTX-Video model inside the server's root (`dreamplate models init-random ltx`, seconds)."""
    _, root = server
    folder = root / "models" / "ltx"
    command = [sys.executable, "-m", "dreamplate.cli", "models", "init-random", "ltx", str(folder)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return str(folder)


@pytest.fixture
def script(server: tuple[ServerProcess, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A new, saved, OCIO-managed comp inside the server's root; prefs point at the server, whose operation list is
    cached as the menu's refresh leaves it. Returns the comp folder."""
    from dreamplate_nuke import ops_cache

    process, root = server
    monkeypatch.setenv("DREAMPLATE_URL", process.url)
    monkeypatch.setenv("DREAMPLATE_TOKEN", TOKEN)
    monkeypatch.delenv("DREAMPLATE_MAP", raising=False)
    monkeypatch.delenv(ops_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("DREAMPLATE_NUKE_PREFS", str(tmp_path / "dreamplate_prefs.json"))
    ops_cache.fetch()
    monkeypatch.setattr(nuke, "GUI", True)
    nuke.reset()
    comp = root / tmp_path.name
    comp.mkdir()
    nuke.root()["name"].setValue(str(comp / "shot.nk"))
    nuke.root()["colorManagement"].setValue("OCIO")
    nuke.root()["workingSpaceLUT"].setValue("ACEScg")
    return comp
