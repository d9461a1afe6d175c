"""Fixtures for job tests: a tiny ACEScg demo plate and an interpolate job over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import plates
import pytest

from dreamplate.io.exr import read_exr
from dreamplate.jobs.spec import JobSpec

SIZE = (96, 64)
FIRST = 1001
SOURCE_FRAMES = 9  # factor 2 makes 17 output frames, 1001-1017


def write_plate(folder: Path, frames: range = range(FIRST, FIRST + SOURCE_FRAMES)) -> str:
    """A small demo plate (RGBA + Z, highlights far above 1.0) tagged ACEScg; returns its pattern."""
    return plates.write_plate(folder, frames, SIZE)


def interpolate_job(plate: str, output: Path) -> JobSpec:
    """A 2x flow retime of `plate` into `output` (a #### pattern)."""
    return JobSpec(task="interpolate", inputs=[plate], output=str(output), params={"factor": 2, "method": "flow"})


def assert_same_frames(a_dir: Path, b_dir: Path, names: list[str]) -> None:
    """Every named frame holds the same channels in both folders, bit for bit."""
    for name in names:
        a, b = read_exr(a_dir / name), read_exr(b_dir / name)
        assert sorted(a.channels) == sorted(b.channels), name
        for channel in a.channels:
            np.testing.assert_array_equal(
                a.channels[channel].view(np.uint8), b.channels[channel].view(np.uint8), err_msg=f"{name} {channel}"
            )


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The plate, written once per module: its frames are only read."""
    return write_plate(tmp_path_factory.mktemp("plate"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, plate: str) -> Path:
    """The job's 17 output frames from a plain in-process run: what every other way of running must reproduce."""
    from dreamplate.jobs.spec import run_task

    out_dir = tmp_path_factory.mktemp("reference")
    result = run_task(interpolate_job(plate, out_dir / "out.####.exr"))
    assert len(result.written) == 2 * SOURCE_FRAMES - 1
    return out_dir


@pytest.fixture
def output_names() -> list[str]:
    return [f"out.{frame}.exr" for frame in range(FIRST, FIRST + 2 * SOURCE_FRAMES - 1)]


@pytest.fixture
def job_for(plate: str) -> Callable[..., JobSpec]:
    """`job_for(out_dir, source=plate)`: an interpolate job writing `out_dir/out.####.exr`."""
    return lambda out_dir, source=None: interpolate_job(source or plate, out_dir / "out.####.exr")


@pytest.fixture
def make_plate() -> Callable[[Path], str]:
    """`make_plate(folder)`: a fresh plate a test may damage; returns its pattern."""
    return write_plate


@pytest.fixture
def same_frames() -> Callable[[Path, Path, list[str]], None]:
    return assert_same_frames
