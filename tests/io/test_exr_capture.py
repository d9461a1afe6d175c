"""The OpenEXR library's output captured around a call: its own lines kept, everyone else's passed through."""

import os
from pathlib import Path

import pytest

from dreamplate.io.exr_capture import library_output


def test_capture_passes_other_output_through(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    path = tmp_path / "x.exr"
    with library_output(path) as report:
        os.write(2, f"{path}: (EXR_ERR_CORRUPT_CHUNK) bad chunk\n".encode())
        os.write(2, b"another thread's log line\n")
        print("Warning: Exception raised reading pixel data for part 0 - Unable to run decoder")
        print("someone else's print")
    assert report.errors == ["(EXR_ERR_CORRUPT_CHUNK) bad chunk"]
    assert report.part_failures == ["0 - Unable to run decoder"]
    assert capfd.readouterr() == ("someone else's print\n", "another thread's log line\n")
