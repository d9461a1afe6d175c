"""Operation descriptions turned into operator properties and back (`dreamplate_blender.settings`), without Blender.

The fields are written here in the description's format (`GET /v1/ops`); the real description is checked against
real Blender in test_blender.py.
"""

from __future__ import annotations

import pytest
from blender_support import load_hostfree

settings = load_hostfree("settings")


def _field(name: str, type_: str, default: object, **more: object) -> dict:
    return {
        "name": name,
        "label": name.replace("_", " "),
        "type": type_,
        "kind": more.pop("kind", None),
        "required": False,
        "nullable": more.pop("nullable", default is None),
        "default": default,
        "help": f"the {name}",
        "advanced": more.pop("advanced", False),
        **more,
    }


OP = {
    "name": "demo",
    "fields": [
        _field("strength", "number", 0.9, minimum=0.0, maximum=1.0),
        _field("seed", "integer", 0, minimum=0, maximum=9223372036854775808),
        _field("factor", "integer", None, minimum=1),
        _field("draft", "boolean", False),
        _field("offload", "choice", "auto", choices=["auto", "none"]),
        _field("scale", "choice", None, choices=["auto", 0.5]),
        _field("mask", "string", None, kind="frame_pattern", words=["alpha"]),
        _field("model", "string", None, kind="model"),
        _field("compression", "string", "zip", advanced=True),
        _field("size", "text", None, advanced=True),
        _field("keys", "text", {}, kind="keyframes", nullable=False),
        _field("source", "string", "studio"),
    ],
}


def _props(op: dict = OP, reserved: tuple = ("source",)) -> tuple[list, dict]:
    made = settings.settings_of(op, reserved, skip_kinds=("keyframes",))
    return made, {name: (function, options) for s in made for name, function, options in s.properties()}


def test_properties_carry_the_declared_defaults_bounds_and_choices() -> None:
    made, props = _props()
    assert props["strength"] == (
        "FloatProperty",
        {"name": "Strength", "description": "the strength", "default": 0.9, "min": 0.0, "max": 1.0},
    )
    assert props["seed"][1]["max"] == 2**31 - 1  # Blender's integers are 32-bit
    assert props["use_factor"][1]["default"] is False and props["factor"][1]["default"] == 1  # None: box off
    assert props["offload"][1]["items"][0][0] == "auto" and props["offload"][1]["default"] == "auto"
    assert [item[0] for item in props["scale"][1]["items"]] == [settings.SERVER_DEFAULT, "auto", "0.5"]
    assert props["mask"][1]["subtype"] == "FILE_PATH" and props["mask"][1]["default"] == ""
    assert props["model"][1]["search_kind"] == "model"
    assert "keys" not in props  # filled by the host from images or strips
    assert "source_setting" in props and "source" not in props  # the host's own name is taken
    assert [s.name for s in made if s.advanced] == ["compression", "size"]


def _values(made: list, **set_values: object) -> tuple:
    """(values, is_set) as an operator would answer them: defaults unless set."""
    defaults = {name: options["default"] for s in made for name, _, options in s.properties()}
    current = {**defaults, **set_values}
    return current.__getitem__, set_values.__contains__


def test_untouched_settings_send_nothing_and_changed_ones_send_their_value() -> None:
    made, _ = _props()
    assert settings.job_params(made, *_values(made)) == {}
    # Blender keeps 0.9 in single precision; the declared value is what counts as unchanged.
    assert settings.job_params(made, *_values(made, strength=0.8999999761581421)) == {}
    changed = _values(made, strength=0.699999988079071, offload="none", scale="0.5", draft=True, mask="alpha")
    assert settings.job_params(made, *changed) == {
        "strength": 0.7,
        "offload": "none",
        "scale": 0.5,
        "draft": True,
        "mask": "alpha",
    }


def test_a_setting_whose_default_is_the_servers_is_sent_when_set_or_ticked() -> None:
    made, _ = _props()
    assert settings.job_params(made, *_values(made, factor=3)) == {"factor": 3}  # a script's factor=3
    assert settings.job_params(made, *_values(made, factor=3, use_factor=False)) == {}  # the box says no
    assert settings.job_params(made, *_values(made, use_factor=True)) == {"factor": 1}
    assert settings.job_params(made, *_values(made, size="832x480", source_setting="lab")) == {
        "size": "832x480",
        "source": "lab",
    }


def test_file_settings_go_out_in_the_servers_spelling_but_words_stay() -> None:
    made, _ = _props()
    to_server = {"/local/m.####.exr": "/server/m.####.exr"}.get
    assert settings.server_paths({"mask": "/local/m.####.exr", "seed": 3}, made, to_server) == {
        "mask": "/server/m.####.exr",
        "seed": 3,
    }
    assert settings.server_paths({"mask": "alpha"}, made, to_server) == {"mask": "alpha"}


def test_descriptions_of_another_schema_are_refused() -> None:
    good = {"schema": "dreamplate.ops/1", "version": "0123456789abcdef", "ops": [OP]}
    assert settings.check_description(good) is good
    with pytest.raises(settings.DescriptionError, match="'dreamplate.ops/2'"):
        settings.check_description({**good, "schema": "dreamplate.ops/2"})
    with pytest.raises(settings.DescriptionError, match="not a valid name"):
        settings.check_description({**good, "ops": [{"name": "two words"}]})


def test_model_suggestions_come_from_the_model_list() -> None:
    models = {"learned": [{"name": "rife-hdv3"}], "generative": [{"name": "wan"}, {"path": "/x", "error": "gone"}]}
    assert settings.model_names(models) == {"model": ["wan"], "learned_model": ["rife-hdv3"]}
