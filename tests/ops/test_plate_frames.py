"""The resume rule and the run over output frames: finished frames skipped, the rest written, every frame reported."""

from pathlib import Path

import numpy as np
import pytest

from dreamplate.errors import Cancelled
from dreamplate.io.exr import ExrImage, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.frames import FrameRun, finished
from dreamplate.ops.plate.progress import FrameProgress
from dreamplate.ops.plate.result import PlateResult

BOX = (0, 0, 3, 1)


def _provenance(frame: int, **changes) -> Provenance:
    fields = {"operation": "relight", "method": "v2v", "parameters": {"seed": 0}, "sources": [f"p.{frame}.exr"]}
    return Provenance(**{**fields, **changes})


def _write(path: Path, provenance: Provenance) -> None:
    pixels = {"R": np.zeros((2, 4), np.float32)}
    write_exr(path, ExrImage(pixels, {"R": "half"}, BOX, BOX, attributes=provenance.to_attributes()))


def test_a_frame_is_finished_when_its_provenance_matches_whatever_ran_the_model(tmp_path: Path) -> None:
    path = tmp_path / "o.0001.exr"
    assert not finished(path, _provenance(1))
    _write(path, _provenance(1, runtime="cpu float32 (torch 2.5)", version="0.1"))
    assert finished(path, _provenance(1, runtime="CUDAExecutionProvider"))
    assert not finished(path, _provenance(1, parameters={"seed": 1}))
    assert not finished(path, _provenance(1, sources=["other.exr"]))
    assert not finished(path, _provenance(1, weights_sha256="ab" * 32))


def test_a_damaged_output_is_not_finished(tmp_path: Path) -> None:
    (tmp_path / "o.0001.exr").write_bytes(b"v/1\x01 cut off")
    assert not finished(tmp_path / "o.0001.exr", _provenance(1))


def test_a_display_referred_output_is_finished_once_it_exists(tmp_path: Path) -> None:
    assert not finished(tmp_path / "o.0001.png", _provenance(1))
    (tmp_path / "o.0001.png").write_bytes(b"png")
    assert finished(tmp_path / "o.0001.png", _provenance(1))


def _run(tmp_path: Path, cancelled=lambda: False) -> tuple[FrameRun, list[tuple[int, str]]]:
    seen: list[tuple[int, str]] = []
    outputs = {f: tmp_path / f"o.{f:04d}.exr" for f in (1, 2, 3, 4)}
    progress = FrameProgress("relight", 4, lambda done, total, message: seen.append((done, message)), cancelled)
    return FrameRun(outputs, _provenance, progress, PlateResult(output="o.####.exr")), seen


def test_finished_frames_are_skipped_and_every_frame_is_reported_in_order(tmp_path: Path) -> None:
    # The job runner marks frames done by the count it is told, so skipped frames must be counted one by one too.
    _write(tmp_path / "o.0002.exr", _provenance(2))
    frames, seen = _run(tmp_path)
    pending = frames.pending([1, 2, 3, 4])
    assert pending == [1, 3, 4] and frames.pending([1, 2, 3, 4], force=True) == [1, 2, 3, 4]
    result = frames.write([1, 2, 3, 4], pending, lambda frame, path, provenance: _write(path, provenance))
    assert [p.name for p in result.written] == ["o.0001.exr", "o.0003.exr", "o.0004.exr"]
    assert [p.name for p in result.skipped] == ["o.0002.exr"]
    assert seen == [
        (1, "wrote o.0001.exr"),
        (2, "skipped o.0002.exr (already written)"),
        (3, "wrote o.0003.exr"),
        (4, "wrote o.0004.exr"),
    ]
    assert all(finished(path, _provenance(f)) for f, path in frames.outputs.items())


def test_a_cancel_stops_before_the_next_frame_and_keeps_those_written(tmp_path: Path) -> None:
    frames, seen = _run(tmp_path, cancelled=lambda: len(seen) >= 2)
    with pytest.raises(Cancelled, match="relight: cancelled after 2 of 4 frames"):
        frames.write([1, 2, 3, 4], [1, 2, 3, 4], lambda frame, path, provenance: _write(path, provenance))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.0001.exr", "o.0002.exr"]
