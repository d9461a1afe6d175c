"""`dreamplate_nuke.mapping` (host-free): job specs from knob values, path maps, frame patterns, EXR colour tags."""

from __future__ import annotations

from pathlib import Path

import nuke_support  # noqa: F401  (puts nuke_plugin/ on sys.path)
import pytest
from dreamplate_nuke import mapping

from dreamplate.io.exr import ExrImage, write_exr

MAPS = [("Z:\\shows", "/mnt/shows"), ("/Volumes/shows", "/mnt/shows")]


def test_paths_map_to_the_server_and_back() -> None:
    assert mapping.to_server("z:/shows/a/plate.####.exr", MAPS) == "/mnt/shows/a/plate.####.exr"
    assert mapping.to_server("/Volumes/shows/a.exr", MAPS) == "/mnt/shows/a.exr"
    assert mapping.to_server("/Volumes/showsX/a.exr", MAPS) == "/Volumes/showsX/a.exr"  # a prefix, not a word
    assert mapping.to_client("/mnt/shows/a.exr", MAPS[1:]) == "/Volumes/shows/a.exr"
    assert mapping.parse_maps("Z:/a=/mnt/a; /b=/mnt/b\n") == [("Z:/a", "/mnt/a"), ("/b", "/mnt/b")]
    with pytest.raises(mapping.SpecError, match="'nonsense'"):
        mapping.parse_maps("nonsense")


def test_frame_patterns() -> None:
    assert mapping.frame_path("/a/p.####.exr", 7) == "/a/p.0007.exr"
    assert mapping.frame_path("/a/p.%04d.exr", 1001) == "/a/p.1001.exr"
    assert mapping.hash_pattern("/a/p.%04d.exr") == "/a/p.####.exr"
    assert mapping.is_sequence("/a/p.@@@@.exr") and not mapping.is_sequence("/a#1/p.exr")


def test_existing_frames_and_exr_colour_tags(tmp_path: Path) -> None:
    import numpy as np

    for frame in (1001, 1003):
        channels = {"R": np.full((2, 3), 0.18, np.float32)}
        image = ExrImage(
            channels,
            {"R": "half"},
            (0, 0, 2, 1),
            (0, 0, 2, 1),
            {"colorInteropID": "lin_ap1_scene", "dreamplate/colorspace": "ACEScg"},
        )
        write_exr(tmp_path / f"r.{frame:04d}.exr", image)
    (tmp_path / "r.1002.exr.partial").write_text("")
    assert mapping.existing_frames(str(tmp_path / "r.####.exr")) == [1001, 1003]
    attributes = mapping.exr_string_attributes(str(tmp_path / "r.1001.exr"))
    assert mapping.colorspace_candidates(attributes) == ["ACEScg", "lin_ap1_scene"]
    (tmp_path / "bad.exr").write_bytes(b"not an exr")
    with pytest.raises(mapping.SpecError, match="bad.exr: not an OpenEXR file"):
        mapping.exr_string_attributes(str(tmp_path / "bad.exr"))


KNOBS = {
    "range_first": 1001,
    "range_last": 1010,
    "factor": 3,
    "method": "learned",
    "motion_scale": "0.5",
    "model": "",
    "timing": "factor",
    "times": "0.5",
    "prompt": "dusk",
    "negative_prompt": "",
    "seed": 4,
    "steps": 20,
    "draft": True,
    "strength": 0.3,
    "frame_count": 25,
    "first_frame": 1001,
}


def test_interpolate_maps_to_the_interpolate_task() -> None:
    job = mapping.build_job(
        "Interpolate", KNOBS, {"plate": "Z:/shows/p.####.exr"}, "Z:/shows/o.####.exr", {"colorspace": "ACEScg"}, MAPS
    )
    assert job == {
        "task": "interpolate",
        "inputs": ["/mnt/shows/p.####.exr"],
        "output": "/mnt/shows/o.####.exr",
        "params": {"colorspace": "ACEScg", "method": "learned", "factor": 3, "frames": "1001-1010", "scale": 0.5},
    }
    times = mapping.build_job(
        "Interpolate",
        {**KNOBS, "timing": "times", "times": "0.25, 0.75", "method": "flow"},
        {"plate": "/s/p.####.exr"},
        "/s/o.####.exr",
        {},
    )
    assert times["inputs"] == ["/s/p.1001.exr", "/s/p.1010.exr"]
    assert times["params"] == {"method": "flow", "times": [0.25, 0.75]}
    with pytest.raises(mapping.SpecError, match="times: give numbers"):
        mapping.build_job(
            "Interpolate", {**KNOBS, "timing": "times", "times": "half"}, {"plate": "/p.####.exr"}, "/o.####.exr", {}
        )


def test_generative_interpolate_and_keyframes_map_to_the_keyframes_task() -> None:
    job = mapping.build_job(
        "Interpolate",
        {**KNOBS, "method": "generative", "model": "ltx"},
        {"plate": "/s/p.####.exr"},
        "/s/o.####.exr",
        {},
    )
    assert job["task"] == "keyframes"
    assert job["params"]["keys"] == {"1001": "/s/p.1001.exr", "1025": "/s/p.1010.exr"}
    assert job["inputs"] == ["/s/p.1001.exr", "/s/p.1010.exr"]
    keys = mapping.build_job(
        "Keyframes", {**KNOBS, "model": "wan"}, {"key_a": "/s/a.exr", "key_b": "/s/b.exr"}, "/s/k.####.exr", {}
    )
    assert keys["params"]["keys"] == {"1001": "/s/a.exr", "1025": "/s/b.exr"}
    assert "strength" not in keys["params"]


def test_relight_and_sketch_carry_the_generative_settings() -> None:
    relight = mapping.build_job(
        "Relight",
        {**KNOBS, "model": "wan13"},
        {"plate": "/s/p.####.exr", "light": "/s/l.1001.exr"},
        "/s/r.####.exr",
        {},
    )
    assert relight["task"] == "relight"
    assert relight["params"] == {
        "prompt": "dusk",
        "negative_prompt": "",
        "seed": 4,
        "steps": 20,
        "draft": True,
        "model": "wan13",
        "strength": 0.3,
        "frames": "1001-1010",
        "light_reference": "/s/l.1001.exr",
    }
    sketch = mapping.build_job(
        "SketchToShot",
        {k: v for k, v in KNOBS.items() if k != "strength"},
        {"plate": "/s/b.####.exr"},
        "/s/s.####.exr",
        {},
    )
    assert sketch["task"] == "sketch" and sketch["params"]["strength"] == 0.9


def test_plugin_and_host_imported_core_modules_parse_as_python_3_7() -> None:
    """Nuke 13 runs Python 3.7: no walrus, no match, no str.removeprefix in anything Nuke imports."""
    import ast

    repo = nuke_support.REPO
    files = sorted((repo / "nuke_plugin").rglob("*.py")) + [
        repo / "core" / "dreamplate" / "client.py",
        repo / "core" / "dreamplate" / "queue_widget.py",
        repo / "core" / "dreamplate" / "__init__.py",
    ]
    for path in files:
        text = path.read_text()
        ast.parse(text, str(path), feature_version=(3, 7))
        assert ".removeprefix(" not in text and ".removesuffix(" not in text, path
