"""Ray fan-out on a real local Ray runtime (CPU): chunks as Ray tasks, progress, cancel and failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dreamplate.errors import Cancelled, InputError, JobError
from dreamplate.io.exr import read_info
from dreamplate.io.provenance import Provenance
from dreamplate.jobs.ray_exec import run_on_ray
from dreamplate.jobs.spec import JobSpec


@pytest.fixture(scope="module", autouse=True)
def ray_runtime() -> Iterator[None]:
    """One local Ray runtime for the module (its start-up is the slow part); run_on_ray reuses it, never stops it."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_chunks_reproduce_the_in_process_run_bit_for_bit(
    tmp_path: Path, job_for: Callable[..., JobSpec], reference: Path, output_names: list[str], same_frames
) -> None:
    calls: list[tuple[int, int, str]] = []
    run_on_ray(job_for(tmp_path), "local", progress=lambda *call: calls.append(call), chunk_size=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == output_names
    same_frames(reference, tmp_path, output_names)
    # One report at submission, one per chunk as it finishes (in any order: the 5-frame chunk may come first).
    assert calls[0][:2] == (0, 17) and calls[-1][:2] == (17, 17) and len(calls) == 4
    assert sorted(b[0] - a[0] for a, b in zip(calls, calls[1:], strict=False)) == [5, 6, 6]
    assert all(total == 17 for _, total, _ in calls)
    assert any("frames 1013-1017 done" in message for _, _, message in calls)


def test_cancel_stops_outstanding_chunks_and_keeps_finished_frames(
    tmp_path: Path, job_for: Callable[..., JobSpec], output_names: list[str]
) -> None:
    job = job_for(tmp_path)
    done: list[int] = []
    with pytest.raises(Cancelled, match="cancelled on Ray after"):
        # 9 chunks of 2 on 2 CPUs: cancel as soon as the first chunk is back.
        run_on_ray(job, "local", progress=lambda d, t, m: done.append(d), cancelled=lambda: done[-1] > 0, chunk_size=2)
    written = sorted(p.name for p in tmp_path.glob("out.*.exr"))
    assert 2 <= len(written) < len(output_names)
    assert not list(tmp_path.glob(".*partial*")), "a cancelled chunk left a half-written frame"
    for name in written:  # every frame there is complete and carries its provenance
        assert Provenance.from_attributes(read_info(tmp_path / name)[0].attributes) is not None
    finished = {name: (tmp_path / name).stat().st_mtime_ns for name in written}
    # A re-run finishes the job and skips what the cancelled run wrote.
    run_on_ray(job, "local", chunk_size=2)
    assert sorted(p.name for p in tmp_path.glob("out.*.exr")) == output_names
    assert {name: (tmp_path / name).stat().st_mtime_ns for name in written} == finished


def test_a_failing_chunk_names_its_frames_and_the_remote_error(
    tmp_path: Path, make_plate: Callable[[Path], str], job_for: Callable[..., JobSpec]
) -> None:
    plate = make_plate(tmp_path / "in")
    (tmp_path / "in" / "plate.1005.exr").write_bytes(b"not an exr" * 20)  # damaged source in the middle
    job = job_for(tmp_path / "out", plate)
    with pytest.raises(JobError, match=r"frames 1007-1012 failed on Ray: .*plate\.1005\.exr: not an OpenEXR file$"):
        run_on_ray(job, "local", chunk_size=6)
    # Only the chunk that reads plate.1005 fails; the others finish, so a re-run after the fix redoes 6 frames.
    written = sorted(int(p.name.split(".")[1]) for p in (tmp_path / "out").glob("out.*.exr"))
    assert written == [*range(1001, 1007), *range(1013, 1018)]


def test_a_bad_spec_fails_before_anything_is_submitted(tmp_path: Path) -> None:
    job = JobSpec(task="interpolate", inputs=[str(tmp_path / "none.####.exr")], output=str(tmp_path / "o.####.exr"))
    with pytest.raises(InputError, match="none.####.exr"):
        run_on_ray(job, "local")
    assert not list(tmp_path.iterdir())


def test_an_address_where_nothing_listens_fails_fast() -> None:
    # Ray itself retries an unreachable head for minutes; the address is checked first (the module's runtime
    # would be reused by run_on_ray whatever the address, so the check is called directly).
    import socket

    from dreamplate.jobs.ray_exec import _check_reachable

    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        with pytest.raises(JobError, match=rf"--ray {address}: nothing answers there"):
            _check_reachable(address)
