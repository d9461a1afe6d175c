"""`dreamplate_nuke.ops_cache` and `toolbar`: the operation list cached on disk by version, the menus built from it.

Nuke starts, makes nodes and renders saved scripts with the server unreachable; the list is fetched off the main
thread and the menus follow when its version changes; a saved script renders headless with no cache at all.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import nuke
import pytest
from dreamplate_nuke import mapping, nodes, ops_cache, toolbar
from nuke_support import copy_sequence, headless, make_read
from ops_support import NAME, throwaway_op
from server_support import TOKEN

from dreamplate.client import Client
from dreamplate.ops.registry import describe_ops


def test_the_cache_is_written_once_per_version_and_a_bad_file_reads_as_none(tmp_path: Path, caplog) -> None:
    path = str(tmp_path / "dp" / ops_cache.CACHE_NAME)
    description = describe_ops()
    assert ops_cache.load(path) is None
    assert ops_cache.save(description, "http://box:1", path)
    assert not ops_cache.save(description, "http://box:1", path)  # same version: left as it is
    data = json.loads(Path(path).read_text())
    assert (data["schema"], data["version"], data["url"]) == (
        ops_cache.CACHE_SCHEMA,
        description["version"],
        "http://box:1",
    )
    assert ops_cache.load(path) == description
    with throwaway_op():
        assert ops_cache.save(describe_ops(), "http://box:1", path)  # a new operation: a new version
    assert NAME in [op["name"] for op in ops_cache.load(path)["ops"]]
    Path(path).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        assert ops_cache.load(path) is None
    assert "cannot read the cached operation list" in caplog.text
    Path(path).write_text(json.dumps({"schema": "dreamplate.nuke.ops-cache/0"}))
    assert ops_cache.load(path) is None


def test_the_cache_holds_the_servers_list_under_its_version(script: Path) -> None:
    """The script fixture fetched it, as the menu's refresh does: the server's description, ETag and all."""
    served = Client(os.environ["DREAMPLATE_URL"], TOKEN).ops()
    cached = ops_cache.load()
    assert cached == served and cached["version"] == describe_ops()["version"]
    assert Path(ops_cache.cache_path()) == Path(os.environ["DREAMPLATE_NUKE_PREFS"]).parent / "dreamplate" / "ops.json"


def _entries() -> dict:
    return nuke.menu("Nodes").findItem("dreamplate").items


def test_the_toolbar_is_built_from_the_cache_without_waiting_on_the_server(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DREAMPLATE_URL", "http://127.0.0.1:9")  # nothing listens there
    thread = toolbar.install({"relight": "dreamplate_relight.png"})
    # Filled from the cache before the refresh has answered.
    assert "dreamplate SketchToShot" in _entries()
    assert _entries()["dreamplate Relight"]["icon"] == "dreamplate_relight.png"
    assert _entries()["dreamplate Keyframes"]["icon"] == "dreamplate.png"
    assert _entries()["dreamplate Relight"]["command"].endswith("dreamplate_nuke.nodes.create('relight')")
    thread.join(30)
    nuke.pump()
    assert nuke.messages == []  # at start-up an unreachable server is only logged
    assert "dreamplate Relight" in nuke.menu("Nuke").findItem("dreamplate").items


def test_with_no_cache_the_refresh_fetches_off_the_main_thread_and_the_menus_follow(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(ops_cache.cache_path()).unlink()
    thread = toolbar.install({})
    assert sorted(_entries()) == ["Job queue", "Preferences...", "Reload operations", "Strokes from Roto"]
    thread.join(30)
    nuke.pump()  # the menus are rebuilt on the main thread (the stub refuses menu edits from any other)
    assert [name for name in _entries() if name.startswith("dreamplate ")] == [
        "dreamplate " + mapping.node_kind(op) for op in describe_ops()["ops"]
    ]
    assert ops_cache.load()["version"] == describe_ops()["version"]
    monkeypatch.setenv("DREAMPLATE_URL", "http://127.0.0.1:9")  # Reload operations with the server gone: a message
    toolbar.refresh().join(30)
    nuke.pump()
    assert len(nuke.messages) == 1 and nuke.messages[0].startswith(
        "dreamplate: operation list not refreshed: cannot reach the dreamplate server at http://127.0.0.1:9"
    )


def test_a_new_operation_on_the_server_is_a_new_toolbar_entry(script: Path) -> None:
    with throwaway_op():
        toolbar.fill(describe_ops())
    entry = _entries()["dreamplate Throwaway"]
    assert entry["command"] == f"import dreamplate_nuke.nodes; dreamplate_nuke.nodes.create({NAME!r})"
    assert entry["tooltip"] == "a test-only operation that appears everywhere without host code"


def test_offline_a_node_is_made_from_the_cache_and_the_saved_script_renders_headless_once_the_server_is_up(
    script: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live = os.environ["DREAMPLATE_URL"]
    monkeypatch.setenv("DREAMPLATE_URL", "http://127.0.0.1:9")
    opened = Client._open
    monkeypatch.setattr(Client, "_open", lambda *a, **k: pytest.fail("making a node used the network"))
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    node = nodes.create("Relight")
    node.setName("Relight_farm")
    node["strength"].setValue(0.0)
    nuke.scriptSaveAs(str(script / "farm.nk"))
    monkeypatch.setattr(Client, "_open", opened)

    # The farm: no cache at all; the node's knobs and operation record are in the script.
    monkeypatch.setenv(ops_cache.CACHE_ENV, str(tmp_path / "farm_cache"))
    monkeypatch.setenv("DREAMPLATE_URL", live)
    done = headless(script / "farm.nk", "Relight_farm")

    assert done.returncode == 0, done.stderr
    assert "done: job " in done.stdout.splitlines()[-1]
    assert sorted(p.name for p in (script / "dreamplate" / "Relight_farm").glob("*.exr")) == [
        "Relight_farm.1001.exr",
        "Relight_farm.1002.exr",
    ]
    assert not (tmp_path / "farm_cache").exists()
