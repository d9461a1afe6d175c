"""`dreamplate_nuke.mapping` and `legacy` (host-free): job specs from knob values and the operations' description,
path maps, frame patterns, EXR colour tags."""

from __future__ import annotations

from pathlib import Path

import nuke_support  # noqa: F401  (puts nuke_plugin/ on sys.path)
import pytest
from dreamplate_nuke import legacy, mapping

from dreamplate.io.exr import ExrImage, write_exr
from dreamplate.jobs.spec import JobSpec, task_spec
from dreamplate.ops.registry import describe_ops

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


# --- jobs from knob values: any operation, from its description ----------------------------------------------------


def _op(name: str) -> dict:
    return mapping.node_op(describe_ops(), name)


RANGE = {"range_first": 1001, "range_last": 1010}


def test_a_setting_is_sent_only_when_it_differs_from_the_declared_default() -> None:
    op = _op("interpolate")
    knobs = {**RANGE, "method": "learned", "factor": "3", "scale": "0.5", "runtime": "auto", "tta": False, "model": ""}
    job = mapping.build_job(
        op, knobs, {"plate": "Z:/shows/p.####.exr"}, "Z:/shows/o.####.exr", {"colorspace": "ACEScg"}, MAPS
    )
    assert job == {
        "task": "interpolate",
        "inputs": ["/mnt/shows/p.####.exr"],
        "output": "/mnt/shows/o.####.exr",
        "params": {"method": "learned", "factor": 3, "scale": 0.5, "colorspace": "ACEScg", "frames": "1001-1010"},
    }
    # The job is one the server takes as it is.
    spec = task_spec(JobSpec.model_validate(job))
    assert (spec.factor, spec.scale, spec.frames) == (3, 0.5, "1001-1010")


def test_interpolate_times_are_between_the_ranges_first_and_last_frame() -> None:
    """Nuke data: a node has one plate with a range; interpolate's times lie between two frames, its ends."""
    op = _op("interpolate")
    job = mapping.build_job(
        op, {**RANGE, "method": "flow", "times": "0.25,0.75"}, {"plate": "/s/p.####.exr"}, "/s/o.####.exr", {}
    )
    assert job["inputs"] == ["/s/p.1001.exr", "/s/p.1010.exr"]
    assert job["params"] == {"method": "flow", "times": "0.25,0.75"}  # text: the server parses it
    assert task_spec(JobSpec.model_validate(job)).times == [0.25, 0.75]
    with pytest.raises(mapping.SpecError, match="frame range 1001-1001: two frames are needed"):
        mapping.build_job(
            op,
            {"range_first": 1001, "range_last": 1001, "times": "0.5"},
            {"plate": "/s/p.####.exr"},
            "/s/o.####.exr",
            {},
        )


def test_generative_interpolate_is_sent_as_interpolate_and_the_server_makes_it_keyframes() -> None:
    op = _op("interpolate")
    knobs = {**RANGE, "method": "generative", "model": "ltx", "prompt": "dusk", "steps": 20, "frame_count": 25}
    job = mapping.build_job(op, knobs, {"plate": "/s/p.####.exr"}, "/s/o.####.exr", {"colorspace": "ACEScg"})
    assert job == {
        "task": "interpolate",
        "inputs": ["/s/p.1001.exr", "/s/p.1010.exr"],
        "output": "/s/o.####.exr",
        "params": {
            "method": "generative",
            "model": "ltx",
            "prompt": "dusk",
            "steps": 20,
            "colorspace": "ACEScg",
            "frames": 25,
        },
    }
    routed = JobSpec.model_validate(job)
    assert routed.task == "keyframes"
    assert routed.params["keys"] == {1001: "/s/p.1001.exr", 1025: "/s/p.1010.exr"}
    # 0 frames on the knob: as many as the range holds. Interpolation settings the route does not offer stay unsent.
    job = mapping.build_job(op, {**knobs, "frame_count": 0, "seed": 0}, {"plate": "/s/p.####.exr"}, "/s/o.####.exr", {})
    assert job["params"]["frames"] == 10 and "seed" not in job["params"]


def test_keyframes_land_on_the_first_and_last_output_frame() -> None:
    op = _op("keyframes")
    knobs = {"first_frame": 1001, "frame_count": 25, "key_a_frame": 7, "key_b_frame": 9, "model": "wan", "prompt": "x"}
    job = mapping.build_job(op, knobs, {"key A": "/s/a.exr", "key B": "/s/b.exr"}, "/s/k.####.exr", {})
    assert job["params"]["keys"] == {"1001": "/s/a.exr", "1025": "/s/b.exr"}
    assert job["inputs"] == ["/s/a.exr", "/s/b.exr"]
    assert task_spec(JobSpec.model_validate(job)).keys == {1001: "/s/a.exr", 1025: "/s/b.exr"}
    assert mapping.key_frames(1001, 9, 3) == [1001, 1005, 1009]
    with pytest.raises(mapping.SpecError, match="frame count: at least 2 frames, one per key, got 1"):
        mapping.build_job(op, {**knobs, "frame_count": 1}, {"key A": "/a.exr", "key B": "/b.exr"}, "/k.####.exr", {})


def test_an_image_input_fills_its_setting_and_paths_map_but_words_do_not() -> None:
    op = _op("relight")
    knobs = {**RANGE, "strength": 0.3, "prompt": "dusk", "model": "wan13", "mask": "alpha", "seed": 0}
    job = mapping.build_job(
        op,
        knobs,
        {"plate": "Z:/shows/p.####.exr", "light reference": "Z:/shows/l.1001.exr"},
        "/s/r.####.exr",
        {},
        MAPS,
    )
    assert job["task"] == "relight" and job["inputs"] == ["/mnt/shows/p.####.exr"]
    assert job["params"] == {
        "strength": 0.3,
        "prompt": "dusk",
        "model": "wan13",
        "mask": "alpha",
        "light_reference": "/mnt/shows/l.1001.exr",
        "frames": "1001-1010",
    }
    matte = mapping.build_job(
        op, {**knobs, "mask": "Z:/shows/m.%04d.exr"}, {"plate": "/p.####.exr"}, "/o.####.exr", {}, MAPS
    )
    assert matte["params"]["mask"] == "/mnt/shows/m.%04d.exr"
    with pytest.raises(mapping.SpecError, match="connect the plate input"):
        mapping.build_job(op, knobs, {}, "/o.####.exr", {})


def test_knob_values_read_as_their_settings() -> None:
    fields = {f["name"]: f for f in _op("interpolate")["fields"]}
    assert mapping.setting_value(fields["factor"], "") is mapping.UNSET  # empty: the server's default
    assert mapping.setting_value(fields["factor"], " 4 ") == 4
    assert mapping.setting_value(fields["factor"], "four") == "four"  # sent as typed: the server names it
    assert mapping.setting_value(fields["scale"], "0.25") == 0.25
    assert mapping.setting_value(fields["tta"], 1) is True
    assert mapping.setting_value(fields["fps"], "24:60") == "24:60"


def test_node_kinds_and_names_come_from_the_description() -> None:
    description = describe_ops()
    kinds = {op["name"]: mapping.node_kind(op) for op in description["ops"]}
    assert {name: kinds[name] for name in ("interpolate", "relight", "sketch", "keyframes")} == {
        "interpolate": "Interpolate",
        "relight": "Relight",
        "sketch": "SketchToShot",
        "keyframes": "Keyframes",
    }  # the node names of before, kept
    assert all(kind.isalnum() for kind in kinds.values())
    assert mapping.find_op(description, "SketchToShot")["name"] == "sketch"
    with pytest.raises(mapping.SpecError, match="operation 'nope': not in the server's operation list"):
        mapping.find_op(description, "nope")
    with pytest.raises(mapping.SpecError, match="'dreamplate.ops/0'"):
        mapping.check_description({"schema": "dreamplate.ops/0"})
    keyframes = _op("keyframes")
    assert [(i["name"], i["frame_knob"], i["optional"]) for i in keyframes["inputs"]] == [
        ("key_A", "key_a_frame", False),
        ("key_B", "key_b_frame", False),
        ("light_reference", None, True),
    ]


# --- nodes saved before the description: they send what they always sent ---------------------------------------------

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


def test_legacy_interpolate_maps_to_the_interpolate_task() -> None:
    job = legacy.build_job(
        "Interpolate", KNOBS, {"plate": "Z:/shows/p.####.exr"}, "Z:/shows/o.####.exr", {"colorspace": "ACEScg"}, MAPS
    )
    assert job == {
        "task": "interpolate",
        "inputs": ["/mnt/shows/p.####.exr"],
        "output": "/mnt/shows/o.####.exr",
        "params": {"colorspace": "ACEScg", "method": "learned", "factor": 3, "frames": "1001-1010", "scale": 0.5},
    }
    times = legacy.build_job(
        "Interpolate",
        {**KNOBS, "timing": "times", "times": "0.25, 0.75", "method": "flow"},
        {"plate": "/s/p.####.exr"},
        "/s/o.####.exr",
        {},
    )
    assert times["inputs"] == ["/s/p.1001.exr", "/s/p.1010.exr"]
    assert times["params"] == {"method": "flow", "times": [0.25, 0.75]}
    with pytest.raises(mapping.SpecError, match="times: give numbers"):
        legacy.build_job(
            "Interpolate", {**KNOBS, "timing": "times", "times": "half"}, {"plate": "/p.####.exr"}, "/o.####.exr", {}
        )


def test_legacy_generative_interpolate_and_keyframes_map_to_the_keyframes_task() -> None:
    job = legacy.build_job(
        "Interpolate",
        {**KNOBS, "method": "generative", "model": "ltx"},
        {"plate": "/s/p.####.exr"},
        "/s/o.####.exr",
        {},
    )
    assert job["task"] == "keyframes"
    assert job["params"]["keys"] == {"1001": "/s/p.1001.exr", "1025": "/s/p.1010.exr"}
    assert job["inputs"] == ["/s/p.1001.exr", "/s/p.1010.exr"]
    keys = legacy.build_job(
        "Keyframes", {**KNOBS, "model": "wan"}, {"key_a": "/s/a.exr", "key_b": "/s/b.exr"}, "/s/k.####.exr", {}
    )
    assert keys["params"]["keys"] == {"1001": "/s/a.exr", "1025": "/s/b.exr"}
    assert "strength" not in keys["params"]


def test_legacy_relight_and_sketch_carry_the_generative_settings() -> None:
    relight = legacy.build_job(
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
    sketch = legacy.build_job(
        "SketchToShot", {**KNOBS, "strength": 0.9}, {"plate": "/s/b.####.exr"}, "/s/s.####.exr", {}
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
