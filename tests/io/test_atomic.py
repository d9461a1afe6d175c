"""atomic_path: a file appears complete under its name, or the old one stays as it was."""

from pathlib import Path

import pytest

from dreamplate.errors import InputError
from dreamplate.io.atomic import atomic_path


def test_the_file_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    target = tmp_path / "frame.1001.exr"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
        assert tmp.suffix == ".exr" and tmp.parent == tmp_path
        assert not target.exists()
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["frame.1001.exr"]


def test_a_failing_block_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "frame.1001.exr"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half written")
        raise RuntimeError("writer died")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["frame.1001.exr"]


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match=r"nope/frame.exr: output folder .* does not exist"),
        atomic_path(tmp_path / "nope" / "frame.exr"),
    ):
        pass
