"""Preferences (JSON in .nuke, env overrides, the form), the install script, init.py/menu.py and the icons."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nuke
import nuke_support
import pytest
from dreamplate_nuke import icons, mapping, panels, prefs


def test_prefs_round_trip_and_env_override(tmp_path: Path) -> None:
    path = str(tmp_path / ".nuke" / "dreamplate_prefs.json")
    saved = prefs.Prefs("http://gpu-box:8765", "s3cret", [("Z:/shows", "/mnt/shows")])
    prefs.save(saved, path)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert json.loads(Path(path).read_text())["maps"] == ["Z:/shows=/mnt/shows"]
    loaded = prefs.load(path, environ={})
    assert (loaded.url, loaded.token, loaded.maps, loaded.overridden) == (
        "http://gpu-box:8765",
        "s3cret",
        [("Z:/shows", "/mnt/shows")],
        [],
    )
    farm = prefs.load(
        path,
        environ={
            "DREAMPLATE_URL": "http://farm:9000",
            "DREAMPLATE_TOKEN": "t2",
            "DREAMPLATE_MAP": "/Volumes/a=/mnt/a;/Volumes/b=/mnt/b",
        },
    )
    assert (farm.url, farm.token) == ("http://farm:9000", "t2")
    assert farm.maps == [("/Volumes/a", "/mnt/a"), ("/Volumes/b", "/mnt/b")]
    assert farm.overridden == ["url", "token", "maps"]
    assert prefs.load(str(tmp_path / "missing.json"), environ={}).url == prefs.DEFAULT_URL


def test_prefs_form_saves_to_the_prefs_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMPLATE_NUKE_PREFS", str(tmp_path / "p.json"))
    for name in ("DREAMPLATE_URL", "DREAMPLATE_TOKEN", "DREAMPLATE_MAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(nuke.Panel, "answers", {"server URL": "http://box:1", "token": "tk", "path maps": "/a=/b"})
    assert panels.show_prefs()
    assert json.loads((tmp_path / "p.json").read_text()) == {
        "url": "http://box:1",
        "token": "tk",
        "maps": ["/a=/b"],
        "poll_seconds": 0.25,
    }


def test_install_writes_one_block_and_a_rerun_changes_nothing(tmp_path: Path) -> None:
    script = nuke_support.REPO / "install" / "install_nuke.py"
    home = tmp_path / ".nuke"
    home.mkdir()
    (home / "init.py").write_text("import nuke\nnuke.pluginAddPath('/studio/tools')\n")

    def run(*args):
        return subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            check=True,
        )

    run("--nuke-home", str(home))
    first = (home / "init.py").read_text()
    run("--nuke-home", str(home))
    assert (home / "init.py").read_text() == first
    assert first.startswith("import nuke\nnuke.pluginAddPath('/studio/tools')\n# >>> dreamplate >>>")
    assert first.count("# >>> dreamplate >>>") == 1
    assert f"nuke.pluginAddPath({str(nuke_support.REPO / 'nuke_plugin')!r})" in first
    assert f"nuke.pluginAddPath({str(nuke_support.REPO / 'core')!r})" in first
    printed = run("--print-nuke-path").stdout.strip()
    assert printed == f"NUKE_PATH={nuke_support.REPO / 'nuke_plugin'}{os.pathsep}{nuke_support.REPO / 'core'}"
    run("--nuke-home", str(home), "--uninstall")
    assert (home / "init.py").read_text() == "import nuke\nnuke.pluginAddPath('/studio/tools')\n"


def test_installed_block_makes_the_plugin_and_client_importable(tmp_path: Path) -> None:
    """Run the written init.py, then the plugin's init.py and menu.py, in a fresh interpreter with the stub."""
    sys.path.insert(0, str(nuke_support.REPO / "install"))
    try:
        import install_nuke
    finally:
        sys.path.pop(0)
    init = install_nuke.install(tmp_path / ".nuke")
    pytest.importorskip("PySide6.QtWidgets")
    check = tmp_path / "nuke_start.py"
    check.write_text(
        f"""import sys
sys.path.insert(0, {str(nuke_support.HERE / "nuke_stub")!r})
import runpy
import nuke
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
runpy.run_path({str(init)!r})
runpy.run_path({str(nuke_support.REPO / "nuke_plugin" / "init.py")!r})
import nukescripts
print(sorted(nukescripts.panels.registered))  # registered before menu.py runs
runpy.run_path({str(nuke_support.REPO / "nuke_plugin" / "menu.py")!r})
import dreamplate.client
print(sorted(nuke.menu("Nodes").findItem("dreamplate").items))
print(nukescripts.restorePanel({panels.PANEL_ID!r}).widget_instance.client.url)
"""
    )
    # The server is not there (port 9): the toolbar comes from the operation list cached earlier.
    from dreamplate_nuke import ops_cache

    from dreamplate.ops.registry import describe_ops

    cache = tmp_path / "cache"
    ops_cache.save(describe_ops(), "http://127.0.0.1:9", str(cache / ops_cache.CACHE_NAME))
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DREAMPLATE_URL": "http://127.0.0.1:9",
        ops_cache.CACHE_ENV: str(cache),
        "DREAMPLATE_NUKE_PREFS": str(tmp_path / "prefs.json"),
    }
    result = subprocess.run([sys.executable, str(check)], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    registered, items, restored = result.stdout.strip().splitlines()[-3:]
    assert restored == "http://127.0.0.1:9"  # a saved workspace's pane comes back, talking to the set server
    kinds = ["dreamplate " + mapping.node_kind(op) for op in describe_ops()["ops"]]
    assert {"dreamplate Interpolate", "dreamplate Relight", "dreamplate SketchToShot", "dreamplate Keyframes"} <= set(
        kinds
    )
    assert items == str(sorted([*kinds, "Strokes from Roto", "Job queue", "Reload operations", "Preferences..."]))
    assert registered == str([panels.PANEL_ID])


def test_without_a_gui_init_py_registers_no_pane(tmp_path: Path) -> None:
    """`nuke -t` and farm sessions run init.py too, and there `nuke.menu` (used to register panes) raises."""
    check = (
        f"import sys; sys.path.insert(0, {str(nuke_support.HERE / 'nuke_stub')!r}); import runpy, nuke; "
        "nuke.GUI = False; "
        f"runpy.run_path({str(nuke_support.REPO / 'nuke_plugin' / 'init.py')!r}); "
        "import dreamplate.client, nukescripts; print(sorted(nukescripts.panels.registered)); "
        "nuke.menu('Pane')"
    )
    result = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
    assert "RuntimeError: nuke.menu('Pane'): Nuke is not in GUI mode" in result.stderr  # the stub is as strict


def test_queue_pane_opens_as_nuke_would_build_it(script: Path) -> None:
    pytest.importorskip("PySide6.QtWidgets")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    panel = panels.open_queue_panel()
    widget = panel.widget_instance
    assert widget.client.url == os.environ["DREAMPLATE_URL"]
    assert widget.server_label.text().startswith(f"server: {os.environ['DREAMPLATE_URL']} (")
    widget.close()


def test_committed_icons_are_what_the_code_draws() -> None:
    folder = nuke_support.REPO / "nuke_plugin" / "icons"
    assert {p.name: p.read_bytes() for p in folder.glob("*.png")} == icons.icons()
    text = (nuke_support.REPO / "nuke_plugin" / "menu.py").read_text()
    for name in icons.icons():
        assert name in text
