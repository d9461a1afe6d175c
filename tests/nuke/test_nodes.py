"""`dreamplate_nuke.nodes`: the node builder, from the operations' description, through the stub and a real server.

A throwaway operation declared in the tests alone becomes a node with its knobs, defaults, ranges, choices and
inputs, and the node's job is one the core accepts; every knob of every real operation starts at its declared
default; a script saved with the nodes of before (no operation record) opens and renders as it did.
"""

from __future__ import annotations

from pathlib import Path

import nuke
import pytest
from dreamplate_nuke import mapping, nodes, ops_cache, prefs, render
from nuke_support import HERE, copy_sequence, job_of, make_read, press_render
from ops_support import NAME, throwaway_op

from dreamplate.client import Client
from dreamplate.jobs.spec import JobSpec, task_spec
from dreamplate.ops.registry import describe_ops


def _own_knobs(node) -> list:
    """The node's knobs from its dreamplate tab on, in panel order."""
    names = [knob.name() for knob in node.allKnobs()]
    return node.allKnobs()[names.index(nodes.TAB) :]


def test_a_throwaway_operation_is_a_node_with_its_knobs_inputs_and_job(
    script: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = copy_sequence(shared_data, script / "plate", 3)
    reference = copy_sequence(shared_data, script / "ref", 2, first=2001)
    with throwaway_op():
        description = describe_ops()
        op = next(op for op in description["ops"] if op["name"] == NAME)
        read = make_read(plate)
        node = nodes.create(NAME, description=description)

        assert node.name() == "dreamplate_Throwaway" and nodes.kind_of(node) == "Throwaway"
        assert node[nodes.OP_KNOB].value() == NAME
        assert node[nodes.VERSION_KNOB].value() == description["version"]
        assert node[nodes.HASH_KNOB].value() == op["hash"]
        assert all(node[k].getFlag(nuke.INVISIBLE) for k in (nodes.OP_KNOB, nodes.VERSION_KNOB, nodes.HASH_KNOB))
        # One knob per setting, by type and kind, with the declaration's default, bounds, choices and help.
        knobs = {knob.name(): knob for knob in _own_knobs(node)}
        expected = {
            "gain": ("Double_Knob", 1.5, (0.0, 4.0)),
            "glow": ("Boolean_Knob", True, None),
            "passes": ("Int_Knob", 7, (1, 50)),
            "amount": ("Double_Knob", 0.25, (0.0, 2.0)),
            "look": ("Enumeration_Knob", "hard", None),
            "scale": ("Enumeration_Knob", "auto", None),
            "caption": ("String_Knob", "hello", None),
            "source": ("String_Knob", "studio", None),
            "matte": ("File_Knob", "", None),
            "model": ("String_Knob", "", None),
            "limit": ("String_Knob", "", None),  # default None: empty, the server decides
            "size": ("String_Knob", "", None),
            "grain": ("Double_Knob", 0.1, (0.0, 1.0)),
        }
        for name, (cls, value, bounds) in expected.items():
            assert (knobs[name].Class(), knobs[name].value()) == (cls, value), name
            if bounds is not None:
                assert knobs[name].range == bounds, name
        assert knobs["look"].values() == ["soft", "hard", "neon"]
        assert knobs["scale"].values() == ["auto", "1.0", "0.5"]
        assert knobs["gain"].tooltip == "how much brighter"
        # Filled by Nuke (range, colour) or an input (the reference), not knobs of their own.
        assert not {"reference", "frames", "colorspace", "ocio"} & set(knobs)
        # The advanced setting is on the second tab.
        order = [knob.name() for knob in _own_knobs(node)]
        assert order.index("gain") < order.index(nodes.ADVANCED_TAB) < order.index("grain")
        # Inputs: the plate (connected to the selection), then the reference the description offers as an image.
        assert [n.name() for n in node.nodes() if n.Class() == "Input"] == ["plate", "reference"]
        assert node.input(0) is read and node.maximumInputs() == 2
        ref_read = nuke.nodes.Read()
        ref_read["file"].fromUserText(f"{reference} 2001-2002")
        ref_read["colorspace"].setValue("ACEScg")
        node.setInput(1, ref_read)

        for name, value in (("gain", 2.0), ("look", "neon"), ("scale", "0.5"), ("matte", "alpha"), ("limit", "3")):
            node[name].setValue(value)
        job = render.prepare(node, prefs.load())

        output = str(script / "dreamplate" / node.name() / f"{node.name()}.%04d.exr")
        assert job == {
            "task": NAME,
            "inputs": [plate.replace("####", "%04d")],
            "output": output,
            "params": {
                "gain": 2.0,
                "look": "neon",
                "scale": 0.5,
                "matte": "alpha",
                "limit": 3,
                "colorspace": "ACEScg",
                "reference": mapping.frame_path(reference, 2001),
                "frames": "1001-1003",
            },
        }
        spec = task_spec(JobSpec.model_validate(job))  # the core takes it as it is
        assert (spec.gain, spec.look, spec.scale, spec.limit, spec.frames) == (2.0, "neon", 0.5, 3, "1001-1003")

        # Render submits that job; the server (which has no such operation) refuses it, shown word for word.
        sent = []
        submit = Client.submit
        monkeypatch.setattr(Client, "submit", lambda self, body: sent.append(body) or submit(self, body))
        node["render"].execute()
        assert sent == [job]
        known = ", ".join(op["name"] for op in ops_cache.load()["ops"])  # the server's own operations
        assert nuke.messages == [
            f"dreamplate {node.name()}: cannot submit: operation {NAME!r}: unknown; known operations are {known}"
        ]


def _assert_starts_at(knob, field: dict) -> None:
    default = field["default"]
    if knob.Class() in ("Int_Knob", "Double_Knob", "Boolean_Knob"):
        assert knob.value() == default and type(knob.value()) is type(default), field["name"]
    elif knob.Class() == "Enumeration_Knob":
        assert knob.value() == (mapping.UNSET_CHOICE if default is None else str(default)), field["name"]
    else:
        assert knob.value() == (default if isinstance(default, str) else ""), field["name"]


def test_every_knob_starts_at_the_declared_default(script: Path) -> None:
    """Defaults live in the declarations only: a fresh node of each operation shows them (relight strength 0.5)."""
    description = describe_ops()  # the declarations themselves, not the server's copy the cache holds
    ops = {op["name"]: op for op in description["ops"]}
    checked = 0
    for op in description["ops"]:
        node = nodes.create(op["name"], description=description)
        kept = nodes.op_of(node)
        for field, declared in zip(kept["fields"], op["fields"], strict=True):
            assert field["name"] == declared["name"] and field["default"] == declared["default"]
            if field["place"] != "knob":
                assert node.knob(field["knob"]) is None or field["knob"] in mapping.NUKE_KNOBS, field["name"]
                continue
            _assert_starts_at(node[field["knob"]], declared)
            value = mapping.setting_value(field, node[field["knob"]].value())
            assert (value is mapping.UNSET and declared["default"] is None) or value == declared["default"]
            checked += 1
        for route in kept["routes"]:  # settings the route's operation offers carry that operation's defaults
            target = {f["name"]: f for f in ops[route["to"]]["fields"]}
            for field in route["fields"]:
                _assert_starts_at(node[field["knob"]], target[field["name"]])
                checked += 1
    assert checked > 60
    relight = nodes.create("relight", description=description)
    assert relight["strength"].value() == 0.5 == ops["relight"]["defaults"]["strength"]


def test_a_fresh_node_sends_only_nukes_own_data(script: Path, shared_data: Path) -> None:
    """Nothing changed on the node: the job holds its inputs, range and colour space, and no setting."""
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    node = nodes.create("Relight")
    job = render.prepare(node, prefs.load())
    assert job["params"] == {"colorspace": "ACEScg", "frames": "1001-1002"}


def test_the_node_records_its_operation_and_survives_save_and_reload(script: Path) -> None:
    node = nodes.create("SketchToShot")
    node.setName("Sketch_shot")
    kept = nodes.op_of(node)
    assert kept["name"] == "sketch" and kept["schema"] == mapping.NODE_OP_SCHEMA
    nuke.scriptSaveAs(str(script / "shot.nk"))
    nuke.scriptOpen(str(script / "shot.nk"))
    assert nodes.op_of(nuke.toNode("Sketch_shot")) == kept


def test_without_a_cache_a_gui_session_makes_no_node_and_asks_no_server(script: Path, monkeypatch) -> None:
    from dreamplate_nuke import ops_cache

    Path(ops_cache.cache_path()).unlink()
    opened = Client._open
    monkeypatch.setattr(Client, "_open", lambda *a, **k: pytest.fail("the main thread waited on the network"))
    with pytest.raises(mapping.SpecError, match="not cached yet .* dreamplate > Reload operations"):
        nodes.create("Relight")
    # Headless (a farm script making nodes) there is no UI to freeze: it asks the server once.
    monkeypatch.setattr(Client, "_open", opened)
    monkeypatch.setattr(nuke, "GUI", False)
    assert nodes.op_of(nodes.create("Relight"))["name"] == "relight"
    assert Path(ops_cache.cache_path()).is_file()


LEGACY_SCRIPT = HERE / "data" / "legacy_nodes.nk"
"""A comp saved by the plugin of before issue 14 (its nodes have no operation record): a Read, a Relight with
strength 0, an Interpolate by factor, one by explicit times, and a Keyframes node. Paths start `/LEGACY_COMP`."""


def test_a_script_saved_with_the_nodes_of_before_opens_and_renders_as_it_did(
    script: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dreamplate_nuke import ops_cache

    monkeypatch.setenv(ops_cache.CACHE_ENV, str(tmp_path / "empty"))  # they need no operation list
    plate = copy_sequence(shared_data, script / "plate", 3)
    comp = script / "legacy.nk"
    comp.write_text(LEGACY_SCRIPT.read_text().replace("/LEGACY_COMP", str(script)))
    nuke.scriptOpen(str(comp))

    expected = {
        "dreamplate_Relight": {
            "colorspace": "ACEScg",
            "prompt": "dusk",
            "negative_prompt": "",
            "seed": 7,
            "steps": 30,
            "draft": False,
            "strength": 0.0,
            "frames": "1001-1003",
        },
        "dreamplate_Interpolate": {"colorspace": "ACEScg", "method": "flow", "factor": 2, "frames": "1001-1003"},
        "dreamplate_Interpolate2": {"colorspace": "ACEScg", "method": "flow", "times": [0.25, 0.75]},
    }
    for name, params in expected.items():
        node = nuke.toNode(name)
        assert nodes.is_legacy(node) and node.input(0) is nuke.toNode("Read1")
        press_render(node)
        assert node["status"].value().startswith("done: job "), (name, node["status"].value())
        assert job_of(node)["spec"]["params"] == params, name
    assert job_of(nuke.toNode("dreamplate_Interpolate2"))["spec"]["inputs"] == [
        mapping.frame_path(plate, 1001),
        mapping.frame_path(plate, 1003),
    ]
    keyframes = render.prepare(nuke.toNode("dreamplate_Keyframes"), prefs.load())
    assert keyframes["task"] == "keyframes"
    assert keyframes["params"] == {
        "colorspace": "ACEScg",
        "prompt": "a",
        "negative_prompt": "",
        "seed": 0,
        "steps": 30,
        "draft": False,
        "model": "ltx",
        "keys": {"1001": mapping.frame_path(plate, 1001), "1005": mapping.frame_path(plate, 1003)},
    }


def test_a_file_setting_is_sent_as_a_full_path_with_its_tcl_evaluated_and_its_frame_tokens_kept(
    script: Path, shared_data: Path
) -> None:
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    node = nodes.create("Relight")
    node["mask"].setValue("[file dirname [value root.name]]/matte/m.####.exr")
    assert render.prepare(node, prefs.load())["params"]["mask"] == str(script / "matte" / "m.%04d.exr")
    node["mask"].setValue("matte/m.####.exr")
    with pytest.raises(render.RenderError, match="'matte/m.%04d.exr' is a relative path"):
        render.prepare(node, prefs.load())
