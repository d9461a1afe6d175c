"""The `dreamplate` command as a user runs it: a real subprocess, its exit code and what it prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "onnxruntime", "transformers", "ray")


def _dreamplate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dreamplate.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_import_stays_light() -> None:
    code = (
        "import sys, dreamplate, dreamplate.cli, dreamplate.errors;"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_demo_writes_half_exrs_and_resumes(tmp_path: Path) -> None:
    first = _dreamplate("demo", "--frames", "3", "--width", "128", "--height", "72", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    frames = sorted((tmp_path / "dreamplate_demo" / "retime").glob("retime.*.exr"))
    assert [f.name for f in frames] == [f"retime.{n}.exr" for n in range(1001, 1006)]
    assert "dreamplate_demo/retime/retime.####.exr" in first.stdout
    again = _dreamplate("demo", "--frames", "3", "--width", "128", "--height", "72", cwd=tmp_path)
    assert again.returncode == 0 and "5 already there" in again.stdout


def test_interpolate_two_frames_and_info(tmp_path: Path) -> None:
    _dreamplate("demo", "--frames", "2", "--width", "96", "--height", "64", cwd=tmp_path)
    plate = tmp_path / "dreamplate_demo" / "plate"
    run = _dreamplate(
        "interpolate",
        str(plate / "plate.1001.exr"),
        str(plate / "plate.1002.exr"),
        "-o",
        str(tmp_path / "mid.exr"),
    )
    assert run.returncode == 0, run.stderr
    info = _dreamplate("info", str(tmp_path / "mid.exr"))
    assert info.returncode == 0, info.stderr
    assert "ACEScg" in info.stdout and "interpolate/flow" in info.stdout and "source frames [0.5]" in info.stdout


def test_quiet_hides_the_progress_bar_as_well_as_the_log(tmp_path: Path) -> None:
    """`-q` promised warnings and errors only, yet the progress bar still drew on stderr."""
    run = _dreamplate("-q", "demo", "--frames", "2", "--width", "96", "--height", "64", cwd=tmp_path)
    assert run.returncode == 0 and run.stderr == ""
    assert "dreamplate_demo/retime/retime.####.exr" in run.stdout  # what was written is the result, not a log


def test_bad_input_is_one_line_and_non_zero(tmp_path: Path) -> None:
    run = _dreamplate("interpolate", str(tmp_path / "nope.####.exr"), "-o", str(tmp_path / "o.####.exr"))
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: ") and "nope.####.exr" in lines[0]
    assert "Traceback" not in run.stderr


def test_info_reports_each_damaged_file_on_one_line_and_carries_on(shared_data: Path) -> None:
    damaged = sorted(p for p in (shared_data / "exr" / "Damaged").iterdir() if p.suffix != ".rst")[:12]
    good = shared_data / "exr" / "ScanLines" / "Carrots.exr"
    run = _dreamplate("info", *map(str, damaged), str(good))
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == len(damaged)
    assert all(any(p.name in line for p in damaged) for line in errors)
    assert "Traceback" not in run.stderr
    assert "Carrots.exr" in run.stdout


@pytest.mark.parametrize("args", [["--times", "0.5,1.5"], ["--factor", "2", "--times", "0.5"]])
def test_contradictory_options_fail_cleanly(tmp_path: Path, args: list[str]) -> None:
    run = _dreamplate("interpolate", "a.exr", "b.exr", "-o", str(tmp_path / "m.exr"), *args)
    assert run.returncode == 1 and run.stderr.startswith("ERROR: ")


def test_doctor_names_the_config_and_model_space() -> None:
    run = _dreamplate("doctor")
    assert run.returncode == 0, run.stderr
    assert "ocio_configs" in run.stdout and "scene_linear ACEScg" in run.stdout
    assert "dreamplate_log" in run.stdout and "onnxruntime" in run.stdout


def test_doctor_refuses_a_missing_config_in_one_line(tmp_path: Path) -> None:
    run = _dreamplate("doctor", "--ocio", str(tmp_path / "missing.ocio"))
    assert run.returncode == 1 and run.stderr.startswith("ERROR: --ocio") and "Traceback" not in run.stderr
