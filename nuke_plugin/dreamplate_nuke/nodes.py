"""The four dreamplate nodes, built in code as Group nodes.

Group nodes built here rather than gizmos: a gizmo is a frozen `.gizmo` file whose internals Nuke re-reads from
disk, so its knobs could not follow the server's task list without regenerating files on every install, and a saved
script would silently pick up a changed gizmo. A Group built in code is saved whole into the artist's script (the
result Read included, so the comp opens without the plugin), and one function per node keeps knobs, inputs and
defaults readable in one place. The trade-off: an existing node does not pick up knob changes from a newer plugin.

Inside every node: one Input per role, a Switch that passes the plate through until a result exists, the result
Read (`dp_result`), and, while an input renders, a temporary Write for it (deleted once its frames are written).
"""

from __future__ import annotations

import logging
from typing import Dict, List, Optional, Tuple

import nuke

log = logging.getLogger(__name__)

KIND_KNOB = "dreamplate_kind"
TAB = "dreamplate"
"""The node's own tab: every knob from it on is a dreamplate setting; those before it are the Group's built-ins."""
RESULT_READ = "dp_result"
SWITCH = "dp_switch"
DEFAULT_OUTPUT = "[file dirname [value root.name]]/dreamplate/[value this.name]/[value this.name].####.exr"
RENDER_SCRIPT = "import dreamplate_nuke.render\ndreamplate_nuke.render.render_node(nuke.thisNode())"

INPUT_ROLES = {
    "Interpolate": [("plate", "plate")],
    "Relight": [("plate", "plate"), ("light", "light reference")],
    "SketchToShot": [("plate", "blocking")],
    "Keyframes": [("key_a", "key A"), ("key_b", "key B")],
}  # type: Dict[str, List[Tuple[str, str]]]
"""Each node's inputs in order (role, label shown on the arrow); a role's index is its Input number."""

OPTIONAL_ROLES = ("light",)
RANGE_KINDS = ("Interpolate", "Relight", "SketchToShot")


def _enum(name: str, label: str, values: List[str], tooltip: str) -> "nuke.Knob":
    knob = nuke.Enumeration_Knob(name, label, values)
    knob.setTooltip(tooltip)
    return knob


def _knob(knob: "nuke.Knob", value: object = None, tooltip: str = "", new_line: bool = True) -> "nuke.Knob":
    if value is not None:
        knob.setValue(value)
    if tooltip:
        knob.setTooltip(tooltip)
    if new_line:
        knob.setFlag(nuke.STARTLINE)
    return knob


def _generative_knobs(strength: float = -1.0) -> List["nuke.Knob"]:
    """Prompt, model and sampler knobs every generative node shares (names as the server's spec names them)."""
    knobs = [
        _knob(nuke.Multiline_Eval_String_Knob("prompt", "prompt"), tooltip="what the result should look like"),
        _knob(nuke.String_Knob("negative_prompt", "negative prompt"), tooltip="what it should not look like"),
        _knob(nuke.String_Knob("model", "model"), tooltip="a model registered on the server (dreamplate models "
              "list) or its folder; the server's Models list says which exist"),
    ]
    if strength >= 0:
        knob = nuke.Double_Knob("strength", "strength")
        knob.setRange(0.0, 1.0)
        knobs.append(_knob(knob, strength, "how far the result may leave the plate (0 returns it unchanged)"))
    knobs += [
        _knob(nuke.Int_Knob("seed", "seed"), 0, "window 0's seed; the same seed gives the same result"),
        _knob(nuke.Int_Knob("steps", "steps"), 30, "denoising steps (a draft runs a quarter of them)"),
        _knob(nuke.Boolean_Knob("draft", "draft"), False, "fast preview at about half size with few steps"),
    ]
    return knobs


def _kind_knobs(kind: str) -> List["nuke.Knob"]:
    if kind == "Interpolate":
        return [
            _enum("method", "method", ["auto", "flow", "learned", "generative"],
                  "auto: learned when its weights are on the server, else flow; generative fills the range from "
                  "its first and last frames with a video model"),
            _enum("timing", "timing", ["factor", "times"], "factor: retime the range by a whole factor; times: "
                  "in-betweens at these times between the range's first and last frame"),
            _knob(nuke.Int_Knob("factor", "factor"), 2, "output frames per input frame (2 doubles the frame rate)"),
            _knob(nuke.String_Knob("times", "times"), "0.5", "times in [0, 1], e.g. 0.25 0.5 0.75"),
            _enum("motion_scale", "motion scale", ["auto", "1", "0.5", "0.25"],
                  "learned only: the scale the motion is estimated at (auto keeps it within 2K)"),
            _knob(nuke.Int_Knob("frame_count", "frame count"), 49, "generative only: frames out, keys included"),
        ] + _generative_knobs()
    if kind == "Relight":
        return _generative_knobs(0.5)
    if kind == "SketchToShot":
        return _generative_knobs(0.9)
    if kind == "Keyframes":
        first = int(nuke.root()["first_frame"].value())
        return [
            _knob(nuke.Int_Knob("first_frame", "first frame"), first, "the output's first frame (key A lands here)"),
            _knob(nuke.Int_Knob("frame_count", "frame count"), 49, "frames out, keys included (key B is the last)"),
            _knob(nuke.Int_Knob("key_a_frame", "key A frame"), first, "which frame of input A is the key"),
            _knob(nuke.Int_Knob("key_b_frame", "key B frame"), first, "which frame of input B is the key"),
        ] + _generative_knobs()
    raise ValueError("unknown dreamplate node kind {!r}".format(kind))


def create(kind: str) -> "nuke.Node":
    """Create `dreamplate <kind>` in the current context, connected to the selected node as Nuke would."""
    if kind not in INPUT_ROLES:
        raise ValueError("unknown dreamplate node kind {!r}".format(kind))
    # createNode hooks a new node up to the selection only through inputs it has, and a new Group has none until
    # its Input nodes exist: remember the selection now and connect it once they are built.
    upstream = _selected_node()
    group = nuke.createNode("Group", inpanel=False)
    group.setName("dreamplate_{}".format(kind))
    group.addKnob(nuke.Tab_Knob(TAB, "dreamplate"))
    kind_knob = nuke.String_Knob(KIND_KNOB, "kind", kind)
    kind_knob.setFlag(nuke.INVISIBLE)
    group.addKnob(kind_knob)
    group.addKnob(nuke.Text_Knob("status", "server", "not rendered"))
    for knob in _kind_knobs(kind):
        group.addKnob(knob)
    if kind in RANGE_KINDS:
        group.addKnob(_knob(nuke.Boolean_Knob("use_input_range", "input range"), True,
                            "use the input's frame range; off: the range below"))
        first = upstream.firstFrame() if upstream else int(nuke.root()["first_frame"].value())
        last = upstream.lastFrame() if upstream else int(nuke.root()["last_frame"].value())
        group.addKnob(_knob(nuke.Int_Knob("range_first", "frame range"), first, "first input frame"))
        group.addKnob(_knob(nuke.Int_Knob("range_last", ""), last, "last input frame", new_line=False))
    group.addKnob(_knob(nuke.File_Knob("output", "output"), DEFAULT_OUTPUT,
                        "the result's frame pattern; must lie inside one of the server's --root folders"))
    group.addKnob(_knob(nuke.PyScript_Knob("render", "Render", RENDER_SCRIPT),
                        tooltip="submit to the dreamplate server; the node shows the result when it is done"))
    job = nuke.String_Knob("job_id", "job")
    job.setFlag(nuke.READ_ONLY)
    group.addKnob(job)
    _build_internals(group, kind)
    if upstream is not None:
        group.setInput(0, upstream)
    return group


def _selected_node() -> "Optional[nuke.Node]":
    """The one node selected in the current context, or None (none, or several: Nuke would connect none)."""
    selected = nuke.selectedNodes()
    return selected[0] if len(selected) == 1 else None


def _build_internals(group: "nuke.Node", kind: str) -> None:
    """Inputs, the pass-through Switch, the result Read and the Output."""
    group.begin()
    try:
        inputs = []
        for index, (role, label) in enumerate(INPUT_ROLES[kind]):
            node = nuke.nodes.Input(number=index)
            node.setName(label.replace(" ", "_"))
            inputs.append(node)
        read = nuke.nodes.Read()
        read.setName(RESULT_READ)
        switch = nuke.nodes.Switch(which=0)
        switch.setName(SWITCH)
        switch.setInput(0, inputs[0])
        switch.setInput(1, read)
        output = nuke.nodes.Output()
        output.setInput(0, switch)
    finally:
        group.end()


def kind_of(node: "nuke.Node") -> str:
    """The node's dreamplate kind, or "" for any other node."""
    knob = node.knob(KIND_KNOB)
    return str(knob.value()) if knob is not None else ""
