"""Host-free logic of the Nuke plugin: job specs from knob values, path maps, result frames and their colour tag.

Nothing here imports `nuke`: the node code gathers knob values into plain dicts and this module turns them into the
JSON job the server takes (`{"task", "inputs", "output", "params"}`), so spec assembly is tested without Nuke.
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


# --- job specs from knob values --------------------------------------------------------------------------------------


def _frames_text(first: int, last: int) -> str:
    if last < first:
        raise SpecError("frame range: last ({}) is before first ({})".format(last, first))
    return "{}-{}".format(first, last)


def _gen_params(knobs: Dict[str, Any], defaults_strength: Optional[float]) -> Dict[str, Any]:
    """Settings every generative node shares, named as the server's spec names them."""
    params = {
        "prompt": str(knobs.get("prompt", "")),
        "negative_prompt": str(knobs.get("negative_prompt", "")),
        "seed": int(knobs.get("seed", 0)),
        "steps": int(knobs.get("steps", 30)),
        "draft": bool(knobs.get("draft", False)),
    }
    model = str(knobs.get("model", "")).strip()
    if model:
        params["model"] = model
    if defaults_strength is not None:
        params["strength"] = float(knobs.get("strength", defaults_strength))
    return params


def build_job(
    kind: str,
    knobs: Dict[str, Any],
    inputs: Dict[str, str],
    output: str,
    color: Dict[str, str],
    maps: PathMaps = (),
) -> Dict[str, Any]:
    """The server job for one node: `kind` is the node's kind, `knobs` its knob values, `inputs` the files per input.

    `inputs` maps an input role (`plate`, `light`, `key_a`, `key_b`) to a frame pattern or file the server can
    read; `color` holds `colorspace` and `ocio` when Nuke runs under OCIO (passed so core and Nuke agree). Every
    path is spelled for the server through `maps`.
    """
    server = lambda path: to_server(path, maps)  # noqa: E731
    params = {}  # type: Dict[str, Any]
    if color.get("colorspace"):
        params["colorspace"] = color["colorspace"]
    if color.get("ocio"):
        params["ocio"] = server(color["ocio"])
    if kind == "Interpolate":
        method = str(knobs.get("method", "auto"))
        plate = inputs["plate"]
        if method == "generative":
            return _generative_interpolate(knobs, plate, output, params, server)
        params["method"] = method
        if knobs.get("timing", "factor") == "times":
            try:
                params["times"] = [float(t) for t in str(knobs.get("times", "")).replace(",", " ").split()]
            except ValueError:
                raise SpecError("times: give numbers in [0, 1] such as '0.25 0.5 0.75', got {!r}".format(
                    knobs.get("times"))) from None
            # Explicit times are between two frames: the first and last frame of the range, as two files.
            first, last = int(knobs["range_first"]), int(knobs["range_last"])
            job_inputs = [server(frame_path(plate, first)), server(frame_path(plate, last))]
            if first == last:
                raise SpecError("times: the frame range must span two frames, got {}-{}".format(first, last))
        else:
            params["factor"] = int(knobs.get("factor", 2))
            params["frames"] = _frames_text(int(knobs["range_first"]), int(knobs["range_last"]))
            job_inputs = [server(plate)]
        if method == "learned":
            if knobs.get("motion_scale", "auto") != "auto":
                params["scale"] = float(knobs["motion_scale"])
            model = str(knobs.get("model", "")).strip()
            if model:
                params["model"] = model
        return {"task": "interpolate", "inputs": job_inputs, "output": server(output), "params": params}
    if kind in ("Relight", "SketchToShot"):
        params.update(_gen_params(knobs, 0.5 if kind == "Relight" else 0.9))
        params["frames"] = _frames_text(int(knobs["range_first"]), int(knobs["range_last"]))
        if inputs.get("light"):
            params["light_reference"] = server(inputs["light"])
        task = "relight" if kind == "Relight" else "sketch"
        return {"task": task, "inputs": [server(inputs["plate"])], "output": server(output), "params": params}
    if kind == "Keyframes":
        params.update(_gen_params(knobs, None))
        first, count = int(knobs.get("first_frame", 1001)), int(knobs.get("frame_count", 49))
        if count < 3:
            raise SpecError("frame count: 3 or more frames, keys included, got {}".format(count))
        params["keys"] = {str(first): server(inputs["key_a"]), str(first + count - 1): server(inputs["key_b"])}
        return {"task": "keyframes", "inputs": list(params["keys"].values()), "output": server(output),
                "params": params}
    raise SpecError("unknown dreamplate node kind {!r}".format(kind))


def _generative_interpolate(knobs: Dict[str, Any], plate: str, output: str, params: Dict[str, Any], server: Any
                            ) -> Dict[str, Any]:
    """Method generative: the range's first and last frames become keyframes; the model fills `frame_count` frames."""
    first, last = int(knobs["range_first"]), int(knobs["range_last"])
    count = int(knobs.get("frame_count", last - first + 1))
    if count < 3:
        raise SpecError("frame count: 3 or more frames, keys included, got {}".format(count))
    params.update(_gen_params(knobs, None))
    keys = {str(first): server(frame_path(plate, first)), str(first + count - 1): server(frame_path(plate, last))}
    params["keys"] = keys
    return {"task": "keyframes", "inputs": list(keys.values()), "output": server(output), "params": params}
