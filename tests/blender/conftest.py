"""Fixtures for the Blender extension tests: the built zip and a real `dreamplate serve` on loopback."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "server"))  # server_support: the real `dreamplate serve` helper


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installable zip, built as install/build_blender_extension.py builds it (vendored client included)."""
    spec = importlib.util.spec_from_file_location(
        "build_blender_extension", REPO / "install" / "build_blender_extension.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def blender_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, Path]]:
    """A real `dreamplate serve` on loopback whose one root is a fresh folder."""
    from server_support import start_server

    base = tmp_path_factory.mktemp("blender-server")
    root = base / "root"
    root.mkdir()
    server = start_server(base / "home", [root], base / "server.log", workers=1)
    yield server, root
    server.stop()
