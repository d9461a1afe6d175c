"""Reaching the server from worker threads (`dreamplate_blender.connection`), without Blender."""

from __future__ import annotations

import sys

import pytest
from blender_support import load_hostfree
from server_support import free_port

connection = load_hostfree("connection")
clientlib = load_hostfree("clientlib")
mapping = load_hostfree("mapping")


def test_no_server_and_no_local_one_is_the_networks_line() -> None:
    settings = connection.ServerSettings(f"http://127.0.0.1:{free_port()}", "t")
    with pytest.raises(clientlib.ClientError, match="cannot reach the dreamplate server"):
        connection.connect(settings)


def test_a_local_server_that_exits_says_so() -> None:
    command = (sys.executable, "-c", "raise SystemExit(3)")
    settings = connection.ServerSettings(f"http://127.0.0.1:{free_port()}", "t", command)
    local = connection.LocalServer()
    with pytest.raises(mapping.MappingError, match="dreamplate serve exited with 3"):
        connection.connect(settings, local)
    local.stop()
