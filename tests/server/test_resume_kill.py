"""kill -9 the server in the middle of a job: after a restart the job finishes, skipping what was already written."""

from __future__ import annotations

import time
from pathlib import Path

from server_support import TOKEN, interpolate_job, start_server, write_plate

from dreamplate.client import Client
from dreamplate.io.exr import read_info, verify_exr
from dreamplate.io.provenance import Provenance

SOURCE_FRAMES = 30
OUTPUT_FRAMES = 2 * SOURCE_FRAMES - 1


def test_job_resumes_after_kill_9_skipping_finished_frames_and_leaving_no_temps(tmp_path: Path) -> None:
    root, home = tmp_path / "root", tmp_path / "home"
    plate = write_plate(root / "plate", count=SOURCE_FRAMES, size=(128, 96))
    out = root / "out"
    server = start_server(home, [root], tmp_path / "server.log")
    try:
        client = Client(server.url, TOKEN, timeout=10)
        job_id = client.submit(interpolate_job(plate, str(out / "o.####.exr"), method="flow", threads=1))
        # 1. Let a few frames finish, then kill the server as a crash would.
        deadline = time.monotonic() + 30
        while client.job(job_id)["frames_done"] < 5:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.01)
        server.kill()
    finally:
        server.stop()
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("o.*.exr")}
    assert 5 <= len(before) < OUTPUT_FRAMES, "the job must be killed part way through"
    # A write cut short by the kill leaves its temp (the kill may or may not have landed mid-write; make sure).
    planted = out / ".o.1040.0123456789ab.partial.exr"
    planted.write_bytes(b"half a frame")

    # 2. Restart on the same store: the job goes back to the queue by itself and finishes.
    server = start_server(home, [root], tmp_path / "server.log")
    try:
        client = Client(server.url, TOKEN, timeout=10)
        final = client.wait(job_id, timeout=60)
        events = list(client.events(job_id))
    finally:
        server.stop()
    assert final["state"] == "done", final
    assert (final["frames_done"], final["frames_total"], final["attempts"]) == (OUTPUT_FRAMES, OUTPUT_FRAMES, 2)

    # 3. Every frame is a complete EXR with provenance; the ones from before the kill were skipped, not redone.
    frames = sorted(out.iterdir())
    assert [p.name for p in frames] == [f"o.{f}.exr" for f in range(1001, 1001 + OUTPUT_FRAMES)]  # no temps left
    for path in frames:
        verify_exr(path)
        assert Provenance.from_attributes(read_info(path)[0].attributes).operation == "interpolate"
    after = {name: (out / name).stat() for name in before}
    assert {name: (s.st_ino, s.st_mtime_ns) for name, s in after.items()} == before
    messages = [e["data"]["message"] for e in events if e["event"] == "progress"]
    assert {m.split()[1] for m in messages if m.startswith("skipped")} == set(before)
