"""The nodes driven through the `nuke` stub against a real `dreamplate serve`: Render, result Read, cancel, headless.

Regression tests are named after what broke in real Nuke while the stub let it pass (issue 20): frame patterns
evaluated to one frame, a new node left disconnected, colour-space names cut at their brackets, a relative output
from an unsaved script, the Group's built-in knobs read as settings, the result Read's format left stale, a temp
Write left for farm submitters (and written with the studio's lossy compression), Reads with raw, offset or proxy
sent as plain files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nuke
import numpy as np
import pytest
from dreamplate_nuke import mapping, nodes, render
from nuke_support import copy_sequence, final, frame_file, headless, job_of, make_read, press_render, writes_left
from server_support import TOKEN

from dreamplate.client import Client
from dreamplate.io.exr import read_exr, read_info
from dreamplate.io.provenance import Provenance


def test_interpolate_over_a_read_of_shared_exrs_points_its_read_at_the_result(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 3)
    make_read(pattern)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert nuke.executed == []  # a plain EXR Read is sent as it is
    read = node.node(nodes.RESULT_READ)
    assert mapping.hash_pattern(read["file"].value()) == str(
        script / "dreamplate" / node.name() / f"{node.name()}.####.exr"
    )
    assert (read["first"].value(), read["last"].value()) == (1001, 1005)  # 3 frames retimed 2x: 2 * 3 - 1
    assert (read["origfirst"].value(), read["origlast"].value()) == (1001, 1005)
    assert read["colorspace"].value() == "ACEScg"
    assert node.node(nodes.SWITCH)["which"].value() == 1
    for frame in range(1001, 1006):
        image = read_exr(frame_file(read, frame))
        assert image.data_window == (0, 0, 399, 299)
        assert set(image.pixel_types.values()) == {"half"}
        assert image.attributes["dreamplate/colorspace"] == "ACEScg"
        assert image.attributes["colorInteropID"] == "lin_ap1_scene"
    # The server ran the job the node names, with Nuke's colour settings.
    job = job_of(node)
    assert job["state"] == "done"
    # What differs from the declared defaults, and Nuke's own data (factor is the server's default, 2).
    assert job["spec"]["params"] == {"colorspace": "ACEScg", "method": "flow", "frames": "1001-1003"}
    # The ProgressTask was closed and saw 100 %.
    task = nuke.ProgressTask.instances[-1]
    assert task.progress[-1] == 100


def test_interpolate_takes_a_matte_on_its_second_input_like_kronos(script: Path) -> None:
    """Kronos's Matte is an input pipe: the node's `matte` input sends its Read's sequence as `--matte`."""
    from moving_plates import write_moving_plate

    plate, matte = write_moving_plate(script / "in", subject=(12.0, 0.0), pan=(-6.0, 0.0), feather=1.5)
    plate_read = make_read(plate, 1, 3)
    matte_read = make_read(matte, 1, 3)
    node = nodes.create("Interpolate")
    node.setInput(0, plate_read)
    node.setInput(1, matte_read)
    node["method"].setValue("flow")

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    params = job_of(node)["spec"]["params"]
    assert mapping.hash_pattern(params["matte"]) == matte
    read = node.node(nodes.RESULT_READ)
    provenance = Provenance.from_attributes(read_exr(frame_file(read, 2)).attributes)
    assert provenance is not None and mapping.hash_pattern(provenance.parameters["matte"]) == matte
    vectors = nodes.create("MotionVectors")  # the vectors node takes its matte the same way
    assert [n.name() for n in vectors.nodes() if n.Class() == "Input"] == ["plate", "matte"]


def test_frame_pattern_survives_render(script: Path, shared_data: Path) -> None:
    """Knob.evaluate() puts the current frame in a file name: the plate, the output and the result stay patterns."""
    pattern = copy_sequence(shared_data, script / "plate", 3)
    make_read(pattern)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")
    nuke.frame(1002)  # the artist is looking at the middle frame

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    spec = job_of(node)["spec"]
    assert [mapping.hash_pattern(p) for p in spec["inputs"]] == [pattern]
    output = str(script / "dreamplate" / node.name() / f"{node.name()}.####.exr")
    assert mapping.hash_pattern(spec["output"]) == output
    read = node.node(nodes.RESULT_READ)
    assert mapping.hash_pattern(read["file"].value()) == output
    assert sorted(p.name for p in Path(output).parent.glob("*.exr")) == [
        f"{node.name()}.{f}.exr" for f in range(1001, 1006)
    ]


def test_new_node_connects_to_the_selected_node(script: Path, shared_data: Path) -> None:
    """createNode cannot connect a Group that has no Inputs yet: the node connects itself once they exist."""
    read = make_read(copy_sequence(shared_data, script / "plate", 2, first=1011), 1011, 1012)
    node = nodes.create("Relight")
    assert node.input(0) is read
    assert (node["range_first"].value(), node["range_last"].value()) == (1011, 1012)

    node["strength"].setValue(0.0)
    press_render(node)
    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert nuke.messages == []

    read.setSelected(False)
    node.setSelected(False)
    alone = nodes.create("Relight")  # nothing selected: nothing to connect
    assert alone.input(0) is None


@pytest.mark.parametrize(
    ("read_space", "job_space"),
    [("Linear Rec.709 (sRGB)", "Linear Rec.709 (sRGB)"), ("default", "ACEScg"), ("scene_linear", "scene_linear")],
)
def test_colour_space_names_with_brackets_are_kept(
    script: Path, shared_data: Path, read_space: str, job_space: str
) -> None:
    """Only Nuke's `default (...)` form is unwrapped; a name with brackets of its own is one colour space."""
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002, colorspace=read_space)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert job_of(node)["spec"]["params"]["colorspace"] == job_space
    read = node.node(nodes.RESULT_READ)
    written = read_exr(frame_file(read, 1001)).attributes["dreamplate/colorspace"]
    # The result Read is set to a name its menu has: the tagged one, or its interop id's.
    assert read["colorspace"].value() in nuke.getColorspaceList(read["colorspace"])
    assert read["colorspace"].value() == written


def test_unsaved_script_output_is_refused_not_made_relative(script: Path, shared_data: Path) -> None:
    """TCL `file dirname ""` is `.`: an unsaved script's default output would be `./dreamplate/...`."""
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    nuke.root()["name"].setValue("")
    node = nodes.create("Relight")
    node["strength"].setValue(0.0)

    node["render"].execute()

    assert node["job_id"].value() == ""
    assert len(nuke.messages) == 1
    assert nuke.messages[0] == (
        f"dreamplate {node.name()}: cannot submit: {node.name()}: output ./dreamplate/{node.name()}/"
        f"{node.name()}.%04d.exr is not a full path: save the script first, or give a full output path"
    )
    assert not Path("dreamplate").exists()


def test_job_settings_come_from_the_nodes_own_knobs(script: Path) -> None:
    """The Group's built-in knobs (label, position, callbacks) are Nuke's, not settings for the server."""
    node = nodes.create("Relight")
    assert {"label", "xpos", "disable", "knobChanged"} <= set(node.knobs())  # as Nuke's Group has them
    values = render._knob_values(node)
    assert not {"label", "xpos", "disable", "knobChanged", "name", "selected"} & set(values)
    assert {"prompt", "negative_prompt", "model", "strength", "seed", "steps", "draft", "output"} <= set(values)


def test_relight_strength_zero_through_a_temp_write_returns_the_graded_plate(script: Path, shared_data: Path) -> None:
    """Upstream is a Grade, not a plain Read: Nuke renders it to a temp half EXR sequence, which relight passes on."""
    pattern = copy_sequence(shared_data, script / "plate", 2)
    make_read(pattern, 1001, 1002)
    grade = nuke.createNode("Grade")
    grade["multiply"].setValue(2.0)
    node = nodes.create("Relight")
    node["strength"].setValue(0.0)

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert nuke.executed == [(f"{node.name()}.dp_write_plate", 1001, 1002)]
    read = node.node(nodes.RESULT_READ)
    assert (read["first"].value(), read["last"].value()) == (1001, 1002)
    assert read["colorspace"].value() == "ACEScg"  # the working space, passed as the job's colorspace
    _assert_graded_plate(shared_data, frame_file(read, 1002), 2.0)


def _assert_graded_plate(shared_data: Path, result_file: Path, gain: float) -> None:
    source = read_exr(shared_data / "exr" / "DisplayWindow" / "t01.exr")
    result = read_exr(result_file)
    for channel in ("R", "G", "B"):
        expected = (source.channels[channel].astype(np.float32) * gain).astype(np.float16)
        np.testing.assert_array_equal(result.channels[channel].astype(np.float16), expected)


def test_temp_write_leaves_nothing_for_a_farm_submitter(script: Path, shared_data: Path) -> None:
    """Submitters (Deadline's walks `allNodes(recurseGroups=True)`) render every enabled Write, Groups included."""
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    nuke.createNode("Grade")["multiply"].setValue(0.5)
    node = nodes.create("Relight")
    node["strength"].setValue(0.0)

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert nuke.executed  # a temp Write was rendered ...
    assert writes_left() == []  # ... and is gone
    nuke.scriptSave()
    assert "Write {" not in (script / "shot.nk").read_text()


def test_studio_lossy_write_default_does_not_reach_the_temp_plate(script: Path, shared_data: Path) -> None:
    """A studio's `knobDefault("Write.compression", "DWAA (lossy)")` must not make the plate sent on lossy."""
    nuke.knobDefault("Write.compression", "DWAA (lossy)")
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    nuke.createNode("Grade")["multiply"].setValue(2.0)
    node = nodes.create("Relight")
    node["strength"].setValue(0.0)

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    temp = script / "dreamplate" / node.name() / render.TEMP_FOLDER / "plate.1002.exr"
    assert read_info(temp)[0].compression not in ("dwaa", "dwab", "b44", "b44a", "pxr24")
    _assert_graded_plate(shared_data, frame_file(node.node(nodes.RESULT_READ), 1002), 2.0)


@pytest.mark.parametrize("change", ["raw", "offset", "proxy"])
def test_read_with_raw_offset_or_proxy_goes_through_a_temp_write(script: Path, shared_data: Path, change: str) -> None:
    """The server reads files as they are: a Read whose pixels or frames differ from its files is rendered by Nuke."""
    read = make_read(copy_sequence(shared_data, script / "plate", 3), 1001, 1003)
    frames = (1001, 1003)
    if change == "raw":
        read["raw"].setValue(True)
    elif change == "offset":
        read["frame_mode"].setValue("offset")
        read["frame"].setValue("10")
        frames = (1011, 1013)
    else:
        read["proxy"].setValue(copy_sequence(shared_data, script / "proxy", 3))
        nuke.root()["proxy"].setValue(True)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")
    node["factor"].setValue(1)

    press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert nuke.executed == [(f"{node.name()}.dp_write_plate", *frames)]
    temp = str(script / "dreamplate" / node.name() / render.TEMP_FOLDER / "plate.####.exr")
    spec = job_of(node)["spec"]
    assert [mapping.hash_pattern(p) for p in spec["inputs"]] == [temp]
    assert spec["params"]["frames"] == "{}-{}".format(*frames)


def test_cancel_in_the_progress_task_cancels_the_job_on_the_server(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 30)
    make_read(pattern, 1001, 1030)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")
    node["factor"].setValue(8)

    node["render"].execute()
    client = Client(os.environ["DREAMPLATE_URL"], TOKEN)
    nuke.pump(until=lambda: client.job(node["job_id"].value())["frames_done"] >= 1, timeout=30)
    nuke.ProgressTask.instances[-1].cancel()  # the artist presses Cancel on Nuke's progress bar
    nuke.pump(until=lambda: final(node), timeout=30)

    job = client.job(node["job_id"].value())
    assert job["state"] == "cancelled"
    assert job["frames_done"] < job["frames_total"] == 233
    assert node["status"].value() == f"cancelled: job {job['id']}"
    assert nuke.messages == []  # a cancel is the artist's choice, not an error
    assert node.node(nodes.SWITCH)["which"].value() == 0  # still passing the plate through


def test_a_server_refusal_is_a_message_naming_the_node_and_the_reason(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 2)
    make_read(pattern, 1001, 1002)
    node = nodes.create("Relight")  # strength 0.5 with no prompt or model: the server refuses it

    node["render"].execute()

    assert len(nuke.messages) == 1
    assert nuke.messages[0].startswith(f"dreamplate {node.name()}: cannot submit: relight job: ")
    assert "--prompt: give a prompt" in nuke.messages[0]
    assert node["status"].value().startswith("error: ")


def test_a_job_that_fails_on_the_server_is_reported_with_its_id(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 3)
    (script / "plate" / "plate.1002.exr").unlink()  # a frame missing inside the Read's range: sent as it is
    make_read(pattern, 1001, 1003)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")

    press_render(node)

    job_id = node["job_id"].value()
    assert len(nuke.messages) == 1, nuke.messages
    assert nuke.messages[0].startswith(f"dreamplate {node.name()}: job {job_id} failed: ")
    assert "1002" in nuke.messages[0]


def test_group_knobs_survive_save_and_reload(script: Path, shared_data: Path) -> None:
    """A comp is saved and opened again (or on the farm): the node keeps its settings, inputs and result."""
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    node = nodes.create("Relight")
    node.setName("Relight_shot")
    for name, value in (("strength", 0.0), ("prompt", "dusk\nwarm rim light"), ("seed", 7), ("draft", True)):
        node[name].setValue(value)
    before = render._knob_values(node)
    nuke.scriptSaveAs(str(script / "shot.nk"))

    nuke.scriptOpen(str(script / "shot.nk"))

    node = nuke.toNode("Relight_shot")
    assert nodes.kind_of(node) == "Relight"
    assert render._knob_values(node) == before
    assert node.input(0) is nuke.toNode("Read1")
    assert render.output_pattern(node) == str(script / "dreamplate" / "Relight_shot" / "Relight_shot.%04d.exr")
    press_render(node)
    assert node["status"].value().startswith("done: job "), node["status"].value()
    nuke.scriptSave()
    nuke.scriptOpen(str(script / "shot.nk"))
    result = nuke.toNode("Relight_shot").node(nodes.RESULT_READ)
    assert (result["first"].value(), result["last"].value()) == (1001, 1002)
    assert nuke.toNode("Relight_shot").node(nodes.SWITCH)["which"].value() == 1


def test_headless_blocks_prints_progress_and_exits_non_zero_with_the_server_message(
    script: Path, shared_data: Path
) -> None:
    make_read(copy_sequence(shared_data, script / "plate", 2), 1001, 1002)
    bad = nodes.create("Relight")
    bad.setName("Relight_bad")  # strength 0.5, no prompt: refused
    bad.setSelected(False)
    nuke.toNode("Read1").setSelected(True)
    good = nodes.create("Relight")
    good.setName("Relight_good")
    good["strength"].setValue(0.0)
    nuke.scriptSaveAs(str(script / "farm.nk"))

    refused = headless(script / "farm.nk", "Relight_bad")
    assert refused.returncode == 1
    assert "dreamplate Relight_bad: cannot submit: relight job: " in refused.stderr
    assert "--prompt: give a prompt" in refused.stderr

    done = headless(script / "farm.nk", "Relight_good")
    assert done.returncode == 0, done.stderr
    assert "dreamplate Relight_good: job " in done.stdout and " done 2/2 frames" in done.stdout
    assert "done: job " in done.stdout.splitlines()[-1]
    assert sorted(p.name for p in (script / "dreamplate" / "Relight_good").glob("*.exr")) == [
        "Relight_good.1001.exr",
        "Relight_good.1002.exr",
    ]


def test_node_edits_stay_on_the_main_thread(script: Path) -> None:
    """The stub refuses knob changes from a worker thread, as Nuke would crash on them: the render path obeys."""
    import threading

    node = nodes.create("Relight")
    errors = []
    thread = threading.Thread(target=lambda: _try(errors, lambda: node["status"].setValue("x")))
    thread.start()
    thread.join()
    assert errors and "off the main thread" in errors[0]


def _try(errors: list, call) -> None:
    try:
        call()
    except AssertionError as exc:
        errors.append(str(exc))


@pytest.mark.parametrize("kind", ["Interpolate", "Relight", "SketchToShot", "Keyframes"])
def test_each_node_has_the_issue_knobs_inputs_and_default_output(script: Path, kind: str) -> None:
    node = nodes.create(kind)
    assert node.Class() == "Group" and nodes.kind_of(node) == kind
    assert node.name() == f"dreamplate_{kind}"
    wanted = {
        "Interpolate": {"method", "factor", "times", "scale", "frame_count", "prompt", "range_first", "range_last"},
        "Relight": {"prompt", "negative_prompt", "strength", "seed", "steps", "draft", "model", "range_first"},
        "SketchToShot": {"prompt", "strength", "model", "range_first"},
        "Keyframes": {"first_frame", "frame_count", "prompt", "key_a_frame", "key_b_frame"},
    }[kind]
    assert wanted | {"status", "output", "render", "job_id"} <= set(node.knobs())
    if kind == "Interpolate":
        assert node["method"].values() == ["auto", "flow", "learned", "blend", "frame", "generative"]
    assert render.output_pattern(node) == str(script / "dreamplate" / node.name() / f"{node.name()}.%04d.exr")
    inputs = [n.name() for n in node.nodes() if n.Class() == "Input"]
    assert (
        inputs
        == {
            "Interpolate": ["plate", "matte"],
            "Relight": ["plate", "light_reference"],
            "SketchToShot": ["blocking", "light_reference"],
            "Keyframes": ["key_A", "key_B", "light_reference"],
        }[kind]
    )
    assert node.maximumInputs() == len(inputs)


def test_a_frame_missing_upstream_fails_the_render_with_nukes_reason(script: Path, shared_data: Path) -> None:
    """Nuke's own failure to render the temp plate reaches the artist as the cannot-submit message."""
    pattern = copy_sequence(shared_data, script / "plate", 2)
    shutil.rmtree(script / "plate")
    make_read(pattern, 1001, 1002)
    nuke.createNode("Grade")
    node = nodes.create("Relight")
    node["strength"].setValue(0.0)

    node["render"].execute()

    assert len(nuke.messages) == 1
    assert nuke.messages[0].startswith(f"dreamplate {node.name()}: cannot submit: Read1: Read error: ")
    assert writes_left() == []
