"""Host-free logic of the Nuke plugin: the operations' description read for nodes, job specs from knob values, path
maps, result frames and their colour tag.

Nothing here imports `nuke`: the node code gathers knob values into plain dicts and this module turns them into the
JSON job the server takes (`{"task", "inputs", "output", "params"}`), so spec assembly is tested without Nuke. Nothing
here knows an operation's settings: they come from `GET /v1/ops` (`node_op`); what stays named by operation is Nuke
data (`TWO_FRAME_SETTINGS`).
"""

from __future__ import annotations

import os
import re
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

from dreamplate import client

FRAME_TOKEN = re.compile(r"#+|%0?(\d*)d|@+")
"""A frame-number token in a file pattern: `####`, `%04d`, `@@@@` (as Nuke and dreamplate both spell them)."""

PathMaps = Sequence[Tuple[str, str]]


class SpecError(ValueError):
    """Knob values that cannot make a job; the message names the knob and the bad value."""


# --- path maps: this workstation's spelling <-> the server's ---------------------------------------------------------


def parse_maps(text: str) -> List[Tuple[str, str]]:
    """`CLIENT=SERVER` rules, one per line or separated by `;` (as `$DREAMPLATE_MAP` holds them)."""
    try:
        return list(client.PathMaps.parse(text).pairs)
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def to_server(path: str, maps: PathMaps) -> str:
    """The server's spelling of a workstation path (longest matching prefix wins; unchanged when none matches)."""
    return client.PathMaps(maps).to_server(path)


def to_client(path: str, maps: PathMaps) -> str:
    """The workstation's spelling of a server path: the maps read backwards."""
    return client.PathMaps(maps).to_client(path)


# --- frame patterns and result frames --------------------------------------------------------------------------------


def is_sequence(path: str) -> bool:
    return bool(FRAME_TOKEN.search(os.path.basename(path)))


def frame_path(pattern: str, frame: int) -> str:
    """One frame's file name from a `####` / `%04d` / `@@@@` pattern."""

    def fill(match: "re.Match[str]") -> str:
        token = match.group(0)
        width = len(token) if token[0] in "#@" else int(match.group(1) or 0)
        return "{:0{}d}".format(frame, width) if width else str(frame)

    folder, name = os.path.split(pattern)
    return os.path.join(folder, FRAME_TOKEN.sub(fill, name, count=1))


def hash_pattern(pattern: str) -> str:
    """The pattern spelled with `#`s, as Nuke's Read shows it (`%04d` -> `####`)."""

    def hashes(match: "re.Match[str]") -> str:
        token = match.group(0)
        return "#" * (len(token) if token[0] in "#@" else int(match.group(1) or 1))

    folder, name = os.path.split(pattern)
    return os.path.join(folder, FRAME_TOKEN.sub(hashes, name, count=1))


def existing_frames(pattern: str) -> List[int]:
    """Frame numbers of the files on disk that the pattern names, sorted (how the result's range is found)."""
    folder, name = os.path.split(pattern)
    parts = FRAME_TOKEN.split(name, maxsplit=1)
    if len(parts) < 2:
        return []
    head, tail = parts[0], parts[-1]
    matcher = re.compile(re.escape(head) + r"(-?\d+)" + re.escape(tail) + r"$")
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return sorted(int(m.group(1)) for m in (matcher.match(n) for n in names) if m)


def exr_string_attributes(path: str) -> Dict[str, str]:
    """The string attributes of an OpenEXR header (first part), read with the standard library.

    What the plugin needs from a result frame is the colour space the server tagged it with
    (`dreamplate/colorspace`, `colorInteropID`); reading 300 bytes of header needs no OpenEXR in Nuke's Python.
    """
    attributes = {}
    with open(path, "rb") as handle:
        if handle.read(4) != b"\x76\x2f\x31\x01":
            raise SpecError("{}: not an OpenEXR file".format(path))
        handle.read(4)  # version flags: a multipart file's first header reads the same way
        while True:
            name = _read_cstring(handle)
            if not name:
                break
            kind = _read_cstring(handle)
            size = struct.unpack("<i", handle.read(4))[0]
            value = handle.read(size)
            if kind == "string":
                attributes[name] = value.decode("utf-8", "replace")
    return attributes


def _read_cstring(handle: Any) -> str:
    data = bytearray()
    while True:
        byte = handle.read(1)
        if not byte or byte == b"\0":
            return data.decode("utf-8", "replace")
        data += byte
        if len(data) > 255:
            raise SpecError("{}: corrupt OpenEXR header".format(getattr(handle, "name", "file")))


def colorspace_candidates(attributes: Dict[str, str]) -> List[str]:
    """Names to try for the result Read's colour space, best first: the OCIO name the server wrote, its interop id."""
    names = [attributes.get("dreamplate/colorspace", ""), attributes.get("colorInteropID", "")]
    return [name for index, name in enumerate(names) if name and name not in names[:index]]


# --- the operations' description (`GET /v1/ops`): what a node is built from and keeps ---------------------------------

DESCRIPTION_SCHEMA = "dreamplate.ops/1"
NODE_OP_SCHEMA = "dreamplate.nuke.node-op/1"
"""The part of an operation's description a node keeps in the script (`node_op`), versioned like every record."""
PATH_KINDS = ("frame_pattern", "file")
FROM_NUKE = ("colorspace", "ocio")
"""Settings filled from Nuke's own data, not shown as knobs: the colour space Nuke says the input is in and the OCIO
config Nuke uses (the plate layer's shared settings; see `render.ocio_settings`). Settings of kind `frame_range` are
Nuke's too: the node's frame range, the input's unless set by hand."""
NUKE_KNOBS = ("status", "output", "render", "job_id", "use_input_range", "range_first", "range_last", "first_frame",
              "frame_count", "dreamplate_kind", "dreamplate_op", "dreamplate_ops_version", "dreamplate_op_hash",
              "dreamplate_op_json", "dreamplate", "dreamplate_advanced")
"""The node's own knobs (the frame range, output, Render, status, job, the recorded operation, its tabs)."""
GROUP_KNOBS = ("name", "label", "note_font", "note_font_size", "note_font_color", "selected", "xpos", "ypos",
               "tile_color", "gl_color", "hide_input", "cached", "disable", "dope_sheet", "bookmark", "postage_stamp",
               "postage_stamp_frame", "useLifetime", "lifetimeStart", "lifetimeEnd", "lock_connections", "onCreate",
               "onDestroy", "knobChanged", "updateUI", "autolabel", "help", "icon", "indicators", "panel", "User")
"""Knobs every Group has already (its Node tab): a setting of that name gets the knob `dp_<name>` instead."""
TWO_FRAME_SETTINGS = {"interpolate": ("times",)}
"""Settings that make an operation take two frames rather than the plate sequence, by operation.

Nuke data, which is why it is named here: interpolate takes one sequence or two frames (its `inputs` hold 1 to 2),
and its explicit `times` lie between two frames. A node has one plate input and a frame range, so the two frames are
the range's first and last; the server does the rest. A route to an operation with keyframes (interpolate's
`method generative`) takes two frames the same way; see `build_job`.
"""
UNSET = object()
"""A knob left empty where its setting's default is None: nothing is sent, the server's default applies."""
UNSET_CHOICE = "(server default)"
"""The menu item of a choice, or switch, whose declared default is None."""


def check_description(description: Any) -> Dict[str, Any]:
    """The description if nodes can be built from it; SpecError saying why not."""
    if not isinstance(description, dict) or description.get("schema") != DESCRIPTION_SCHEMA:
        schema = description.get("schema") if isinstance(description, dict) else type(description).__name__
        raise SpecError("the server describes its operations as {!r}; this plugin reads {}".format(
            schema, DESCRIPTION_SCHEMA))
    if not isinstance(description.get("ops"), list) or not isinstance(description.get("version"), str):
        raise SpecError("the server's operation list has no `ops` list or `version`")
    for op in description["ops"]:
        if not isinstance(op, dict) or not {"name", "inputs", "fields"} <= set(op):
            raise SpecError("the server's operation list has an entry without name, inputs and fields: {!r}".format(
                op if not isinstance(op, dict) else op.get("name")))
    return description


def node_kind(op: Dict[str, Any]) -> str:
    """The node's kind, its title in one word: `Sketch to shot` -> `SketchToShot` (the node `dreamplate SketchToShot`)."""
    words = [word for word in re.split(r"[^0-9A-Za-z]+", str(op.get("title") or op["name"])) if word]
    return "".join(word[:1].upper() + word[1:] for word in words) or str(op["name"])


def find_op(description: Dict[str, Any], name: str) -> Dict[str, Any]:
    """The operation named `name` (`relight`) or whose node is of kind `name` (`Relight`); SpecError listing them."""
    ops = description.get("ops", [])
    for op in ops:
        if op["name"] == name:
            return op
    for op in ops:
        if node_kind(op) == name:
            return op
    raise SpecError("operation {!r}: not in the server's operation list (version {}); it has {}".format(
        name, description.get("version"), ", ".join(op["name"] for op in ops) or "none"))


def input_name(label: str) -> str:
    """The Input node's name for an input labelled `label` (`light reference` -> `light_reference`)."""
    return re.sub(r"[^0-9A-Za-z_]+", "_", label).strip("_") or "input"


def frame_knob(label: str) -> str:
    """The knob holding which frame of a key input is the key (`key A` -> `key_a_frame`)."""
    return input_name(label).lower() + "_frame"


def _node_field(field: Dict[str, Any], taken: set) -> Dict[str, Any]:
    """One setting as the node keeps it: where it lives (`place`), its knob's name, what converting it needs."""
    kind = field.get("kind")
    if field.get("input") and kind in PATH_KINDS:
        place = "input"  # a host may offer this file setting as an image input: the node does
    elif kind == "keyframes":
        place = "keys"  # the node's key inputs and their frame knobs
    elif kind == "frame_range" or field["name"] in FROM_NUKE:
        place = "nuke"
    else:
        place = "knob"
    knob = field["name"] if field["name"] not in taken else "dp_" + field["name"]
    taken.add(knob)
    kept = {"name": field["name"], "knob": knob, "place": place, "type": field["type"], "kind": kind,
            "default": field.get("default"), "nullable": bool(field.get("nullable"))}
    for key in ("choices", "words", "input"):
        if key in field:
            kept[key] = field[key]
    return kept


def node_op(description: Dict[str, Any], name: str) -> Dict[str, Any]:
    """What a node of operation `name` keeps in the script: its settings, inputs and routes, the description's version.

    A saved node renders from this alone (no server description needed to read its knobs back into a job), and
    sends what differs from the defaults recorded here, the defaults it was built with.
    """
    op = find_op(check_description(description), name)
    roles = [str(role) for role in op["inputs"]["roles"]]
    keys = next((f["name"] for f in op["fields"] if f.get("kind") == "keyframes"), None)
    taken = set(GROUP_KNOBS) | set(NUKE_KNOBS) | {frame_knob(role) for role in roles}
    fields = [_node_field(field, taken) for field in op["fields"]]
    own = {field["name"] for field in fields}
    routes = []
    for route in op.get("routes", []):
        target = next((other for other in description["ops"] if other["name"] == route["to"]), {"fields": []})
        offered = {field["name"]: field for field in target["fields"]}
        routes.append({
            "field": route["field"],
            "value": route["value"],
            "to": route["to"],
            "keys": any(field.get("kind") == "keyframes" for field in target["fields"]),
            "fields": [_node_field(offered[n], taken) for n in route.get("fields", []) if n in offered and n not in own],
        })
    inputs = [{"label": role, "name": input_name(role), "field": None, "optional": False, "single": keys is not None,
               "frame_knob": frame_knob(role) if keys else None} for role in roles]
    for field in fields:
        if field["place"] == "input":
            inputs.append({"label": field["input"], "name": input_name(field["input"]), "field": field["name"],
                           "optional": True, "single": field["kind"] == "file", "frame_knob": None})
    return {
        "schema": NODE_OP_SCHEMA,
        "name": op["name"],
        "title": op.get("title") or op["name"],
        "kind": node_kind(op),
        "version": description["version"],
        "hash": op.get("hash", ""),
        "keys": keys,
        "range": bool(roles) and keys is None,
        "inputs": inputs,
        "fields": fields,
        "routes": routes,
    }


# --- job specs from knob values ---------------------------------------------------------------------------------------


def setting_value(field: Dict[str, Any], raw: Any) -> Any:
    """The job value of a setting from its knob's value, or UNSET (an empty knob standing for a None default).

    Numbers typed into a text knob (a setting whose default is None) are sent as numbers when they read as such, else
    as typed, so the server's message names the setting and the value.
    """
    if raw is None:
        return UNSET
    kind_of, default = field["type"], field.get("default")
    if kind_of == "boolean":
        if isinstance(raw, str):
            return {"true": True, "false": False}.get(raw.strip().lower(), UNSET)
        return bool(raw)
    if kind_of in ("integer", "number"):
        if not isinstance(raw, str):
            return int(raw) if kind_of == "integer" else float(raw)
        text = raw.strip()
        if not text:
            return UNSET
        try:
            return int(text) if kind_of == "integer" else float(text)
        except ValueError:
            return text
    if kind_of == "choice":
        text = str(raw)
        if text in ("", UNSET_CHOICE) and default is None:
            return UNSET
        return next((choice for choice in field.get("choices", []) if str(choice) == text), text)
    text = str(raw)
    if text == "" and (field.get("nullable") or not isinstance(default, str)):
        return UNSET
    return text


def active_route(op: Dict[str, Any], knobs: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The route the node's settings take (interpolate's `method generative`), or None."""
    for route in op["routes"]:
        field = next((f for f in op["fields"] if f["name"] == route["field"]), None)
        if field is not None and setting_value(field, knobs.get(field["knob"])) == route["value"]:
            return route
    return None


def key_frames(first: int, count: int, keys: int) -> List[int]:
    """Where `keys` keyframes land in `count` output frames from `first`: the first and last frame, the rest spread."""
    if keys < 2:
        return [first] * keys
    if count < keys:
        raise SpecError("frame count: at least {} frames, one per key, got {}".format(keys, count))
    return [first + index * (count - 1) // (keys - 1) for index in range(keys)]


def _frames_text(first: int, last: int) -> str:
    if last < first:
        raise SpecError("frame range: last ({}) is before first ({})".format(last, first))
    return "{}-{}".format(first, last)


def build_job(
    op: Dict[str, Any],
    knobs: Dict[str, Any],
    inputs: Dict[str, str],
    output: str,
    color: Dict[str, str],
    maps: PathMaps = (),
) -> Dict[str, Any]:
    """The server job `{"task", "inputs", "output", "params"}` for a node of operation `op` (a `node_op` record).

    `knobs` holds the node's knob values by knob name (`range_first`/`range_last` the frames to use), `inputs` the
    file or frame pattern per input label, `color` `colorspace` and `ocio` from Nuke's colour management. A setting is
    sent when it differs from the default the node was built with; the server validates the whole job and applies
    routes itself. Every path is spelled for the server through `maps`.
    """
    server = lambda path: to_server(path, maps)  # noqa: E731
    route = active_route(op, knobs)
    params = {}  # type: Dict[str, Any]
    shown = [field for field in op["fields"] if field["place"] == "knob"] + (route["fields"] if route else [])
    for field in shown:
        value = setting_value(field, knobs.get(field["knob"]))
        if value is UNSET or value == field.get("default"):
            continue
        if field["kind"] in PATH_KINDS and str(value).lower() not in field.get("words", []):
            value = server(str(value))
        params[field["name"]] = value
    names = {field["name"] for field in op["fields"]}
    for name in ("colorspace", "ocio"):
        if color.get(name) and name in names:
            params[name] = server(color[name]) if name == "ocio" else color[name]
    for entry in op["inputs"]:
        if entry["field"] is not None and inputs.get(entry["label"]):
            params[entry["field"]] = server(inputs[entry["label"]])
    plates = [entry for entry in op["inputs"] if entry["field"] is None]
    missing = [entry["label"] for entry in plates if not inputs.get(entry["label"])]
    if missing:
        raise SpecError("connect the {} input".format(missing[0]))
    first, last = int(knobs.get("range_first", 0)), int(knobs.get("range_last", 0))
    if op["keys"]:
        frames = key_frames(int(knobs["first_frame"]), int(knobs["frame_count"]), len(plates))
        params[op["keys"]] = {str(frame): server(inputs[entry["label"]]) for frame, entry in zip(frames, plates)}
        job_inputs = list(params[op["keys"]].values())
    elif len(plates) == 1 and (
        (route is not None and route["keys"]) or any(n in params for n in TWO_FRAME_SETTINGS.get(op["name"], ()))
    ):
        if first >= last:
            raise SpecError("frame range {}-{}: two frames are needed, its first and last".format(first, last))
        plate = inputs[plates[0]["label"]]
        job_inputs = [server(frame_path(plate, first)), server(frame_path(plate, last))]
        if route is not None and route["keys"]:
            # The route's `frames` is the number of frames out, keys included (dreamplate.ops.routes); the keys
            # take their frame numbers from the two files. 0 on the knob: as many frames as the range has.
            params["frames"] = int(knobs.get("frame_count") or 0) or last - first + 1
    else:
        job_inputs = [server(inputs[entry["label"]]) for entry in plates]
        if op["range"]:
            for field in op["fields"]:
                if field["kind"] == "frame_range":
                    params[field["name"]] = _frames_text(first, last)
    return {"task": op["name"], "inputs": job_inputs, "output": server(output), "params": params}
