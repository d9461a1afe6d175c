"""The generative nodes rendered end to end through the stub and a real server, on a tiny random LTX-Video model.

The model's output is noise; what is checked is Nuke's side: the frames each input is read at (their own, never
the current frame), patterns in and out, the keys passing through exactly, the result Read's range, format and
colour space.
"""

from __future__ import annotations

from pathlib import Path

import nuke
import numpy as np
from dreamplate_nuke import mapping, nodes
from nuke_support import frame_file, job_of, make_read, press_render, writes_left
from plates import write_plate

from dreamplate.io.exr import read_exr

SIZE = (96, 64)


def _generative(node, model: str, prompt: str = "slow dolly in at dusk") -> None:
    node["prompt"].setValue(prompt)
    node["model"].setValue(model)
    node["steps"].setValue(2)


def _render(node) -> None:
    press_render(node, timeout=90)
    assert node["status"].value().startswith("done: job "), node["status"].value()


def _bits(path: str) -> dict:
    image = read_exr(Path(path))
    return {name: a.astype(np.float16).view(np.uint16) for name, a in image.channels.items() if name in "RGB"}


def _assert_same_pixels(a: str, b: str) -> None:
    left, right = _bits(a), _bits(b)
    assert set(left) == set(right)
    for name in left:
        np.testing.assert_array_equal(left[name], right[name])


def test_generative_interpolate_keys_are_the_range_ends_not_the_current_frame(script: Path, tiny_ltx: str) -> None:
    plate = write_plate(script / "plate", range(1001, 1004), SIZE)
    make_read(plate, 1001, 1003)
    node = nodes.create("Interpolate")
    node["method"].setValue("generative")
    node["frame_count"].setValue(5)
    _generative(node, tiny_ltx)
    nuke.frame(1002)

    _render(node)

    spec = job_of(node)["spec"]
    assert spec["task"] == "keyframes"
    assert spec["params"]["keys"] == {"1001": mapping.frame_path(plate, 1001), "1005": mapping.frame_path(plate, 1003)}
    read = node.node(nodes.RESULT_READ)
    assert (read["first"].value(), read["last"].value()) == (1001, 1005)
    assert mapping.hash_pattern(read["file"].value()) == mapping.hash_pattern(spec["output"])
    _assert_same_pixels(str(frame_file(read, 1001)), mapping.frame_path(plate, 1001))
    _assert_same_pixels(str(frame_file(read, 1005)), mapping.frame_path(plate, 1003))
    assert writes_left() == []


def test_keyframes_inputs_use_their_own_frames(script: Path, tiny_ltx: str) -> None:
    """Key A at its own frame 1002, key B at 2003, with the artist on frame 1001: each key file is its own frame's."""
    key_a = write_plate(script / "a", range(1001, 1004), SIZE)
    key_b = write_plate(script / "b", range(2001, 2004), SIZE)
    read_a = make_read(key_a, 1001, 1003)
    read_b = nuke.nodes.Read()
    read_b["file"].fromUserText(f"{key_b} 2001-2003")
    read_b["colorspace"].setValue("ACEScg")
    read_a.setSelected(True)
    node = nodes.create("Keyframes")
    node.setInput(1, read_b)
    for name, value in (("first_frame", 1001), ("frame_count", 5), ("key_a_frame", 1002), ("key_b_frame", 2003)):
        node[name].setValue(value)
    _generative(node, tiny_ltx)
    nuke.frame(1001)

    _render(node)

    spec = job_of(node)["spec"]
    assert spec["params"]["keys"] == {"1001": mapping.frame_path(key_a, 1002), "1005": mapping.frame_path(key_b, 2003)}
    read = node.node(nodes.RESULT_READ)
    assert (read["first"].value(), read["last"].value()) == (1001, 1005)
    _assert_same_pixels(str(frame_file(read, 1001)), mapping.frame_path(key_a, 1002))
    _assert_same_pixels(str(frame_file(read, 1005)), mapping.frame_path(key_b, 2003))


def test_relight_draft_result_read_takes_the_drafts_format(script: Path, tiny_ltx: str) -> None:
    """A draft is written smaller than the plate: the result Read's format is the files', read by fromUserText."""
    plate = write_plate(script / "plate", range(1001, 1004), SIZE)
    make_read(plate, 1001, 1003)
    node = nodes.create("Relight")
    _generative(node, tiny_ltx)
    node["draft"].setValue(True)

    _render(node)

    read = node.node(nodes.RESULT_READ)
    xmin, ymin, xmax, ymax = read_exr(frame_file(read, 1002)).display_window
    assert (read["format"].value().width(), read["format"].value().height()) == (xmax - xmin + 1, ymax - ymin + 1)
    assert (read["first"].value(), read["last"].value()) == (1001, 1003)
    assert read["colorspace"].value() == "ACEScg"
    assert job_of(node)["spec"]["params"]["draft"] is True


def test_sketch_to_shot_renders_the_blocking_range(script: Path, tiny_ltx: str) -> None:
    blocking = write_plate(script / "blocking", range(1001, 1006), SIZE)
    make_read(blocking, 1001, 1005)
    nuke.createNode("Grade")["multiply"].setValue(1.5)  # not a plain Read: rendered to a temp plate first
    node = nodes.create("SketchToShot")
    _generative(node, tiny_ltx, "a finished shot of the blocking")
    node["use_input_range"].setValue(False)
    node["range_first"].setValue(1002)
    node["range_last"].setValue(1006)  # one past the Read: Nuke holds its last frame, and so does the temp plate
    nuke.frame(1004)

    _render(node)

    assert nuke.executed == [(f"{node.name()}.dp_write_blocking", 1002, 1006)]
    spec = job_of(node)["spec"]
    assert spec["task"] == "sketch" and spec["params"]["frames"] == "1002-1006"
    read = node.node(nodes.RESULT_READ)
    assert (read["first"].value(), read["last"].value()) == (1002, 1006)
    assert writes_left() == []
