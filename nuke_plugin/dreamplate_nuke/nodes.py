"""dreamplate nodes, built in code as Group nodes from the server's operation list (`GET /v1/ops`).

One builder makes a `dreamplate <Kind>` node for any operation the server describes: an Input per input role (and
an optional one for each file setting the description offers as an image input, such as relight's light
reference), one knob per setting by its type and kind, tooltips from its help, advanced settings on a second tab,
every default from the description. A new operation on the server is a new node with no change here.

Group nodes built here rather than gizmos: a gizmo is a frozen `.gizmo` file whose internals Nuke re-reads from
disk, so its knobs could not follow the server's operation list without regenerating files on every install, and a
saved script would silently pick up a changed gizmo. A Group is saved whole into the artist's script (knobs, the
operation it was built from and the result Read included), so the comp opens and renders without the plugin's
cache or the server having been reached first. The trade-off: an existing node keeps the knobs it was built with.

Inside every node: one Input per input, a Switch that passes the first input through until a result exists, the
result Read (`dp_result`), and, while an input renders, a temporary Write for it (deleted once its frames are
written). Nuke's own data stays Nuke's: the frame range comes from the input, the output is a File_Knob pattern
beside the script, and Nuke's colour management says what colour space the input is in.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional

import nuke

from dreamplate_nuke import legacy, mapping, ops_cache

log = logging.getLogger(__name__)

KIND_KNOB = "dreamplate_kind"
OP_KNOB = "dreamplate_op"
VERSION_KNOB = "dreamplate_ops_version"
HASH_KNOB = "dreamplate_op_hash"
OP_JSON_KNOB = "dreamplate_op_json"
"""Hidden knobs: the node's kind, its operation's name, the description version and hash, the `node_op` record."""
TAB = "dreamplate"
"""The node's own tab: every knob from it on is a dreamplate setting; those before it are the Group's built-ins."""
ADVANCED_TAB = "dreamplate_advanced"
RESULT_READ = "dp_result"
SWITCH = "dp_switch"
DEFAULT_OUTPUT = "[file dirname [value root.name]]/dreamplate/[value this.name]/[value this.name].####.exr"
RENDER_SCRIPT = "import dreamplate_nuke.render\ndreamplate_nuke.render.render_node(nuke.thisNode())"
INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)
"""Nuke's Int_Knob holds a 32-bit int: a declared bound beyond it (a seed's 2**63) is cut to it for the slider."""


def description_for_new_nodes() -> Dict[str, Any]:
    """The cached operation list. In a GUI session it never waits on the network (the menu fetches in the background);
    headless, with nothing cached, it asks the server once (a script making nodes on a farm has no UI to freeze)."""
    description = ops_cache.load()
    if description is not None:
        return description
    if not nuke.GUI:
        return ops_cache.fetch()
    raise mapping.SpecError("the server's operation list is not cached yet ({}): start the server, then use "
                            "dreamplate > Reload operations".format(ops_cache.cache_path()))


def create(name: str, description: Optional[Dict[str, Any]] = None) -> "nuke.Node":
    """Create the node of operation `name` (`relight`, or its kind `Relight`), connected to the selection as Nuke would.

    `description` is the server's operation list (`GET /v1/ops`); by default the cached one.
    """
    description = description if description is not None else description_for_new_nodes()
    op = mapping.find_op(mapping.check_description(description), name)
    kept = mapping.node_op(description, op["name"])
    # createNode hooks a new node up to the selection only through inputs it has, and a new Group has none until
    # its Input nodes exist: remember the selection now and connect it once they are built.
    upstream = _selected_node()
    group = nuke.createNode("Group", inpanel=False)
    group.setName("dreamplate_{}".format(kept["kind"]))
    group.addKnob(nuke.Tab_Knob(TAB, "dreamplate"))
    for knob_name, label, value in ((KIND_KNOB, "kind", kept["kind"]), (OP_KNOB, "operation", kept["name"]),
                                    (VERSION_KNOB, "operations version", kept["version"]),
                                    (HASH_KNOB, "operation hash", kept["hash"]),
                                    (OP_JSON_KNOB, "operation", json.dumps(kept, sort_keys=True))):
        hidden = nuke.String_Knob(knob_name, label, value)
        hidden.setFlag(nuke.INVISIBLE)
        group.addKnob(hidden)
    group.addKnob(nuke.Text_Knob("status", "server", "not rendered"))
    for knob in _knobs(op, kept, description, upstream):
        group.addKnob(knob)
    _build_internals(group, kept["inputs"])
    if upstream is not None:
        group.setInput(0, upstream)
    return group


def _knobs(op: Dict[str, Any], kept: Dict[str, Any], description: Dict[str, Any], upstream: Any
           ) -> List["nuke.Knob"]:
    """The node's knobs in panel order: settings, key frames, routes, frame range, output and Render; then advanced."""
    declared = {field["name"]: field for field in op["fields"]}
    main, advanced = [], []  # type: List[nuke.Knob], List[nuke.Knob]
    for field in kept["fields"]:
        if field["place"] == "knob":
            source = declared[field["name"]]
            (advanced if source.get("advanced") else main).append(_setting_knob(source, field["knob"]))
    root = nuke.root()
    first, last = int(root["first_frame"].value()), int(root["last_frame"].value())
    if kept["keys"]:
        # Nuke data: the output starts at the project's first frame and spans its range; each key is its input's
        # frame (the project's first frame until the artist says which).
        main.append(_knob(nuke.Int_Knob("first_frame", "first frame"), first, "the output's first frame (the first "
                          "key lands here, the last key on its last frame)"))
        main.append(_knob(nuke.Int_Knob("frame_count", "frame count"), last - first + 1,
                          "frames out, keys included"))
        for entry in kept["inputs"]:
            if entry["frame_knob"]:
                main.append(_knob(nuke.Int_Knob(entry["frame_knob"], "{} frame".format(entry["label"])), first,
                                  "which frame of input {} is the key".format(entry["label"])))
    targets = {other["name"]: other for other in description["ops"]}
    for route in kept["routes"]:
        main.append(nuke.Text_Knob("dp_route_{}".format(route["field"]), "{} {}".format(route["field"],
                                   route["value"]), "runs as {}".format(route["to"])))
        if route["keys"] and not kept["keys"]:
            main.append(_knob(nuke.Int_Knob("frame_count", "frame count"), 0, "frames out, keys included: the range's "
                              "first and last frames are the keys (0: as many frames as the range)"))
        offered = {field["name"]: field for field in targets.get(route["to"], {}).get("fields", [])}
        for field in route["fields"]:
            main.append(_setting_knob(offered[field["name"]], field["knob"]))
    if kept["range"]:
        main.append(_knob(nuke.Boolean_Knob("use_input_range", "input range"), True,
                          "use the input's frame range; off: the range below"))
        if upstream is not None:
            first, last = upstream.firstFrame(), upstream.lastFrame()
        main.append(_knob(nuke.Int_Knob("range_first", "frame range"), first, "first input frame"))
        main.append(_knob(nuke.Int_Knob("range_last", ""), last, "last input frame", new_line=False))
    main.append(_knob(nuke.File_Knob("output", "output"), DEFAULT_OUTPUT,
                      "the result's frame pattern; must lie inside one of the server's --root folders"))
    main.append(_knob(nuke.PyScript_Knob("render", "Render", RENDER_SCRIPT),
                      tooltip="submit to the dreamplate server; the node shows the result when it is done"))
    job = nuke.String_Knob("job_id", "job")
    job.setFlag(nuke.READ_ONLY)
    main.append(job)
    if advanced:
        main.append(nuke.Tab_Knob(ADVANCED_TAB, "advanced"))
    return main + advanced


def _knob(knob: "nuke.Knob", value: object = None, tooltip: str = "", new_line: bool = True) -> "nuke.Knob":
    if value is not None:
        knob.setValue(value)
    if tooltip:
        knob.setTooltip(tooltip)
    if new_line:
        knob.setFlag(nuke.STARTLINE)
    return knob


def _setting_knob(field: Dict[str, Any], name: str) -> "nuke.Knob":
    """The knob for one declared setting: its type and kind pick the knob, its default is the declaration's.

    Nuke's knobs cannot hold None: a number, switch or choice whose default is None (the server decides) is a text
    knob or a menu with a `(server default)` item, and an empty text knob sends nothing.
    """
    kind_of, kind, default = field["type"], field.get("kind"), field.get("default")
    label, tooltip = field.get("label") or field["name"], field.get("help") or ""
    if kind in mapping.PATH_KINDS:
        knob = nuke.File_Knob(name, label)
        value = default if isinstance(default, str) else ""  # type: Any
        if field.get("words"):
            tooltip += " (or {})".format(", ".join(field["words"]))
    elif kind_of == "boolean" and default is not None:
        knob, value = nuke.Boolean_Knob(name, label), bool(default)
    elif kind_of == "boolean":
        knob, value = nuke.Enumeration_Knob(name, label, [mapping.UNSET_CHOICE, "true", "false"]), None
    elif kind_of == "choice":
        items = ([mapping.UNSET_CHOICE] if default is None else []) + [str(c) for c in field.get("choices", [])]
        knob, value = nuke.Enumeration_Knob(name, label, items), (None if default is None else str(default))
    elif kind_of in ("integer", "number") and default is not None:
        knob = nuke.Int_Knob(name, label) if kind_of == "integer" else nuke.Double_Knob(name, label)
        value = int(default) if kind_of == "integer" else float(default)
        if field.get("minimum") is not None and field.get("maximum") is not None:
            low, high = field["minimum"], field["maximum"]
            if kind_of == "integer":
                low, high = max(low, INT_RANGE[0]), min(high, INT_RANGE[1])
            knob.setRange(low, high)
    elif field.get("multiline"):
        knob, value = nuke.Multiline_Eval_String_Knob(name, label), default if isinstance(default, str) else ""
    else:
        knob, value = nuke.String_Knob(name, label), default if isinstance(default, str) else ""
        if default is None:
            tooltip += " (empty: the server's default)"
    return _knob(knob, value, tooltip)


def _selected_node() -> "Optional[nuke.Node]":
    """The one node selected in the current context, or None (none, or several: Nuke would connect none)."""
    selected = nuke.selectedNodes()
    return selected[0] if len(selected) == 1 else None


def _build_internals(group: "nuke.Node", inputs: List[Dict[str, Any]]) -> None:
    """Inputs, the pass-through Switch, the result Read and the Output."""
    group.begin()
    try:
        made = []
        for index, entry in enumerate(inputs):
            node = nuke.nodes.Input(number=index)
            node.setName(entry["name"])
            made.append(node)
        read = nuke.nodes.Read()
        read.setName(RESULT_READ)
        switch = nuke.nodes.Switch(which=0)
        switch.setName(SWITCH)
        if made:
            switch.setInput(0, made[0])
        switch.setInput(1, read)
        output = nuke.nodes.Output()
        output.setInput(0, switch)
    finally:
        group.end()


def kind_of(node: "nuke.Node") -> str:
    """The node's dreamplate kind (`Relight`), or "" for any other node."""
    knob = node.knob(KIND_KNOB)
    return str(knob.value()) if knob is not None else ""


def op_of(node: "nuke.Node") -> Optional[Dict[str, Any]]:
    """The operation record the node was built with (`mapping.node_op`), or None for a node saved before there was
    one (`legacy`) or any other node."""
    knob = node.knob(OP_JSON_KNOB)
    if knob is None:
        return None
    try:
        kept = json.loads(str(knob.value()))
    except ValueError:
        raise mapping.SpecError("{}: its {} knob is not readable JSON".format(node.name(), OP_JSON_KNOB)) from None
    if kept.get("schema") != mapping.NODE_OP_SCHEMA:
        raise mapping.SpecError("{}: built as {!r}; this plugin reads {}".format(
            node.name(), kept.get("schema"), mapping.NODE_OP_SCHEMA))
    return kept


def is_legacy(node: "nuke.Node") -> bool:
    """A node saved before nodes were built from the server's description: it renders as it did (`legacy`)."""
    return node.knob(OP_JSON_KNOB) is None and legacy.is_legacy(kind_of(node))
