"""Host-free logic of the Blender extension (`dreamplate_blender.mapping` and `.jobs`), without Blender."""

from __future__ import annotations

import pytest
from blender_support import load_hostfree

mapping = load_hostfree("mapping")
jobs = load_hostfree("jobs")


def test_path_map_round_trips_windows_and_posix_prefixes() -> None:
    paths = mapping.PathMap.parse("Z:\\shows=/mnt/shows; /Volumes/proj=/proj")
    assert paths.to_server("Z:\\shows\\a\\plate.####.exr") == "/mnt/shows/a/plate.####.exr"
    assert paths.to_server("/Volumes/proj/x.exr") == "/proj/x.exr"
    assert paths.to_server("/Volumes/project/x.exr") == "/Volumes/project/x.exr"  # a prefix is whole folders
    assert paths.to_client("/mnt/shows/a/out.####.exr") == "Z:\\shows\\a\\out.####.exr"
    with pytest.raises(mapping.MappingError, match="'nonsense'"):
        mapping.PathMap.parse("nonsense")


def test_sequence_from_strip_elements_needs_a_contiguous_run() -> None:
    source = mapping.sequence_from_files("/s", ["plate.1001.exr", "plate.1002.exr", "plate.1003.exr"])
    assert (source.pattern, source.first, source.last, source.frames) == ("/s/plate.####.exr", 1001, 1003, "1001-1003")
    with pytest.raises(mapping.MappingError, match="frame 1002 missing"):
        mapping.sequence_from_files("/s", ["plate.1001.exr", "plate.1003.exr"])
    with pytest.raises(mapping.MappingError, match="no frame number"):
        mapping.split_frame("plate.exr")


def test_sequence_on_disk_finds_the_run_around_a_file() -> None:
    names = ["a.0009.exr", "a.0010.exr", "a.0011.exr", "a.0013.exr", "b.0010.exr", "a.10.exr"]
    source = mapping.sequence_on_disk("/x/a.0010.exr", names)
    assert (source.pattern, source.first, source.last) == ("/x/a.####.exr", 9, 11)


def test_interpolated_count_and_free_channel() -> None:
    assert mapping.interpolated_count(4, 3) == 10
    with pytest.raises(mapping.MappingError, match="at least 2 frames"):
        mapping.interpolated_count(1, 2)
    occupied = [(1, 1, 10), (2, 5, 8), (3, 20, 30)]
    assert mapping.free_channel(occupied, 1, 10, above=1) == 3
    assert mapping.free_channel(occupied, 10, 20, above=1) == 2


def test_jobs_carry_the_colour_space_as_an_interop_id_and_mapped_paths() -> None:
    paths = mapping.PathMap.parse("/local=/server")
    source = mapping.SequenceSource("/local/p.####.exr", 1, 4)
    job = mapping.interpolate_job(source, "/local/o.####.exr", 2, "flow", "ACEScg", paths)
    assert job == {
        "task": "interpolate",
        "inputs": ["/server/p.####.exr"],
        "output": "/server/o.####.exr",
        "params": {"factor": 2, "method": "flow", "frames": "1-4", "colorspace": "lin_ap1_scene"},
    }
    relight = mapping.plate_job("relight", source, "/local/r.####.exr", "Linear Rec.709", paths, strength=0.0, model="")
    assert relight["params"] == {"frames": "1-4", "strength": 0.0, "colorspace": "lin_rec709_scene"}  # no empty model
    keys = mapping.keyframes_job("/local/a.exr", "/local/b.exr", 1001, 25, "/local/k.####.exr", "ACEScg", paths)
    assert keys["params"]["keys"] == {"1001": "/server/a.exr", "1025": "/server/b.exr"}
    assert keys["inputs"] == ["/server/a.exr", "/server/b.exr"]
    assert mapping.interop_id("Some Custom Space") == "Some Custom Space"  # the server names what it cannot resolve


def test_local_server_command_is_loopback_only() -> None:
    assert mapping.server_command("dreamplate", "http://127.0.0.1:9000", ["/a", "/b"]) == [
        "dreamplate",
        "serve",
        "--port",
        "9000",
        "--root",
        "/a",
        "--root",
        "/b",
    ]
    with pytest.raises(mapping.MappingError, match="on this machine"):
        mapping.server_command("dreamplate", "http://gpu-box:8765", ["/a"])


class FakeClient:
    """Answers like the server: queued, then running with progress, then whatever `cancel` made it."""

    def __init__(self) -> None:
        self.states = iter([{"state": "running", "frames_done": 1, "frames_total": 4, "progress": 0.25}])
        self.cancelled = False

    def submit(self, job: dict) -> str:
        return "j1"

    def job(self, job_id: str) -> dict:
        if self.cancelled:
            return {"state": "cancelled", "frames_done": 2, "frames_total": 4, "progress": 0.5}
        return next(self.states, {"state": "done", "frames_done": 4, "frames_total": 4, "progress": 1.0})

    def cancel(self, job_id: str) -> dict:
        self.cancelled = True
        return {"state": "running", "frames_done": 2, "frames_total": 4, "progress": 0.5, "cancel_requested": True}


def test_watch_polls_to_done_and_escape_cancels_once() -> None:
    board = jobs.Board()
    watch = jobs.JobWatch(FakeClient(), {"task": "interpolate"}, "x", board)
    assert watch.poll()["state"] == "running" and board.entries["j1"].status == "running 1/4 frames"
    assert watch.wait(interval=0)["state"] == "done" and board.active() == []

    client = FakeClient()
    watch = jobs.JobWatch(client, {}, "y", board)
    watch.escape()
    watch.escape()  # a second Esc sends nothing more
    assert watch.wait(interval=0)["state"] == "cancelled" and board.entries["j1"].state == "cancelled"
    board.clear_finished()
    assert board.entries == {}
