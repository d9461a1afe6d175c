"""`dreamplate.client` against a real `dreamplate serve` on loopback, its standard-library-only promise, and load."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import TOKEN, ServerProcess, free_port, interpolate_job, start_server, write_plate

import dreamplate.client
from dreamplate.client import Client, ClientError

LOAD_JOBS = 40
LOAD_THREADS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    """One server with two workers for the whole module; its root holds a 3-frame plate."""
    base = tmp_path_factory.mktemp("client")
    root = base / "root"
    write_plate(root / "plate", count=3)
    process = start_server(base / "home", [root], base / "server.log", workers=2)
    yield process, root
    process.stop()


@pytest.fixture
def client(server) -> Client:
    return Client(server[0].url, TOKEN, timeout=10)


def _plate(root: Path) -> str:
    return str(root / "plate" / "plate.####.exr")


def test_client_module_imports_only_the_standard_library() -> None:
    """Nuke's and Blender's Python have none of dreamplate's dependencies: prove nothing else gets imported."""
    check = (
        "import sys; before = set(sys.modules); import dreamplate.client; "
        "new = {m.split('.')[0] for m in set(sys.modules) - before}; "
        "print(sorted(n for n in new if n not in sys.stdlib_module_names))"
    )
    result = subprocess.run([sys.executable, "-I", "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['dreamplate']"  # the package itself (its __init__ holds only the version)
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", "import sys, dreamplate.client; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [m for m in loaded.split("'") if m.startswith("dreamplate")] == ["dreamplate", "dreamplate.client"]
    # And with no site-packages at all (-S), loaded straight from its file as a host would ship it.
    path = Path(dreamplate.client.__file__)
    standalone = (
        "import sys, importlib.util as u; s = u.spec_from_file_location('dpclient', sys.argv[1]); "
        "m = u.module_from_spec(s); s.loader.exec_module(m); print(m.Client('http://127.0.0.1:1', 't').url)"
    )
    command = [sys.executable, "-I", "-S", "-c", standalone, str(path)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "http://127.0.0.1:1"


def test_health_tasks_and_models(client: Client) -> None:
    assert client.health()["status"] == "ok"
    interpolate = next(op for op in client.ops()["ops"] if op["name"] == "interpolate")
    assert "factor" in interpolate["params_schema"]["properties"]
    assert "loaded" in client.models()


def test_submit_and_wait_reports_progress_to_done(client: Client, server) -> None:
    root = server[1]
    seen: list[dict] = []
    job_id = client.submit(interpolate_job(_plate(root), str(root / "wait" / "o.####.exr")))
    final = client.wait(job_id, on_progress=seen.append, timeout=30)
    assert final["state"] == "done" and final["progress"] == 1.0
    done = [job["frames_done"] for job in seen if "frames_done" in job]
    assert done == sorted(done) and done[-1] == 5
    assert seen[-1]["state"] == "done"
    assert client.job(job_id)["frames_total"] == 5
    assert job_id in [job["id"] for job in client.jobs()]
    assert job_id in [job["id"] for job in client.jobs("done")]


def test_events_yield_until_the_job_ends(client: Client, server) -> None:
    root = server[1]
    job_id = client.submit(interpolate_job(_plate(root), str(root / "events" / "o.####.exr")))
    events = list(client.events(job_id))
    assert events[0]["event"] == "job"
    assert [e["data"]["done"] for e in events if e["event"] == "progress"] == [1, 2, 3, 4, 5]
    assert events[-1]["event"] == "state" and events[-1]["data"]["state"] == "done"


def test_server_errors_arrive_as_one_client_error_with_the_server_message(client: Client, server) -> None:
    root = server[1]
    with pytest.raises(ClientError, match="operation 'paint': unknown") as refused:
        client.submit({"task": "paint", "inputs": ["/a"], "output": "/b"})
    assert refused.value.status == 422
    with pytest.raises(ClientError, match="outside the server's roots") as forbidden:
        client.submit(interpolate_job("/etc/plate.####.exr", str(root / "o.####.exr")))
    assert forbidden.value.status == 403
    with pytest.raises(ClientError, match="no such job") as missing:
        client.job("nope")
    assert missing.value.status == 404
    job_id = client.submit(interpolate_job(_plate(root), str(root / "ended" / "o.####.exr")))
    client.wait(job_id, timeout=30)
    with pytest.raises(ClientError, match="already done") as conflict:
        client.cancel(job_id)
    assert conflict.value.status == 409


def test_wrong_token_and_no_server(server) -> None:
    with pytest.raises(ClientError, match="missing or wrong token") as unauthorised:
        Client(server[0].url, "wrong").jobs()
    assert unauthorised.value.status == 401
    assert Client(server[0].url, "wrong").health()["status"] == "ok"
    with pytest.raises(ClientError, match="cannot reach the dreamplate server") as unreachable:
        Client(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=2).health()
    assert unreachable.value.status is None


def test_token_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DREAMPLATE_TOKEN", "env-token")
    assert Client().token == "env-token"
    monkeypatch.delenv("DREAMPLATE_TOKEN")
    monkeypatch.setenv("DREAMPLATE_HOME", str(tmp_path))
    (tmp_path / "token").write_text("file-token\n")
    assert Client().token == "file-token"


def test_wait_times_out_with_a_client_error(client: Client, server) -> None:
    root = server[1]
    plate = write_plate(root / "long", count=12, size=(128, 96))
    job_id = client.submit(interpolate_job(plate, str(root / "long-out" / "o.####.exr"), threads=1))
    with pytest.raises(ClientError, match="still running after 0.05 s"):
        client.wait(job_id, timeout=0.05)
    cancelled = client.cancel(job_id)
    assert cancelled["cancel_requested"]
    assert client.wait(job_id, timeout=30)["state"] in ("cancelled", "done")


def test_many_concurrent_jobs_all_end_done_or_failed_with_a_reason(client: Client, server) -> None:
    """40 jobs from 8 threads at once over loopback; every tenth names a missing plate and must fail, saying why."""
    root = server[1]
    ids: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit(indices: range) -> None:
        own = Client(server[0].url, TOKEN, timeout=30)
        for index in indices:
            plate = _plate(root) if index % 10 else str(root / "missing" / "plate.####.exr")
            try:
                job_id = own.submit(interpolate_job(plate, str(root / "load" / f"{index:02d}" / "o.####.exr")))
            except ClientError as exc:
                with lock:
                    errors.append(exc)
                continue
            with lock:
                ids.append((index, job_id))

    started = time.monotonic()
    per_thread = LOAD_JOBS // LOAD_THREADS
    threads = [
        threading.Thread(target=submit, args=(range(t * per_thread, (t + 1) * per_thread),))
        for t in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    submitted = time.monotonic() - started
    assert not errors and len(ids) == LOAD_JOBS
    assert len({job_id for _, job_id in ids}) == LOAD_JOBS
    finals = {index: client.wait(job_id, timeout=60) for index, job_id in ids}
    finished = time.monotonic() - started
    for index, job in finals.items():
        if index % 10:
            assert job["state"] == "done", job
            assert len(list((root / "load" / f"{index:02d}").glob("o.*.exr"))) == 5
        else:
            assert job["state"] == "failed" and "missing" in job["error"], job
    listed = {job["id"] for job in client.jobs()}
    assert {job_id for _, job_id in ids} <= listed
    print(f"load: {LOAD_JOBS} jobs submitted in {submitted:.2f} s, all ended in {finished:.2f} s")


def test_client_parses_as_python_3_7_for_nuke_13() -> None:
    """Nuke 13 runs Python 3.7 and imports this module: no 3.8+ syntax, no str.removeprefix (3.9)."""
    import ast

    text = Path(dreamplate.client.__file__).read_text()
    ast.parse(text, feature_version=(3, 7))
    assert ".removeprefix(" not in text and ".removesuffix(" not in text


def test_path_maps_are_read_the_same_way_by_every_host() -> None:
    from dreamplate.client import PathMaps, swap_prefix

    maps = PathMaps.parse("Z:\\shows=/mnt/shows; /Volumes/proj=/proj\n/Volumes/proj/fast=/fast")
    assert maps.to_server("z:/shows/a/plate.####.exr") == "/mnt/shows/a/plate.####.exr"  # any case, either slash
    assert maps.to_server("/Volumes/proj/fast/x.exr") == "/fast/x.exr"  # the longest prefix wins
    assert maps.to_server("/Volumes/project/x.exr") == "/Volumes/project/x.exr"  # whole folders only
    assert maps.to_client("/mnt/shows/a/out.####.exr") == "Z:\\shows\\a\\out.####.exr"
    assert swap_prefix("/a/b.exr", "/", "/srv") == "/srv/a/b.exr"
    assert swap_prefix("/srv", "/srv", "/") == "/"
    with pytest.raises(ValueError, match="'nonsense'"):
        PathMaps.parse("nonsense")
