"""The nodes driven through the `nuke` stub against a real `dreamplate serve`: Render, result Read, cancel, headless."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nuke
import numpy as np
import pytest
from dreamplate_nuke import nodes
from nuke_support import HERE, REPO, copy_sequence
from server_support import TOKEN

from dreamplate.client import Client
from dreamplate.io.exr import read_exr


def _final(node) -> bool:
    status = node["status"].value()
    return status.split(":")[0] in ("done", "failed", "cancelled", "error") or " failed:" in status


def _read(pattern: str, first: int = 1001, last: int = 1003):
    read = nuke.createNode("Read")
    read["file"].setValue(pattern)
    for name, value in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        read[name].setValue(value)
    read["colorspace"].setValue("ACEScg")
    return read


def _frame(read, frame: int) -> Path:
    return Path(read["file"].value().replace("####", f"{frame:04d}"))


def _press_render(node) -> None:
    """What the artist does: press the Render button, then Nuke's event loop runs until the node says it ended."""
    node["render"].execute()
    nuke.pump(until=lambda: _final(node), timeout=30)


def test_interpolate_over_a_read_of_shared_exrs_points_its_read_at_the_result(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 3)
    _read(pattern)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")

    _press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert nuke.executed == [] or all("dp_write" not in name for name, _, _ in nuke.executed)  # sent directly
    read = node.node(nodes.RESULT_READ)
    assert read["file"].value() == str(script / "dreamplate" / node.name() / f"{node.name()}.####.exr")
    assert (read["first"].value(), read["last"].value()) == (1001, 1005)  # 3 frames retimed 2x: 2 * 3 - 1
    assert read["colorspace"].value() == "ACEScg"
    assert node.node(nodes.SWITCH)["which"].value() == 1
    for frame in range(1001, 1006):
        image = read_exr(_frame(read, frame))
        assert image.data_window == (0, 0, 399, 299)
        assert set(image.pixel_types.values()) == {"half"}
        assert image.attributes["dreamplate/colorspace"] == "ACEScg"
        assert image.attributes["colorInteropID"] == "lin_ap1_scene"
    # The server ran the job the node names, with Nuke's colour settings.
    job = Client(os.environ["DREAMPLATE_URL"], TOKEN).job(node["job_id"].value())
    assert job["state"] == "done"
    assert job["spec"]["params"] == {"colorspace": "ACEScg", "method": "flow", "factor": 2, "frames": "1001-1003"}
    # The ProgressTask was closed and saw 100 %.
    task = nuke.ProgressTask.instances[-1]
    assert task.progress[-1] == 100


def test_relight_strength_zero_through_a_temp_write_returns_the_graded_plate(script: Path, shared_data: Path) -> None:
    """Upstream is a Grade, not a plain Read: Nuke renders it to a temp half EXR sequence, which relight passes on."""
    pattern = copy_sequence(shared_data, script / "plate", 2)
    _read(pattern, 1001, 1002)
    grade = nuke.createNode("Grade")
    grade["multiply"].setValue(2.0)
    node = nodes.create("Relight")
    node["strength"].setValue(0.0)

    _press_render(node)

    assert node["status"].value().startswith("done: job "), node["status"].value()
    assert [name for name, _, _ in nuke.executed] == [f"{node.name()}.dp_write_plate"]
    read = node.node(nodes.RESULT_READ)
    assert (read["first"].value(), read["last"].value()) == (1001, 1002)
    assert read["colorspace"].value() == "ACEScg"  # the working space, passed as the job's colorspace
    source = read_exr(shared_data / "exr" / "DisplayWindow" / "t01.exr")
    result = read_exr(_frame(read, 1002))
    for channel in ("R", "G", "B"):
        expected = (source.channels[channel].astype(np.float32) * 2).astype(np.float16)
        np.testing.assert_array_equal(result.channels[channel].astype(np.float16), expected)


def test_cancel_in_the_progress_task_cancels_the_job_on_the_server(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 30)
    _read(pattern, 1001, 1030)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")
    node["factor"].setValue(8)

    node["render"].execute()
    client = Client(os.environ["DREAMPLATE_URL"], TOKEN)
    nuke.pump(until=lambda: client.job(node["job_id"].value())["frames_done"] >= 1, timeout=30)
    nuke.ProgressTask.instances[-1].cancel()  # the artist presses Cancel on Nuke's progress bar
    nuke.pump(until=lambda: _final(node), timeout=30)

    job = client.job(node["job_id"].value())
    assert job["state"] == "cancelled"
    assert job["frames_done"] < job["frames_total"] == 233
    assert node["status"].value() == f"cancelled: job {job['id']}"
    assert nuke.messages == []  # a cancel is the artist's choice, not an error
    assert node.node(nodes.SWITCH)["which"].value() == 0  # still passing the plate through


def test_a_server_refusal_is_a_message_naming_the_node_and_the_reason(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 2)
    _read(pattern, 1001, 1002)
    node = nodes.create("Relight")  # strength 0.5 with no prompt or model: the server refuses it

    node["render"].execute()

    assert len(nuke.messages) == 1
    assert nuke.messages[0].startswith(f"dreamplate {node.name()}: cannot submit: relight job: ")
    assert "--prompt: give a prompt" in nuke.messages[0]
    assert node["status"].value().startswith("error: ")


def test_a_job_that_fails_on_the_server_is_reported_with_its_id(script: Path, shared_data: Path) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 3)
    _read(pattern, 1001, 1003)
    node = nodes.create("Interpolate")
    node["method"].setValue("flow")
    node["use_input_range"].setValue(False)
    node["range_first"].setValue(1001)
    node["range_last"].setValue(1004)  # one frame past the plate: the job fails when it runs

    _press_render(node)

    job_id = node["job_id"].value()
    assert len(nuke.messages) == 1, nuke.messages
    assert nuke.messages[0].startswith(f"dreamplate {node.name()}: job {job_id} failed: ")
    assert "1004" in nuke.messages[0]


SETUP = """
import nuke
nuke.root()["name"].setValue({comp!r})
read = nuke.createNode("Read")
read["file"].setValue({pattern!r})
read["first"].setValue(1001)
read["last"].setValue(1002)
from dreamplate_nuke import nodes
node = nodes.create("Relight")
node.setName("Relight_bad")
node["strength"].setValue({strength})
"""


def _headless(script: Path, pattern: str, strength: float) -> subprocess.CompletedProcess:
    """`nuke -t headless.py comp Relight_bad`, with the stub as `nuke` (GUI off) in a fresh interpreter."""
    setup = script / f"setup_{strength}.py"
    setup.write_text(SETUP.format(comp=str(script / "shot.nk"), pattern=pattern, strength=strength))
    stub = HERE / "nuke_stub"
    boot = (
        f"import sys; sys.path[:0] = [{str(stub)!r}, {str(REPO / 'nuke_plugin')!r}]; import nuke; nuke.GUI = False; "
        "from dreamplate_nuke import headless; sys.exit(headless.main(sys.argv[1:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", boot, str(setup), "Relight_bad"], capture_output=True, text=True, timeout=60
    )


def test_headless_blocks_prints_progress_and_exits_non_zero_with_the_server_message(
    script: Path, shared_data: Path
) -> None:
    pattern = copy_sequence(shared_data, script / "plate", 2)
    bad = _headless(script, pattern, 0.5)
    assert bad.returncode == 1
    assert "dreamplate Relight_bad: cannot submit: relight job: " in bad.stderr
    assert "--prompt: give a prompt" in bad.stderr

    good = _headless(script, pattern, 0.0)
    assert good.returncode == 0, good.stderr
    assert "dreamplate Relight_bad: job " in good.stdout and " done 2/2 frames" in good.stdout
    assert "done: job " in good.stdout.splitlines()[-1]


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
    wanted = {
        "Interpolate": {"method", "timing", "factor", "times", "motion_scale", "range_first", "range_last"},
        "Relight": {"prompt", "negative_prompt", "strength", "seed", "steps", "draft", "model"},
        "SketchToShot": {"prompt", "strength", "model"},
        "Keyframes": {"first_frame", "frame_count", "prompt", "key_a_frame", "key_b_frame"},
    }[kind]
    assert wanted | {"status", "output", "render", "job_id"} <= set(node.knobs())
    assert node["method"].values() == ["auto", "flow", "learned", "generative"] if kind == "Interpolate" else True
    assert node["output"].evaluate() == str(script / "dreamplate" / node.name() / f"{node.name()}.####.exr")
    inputs = [n.name() for n in node.nodes() if n.Class() == "Input"]
    assert len(inputs) == len(nodes.INPUT_ROLES[kind])
