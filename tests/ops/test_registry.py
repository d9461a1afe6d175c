"""The operation registry and its description: what every consumer (CLI, server, Nuke, Blender) is built from."""

from __future__ import annotations

import pytest
from ops_support import NAME, ThrowawaySpec, throwaway_op

from dreamplate.errors import JobError
from dreamplate.ops import OPS
from dreamplate.ops.fields import map_paths
from dreamplate.ops.registry import describe_op, describe_ops


def _fields(name: str) -> dict[str, dict]:
    return {field["name"]: field for field in describe_op(OPS.get(name))["fields"]}


def test_builtin_operations_are_registered_in_order() -> None:
    assert OPS.names()[:4] == ["interpolate", "relight", "sketch", "keyframes"]
    with pytest.raises(JobError, match="operation 'paint': unknown; known operations are interpolate"):
        OPS.get("paint")


def test_each_field_carries_type_default_bounds_and_kind() -> None:
    relight = _fields("relight")
    strength = relight["strength"]
    assert (strength["type"], strength["default"], strength["minimum"], strength["maximum"]) == ("number", 0.5, 0, 1)
    assert relight["model"]["kind"] == "model" and relight["model"]["nullable"]
    assert relight["mask"]["kind"] == "frame_pattern" and relight["mask"]["words"] == ["alpha", "subject", "background"]
    assert relight["offload"]["choices"] == ["auto", "none", "model", "sequential"]
    assert relight["pixel_type"]["flag"] == {"name": "--float", "value": "float"}
    assert relight["light_reference"]["input"] == "light reference" and relight["light_reference"]["advanced"]
    assert _fields("keyframes")["keys"]["kind"] == "keyframes" and _fields("keyframes")["keys"]["cli_name"] == "key"
    assert _fields("interpolate")["model"]["kind"] == "learned_model"
    assert _fields("sketch")["strength"]["default"] == 0.9


def test_advanced_settings_come_after_the_others() -> None:
    flags = [field["advanced"] for field in describe_op(OPS.get("relight"))["fields"]]
    assert flags == sorted(flags) and flags[0] is False and flags[-1] is True


def test_version_changes_when_an_operation_is_added_and_back_when_it_goes() -> None:
    before = describe_ops()["version"]
    with throwaway_op():
        during = describe_ops()
        assert during["version"] != before
        assert NAME in [op["name"] for op in during["ops"]]
    assert describe_ops()["version"] == before


def test_registering_a_name_twice_is_refused() -> None:
    with throwaway_op() as op, pytest.raises(ValueError, match="already registered"):
        OPS.register(op)


def test_map_paths_visits_every_path_field_by_kind_and_skips_words() -> None:
    spec = ThrowawaySpec(inputs=["/in/p.####.exr"], output="/out/o.####.exr", matte="alpha", reference="/r.exr")
    seen: list[str] = []

    def check(path: str, where: str) -> str:
        seen.append(where)
        return "/mapped" + path

    mapped = map_paths(spec, check)
    assert mapped == {
        "inputs": ["/mapped/in/p.####.exr"],
        "output": "/mapped/out/o.####.exr",
        "reference": "/mapped/r.exr",
    }
    assert sorted(seen) == ["inputs.0", "output", "reference"]  # the matte's "alpha" is a word, not a path


def test_a_pair_default_of_a_text_setting_is_described_as_the_text_its_spec_parses() -> None:
    # reframe's position defaulted to (0.5, 0.5): hosts got the list [0.5, 0.5] for a text knob and sent it back as
    # a knob's text, so a fresh Nuke node did not start at the declared default.
    from dreamplate.gen.create_spec import ReframeSpec

    position = next(f for f in describe_op(OPS.get("reframe"))["fields"] if f["name"] == "position")
    assert position["type"] == "text" and position["default"] == "0.5,0.5"
    given = {"inputs": ["p.####.exr"], "output": "o.####.exr", "aspect": "9:16", "model": "m"}
    assert ReframeSpec.model_validate({**given, "position": position["default"]}).position == (0.5, 0.5)
