"""Host-free logic of the Blender extension (`dreamplate_blender.mapping`), without Blender."""

from __future__ import annotations

import pytest
from blender_support import load_hostfree

mapping = load_hostfree("mapping")


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


def test_free_channel_and_retime_speed() -> None:
    occupied = [(1, 1, 10), (2, 5, 8), (3, 20, 30)]
    assert mapping.free_channel(occupied, 1, 10, above=1) == 3
    assert mapping.free_channel(occupied, 10, 20, above=1) == 2
    assert mapping.retime_speed(4, 10) == 3.0  # 3 gaps become 9: three times as fast to span the same time
    assert mapping.retime_speed(4, 4) == 1.0 and mapping.retime_speed(1, 5) == 1.0


def test_jobs_carry_mapped_paths_and_keys() -> None:
    paths = mapping.PathMap.parse("/local=/server")
    job = mapping.job("relight", ["/local/p.####.exr"], "/local/o.####.exr", {"strength": 0.0}, paths)
    assert job == {
        "task": "relight",
        "inputs": ["/server/p.####.exr"],
        "output": "/server/o.####.exr",
        "params": {"strength": 0.0},
    }
    keys = mapping.keys_param("/local/a.exr", "/local/b.exr", 1001, 25, paths)
    assert keys == {"1001": "/server/a.exr", "1025": "/server/b.exr"}
    with pytest.raises(mapping.MappingError, match="3 or more"):
        mapping.keys_param("/a.exr", "/b.exr", 1, 2)
    assert mapping.interop_id("ACEScg") == "lin_ap1_scene"
    assert mapping.interop_id("Some Custom Space") == "Some Custom Space"  # the server names what it cannot resolve


def test_output_sequence_is_what_the_job_wrote() -> None:
    names = ["out.0003.exr", "out.0001.exr", "out.0002.exr", "other.0001.exr", "out.01.exr", "notes.txt"]
    result = mapping.output_sequence("/x/out.####.exr", names)
    assert (result.pattern, result.first, result.last, result.count) == ("/x/out.####.exr", 1, 3, 3)
    with pytest.raises(mapping.MappingError, match="frame 2 is not on disk"):
        mapping.output_sequence("/x/out.####.exr", ["out.0001.exr", "out.0003.exr"])
    with pytest.raises(mapping.MappingError, match="wrote no frames"):
        mapping.output_sequence("/x/out.####.exr", ["notes.txt"])


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
