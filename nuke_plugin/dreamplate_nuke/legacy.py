"""Nodes saved before the nodes were built from `GET /v1/ops` (issue 14): their inputs and the jobs they send.

Such a node is a Group with a `dreamplate_kind` knob and no recorded operation. Its knobs are in the artist's script
and cannot be rebuilt without changing the comp, so it renders exactly as it did when it was saved: this module is
the old node code's job assembly, frozen. No new operation ever comes here; new nodes carry their operation's
description (`mapping.node_op`) and go through `mapping.build_job`. Host-free.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from dreamplate_nuke.mapping import PathMaps, SpecError, frame_path, to_server

INPUTS = {
    "Interpolate": [("plate", "plate")],
    "Relight": [("plate", "plate"), ("light", "light reference")],
    "SketchToShot": [("plate", "blocking")],
    "Keyframes": [("key_a", "key A"), ("key_b", "key B")],
}  # type: Dict[str, List[Tuple[str, str]]]
"""Each old node's inputs in order (role, label); a role's index is its Input number."""
OPTIONAL_ROLES = ("light",)
RANGE_KINDS = ("Interpolate", "Relight", "SketchToShot")


def is_legacy(kind: str) -> bool:
    return kind in INPUTS


def _frames_text(first: int, last: int) -> str:
    if last < first:
        raise SpecError("frame range: last ({}) is before first ({})".format(last, first))
    return "{}-{}".format(first, last)


def _gen_params(knobs: Dict[str, Any], strength: bool) -> Dict[str, Any]:
    """The settings every old generative node had; all of them are sent, as they were (the node shows them)."""
    params = {
        "prompt": str(knobs["prompt"]),
        "negative_prompt": str(knobs["negative_prompt"]),
        "seed": int(knobs["seed"]),
        "steps": int(knobs["steps"]),
        "draft": bool(knobs["draft"]),
    }
    model = str(knobs.get("model", "")).strip()
    if model:
        params["model"] = model
    if strength:
        params["strength"] = float(knobs["strength"])
    return params


def build_job(
    kind: str,
    knobs: Dict[str, Any],
    inputs: Dict[str, str],
    output: str,
    color: Dict[str, str],
    maps: PathMaps = (),
) -> Dict[str, Any]:
    """The job an old node sends: `knobs` its knob values, `inputs` the file per role (`plate`, `light`, `key_a`)."""
    server = lambda path: to_server(path, maps)  # noqa: E731
    params = {}  # type: Dict[str, Any]
    if color.get("colorspace"):
        params["colorspace"] = color["colorspace"]
    if color.get("ocio"):
        params["ocio"] = server(color["ocio"])
    first, last = int(knobs.get("range_first", 0)), int(knobs.get("range_last", 0))
    if kind == "Interpolate":
        method = str(knobs["method"])
        plate = inputs["plate"]
        if method == "generative":
            count = int(knobs["frame_count"])
            if count < 3:
                raise SpecError("frame count: 3 or more frames, keys included, got {}".format(count))
            params.update(_gen_params(knobs, strength=False))
            keys = {str(first): server(frame_path(plate, first)), str(first + count - 1): server(frame_path(plate, last))}
            params["keys"] = keys
            return {"task": "keyframes", "inputs": list(keys.values()), "output": server(output), "params": params}
        params["method"] = method
        if knobs["timing"] == "times":
            try:
                params["times"] = [float(t) for t in str(knobs["times"]).replace(",", " ").split()]
            except ValueError:
                raise SpecError("times: give numbers in [0, 1] such as '0.25 0.5 0.75', got {!r}".format(
                    knobs["times"])) from None
            if first == last:
                raise SpecError("times: the frame range must span two frames, got {}-{}".format(first, last))
            job_inputs = [server(frame_path(plate, first)), server(frame_path(plate, last))]
        else:
            params["factor"] = int(knobs["factor"])
            params["frames"] = _frames_text(first, last)
            job_inputs = [server(plate)]
        if method == "learned":
            if knobs["motion_scale"] != "auto":
                params["scale"] = float(knobs["motion_scale"])
            model = str(knobs.get("model", "")).strip()
            if model:
                params["model"] = model
        return {"task": "interpolate", "inputs": job_inputs, "output": server(output), "params": params}
    if kind in ("Relight", "SketchToShot"):
        params.update(_gen_params(knobs, strength=True))
        params["frames"] = _frames_text(first, last)
        if inputs.get("light"):
            params["light_reference"] = server(inputs["light"])
        task = "relight" if kind == "Relight" else "sketch"
        return {"task": task, "inputs": [server(inputs["plate"])], "output": server(output), "params": params}
    if kind == "Keyframes":
        params.update(_gen_params(knobs, strength=False))
        start, count = int(knobs["first_frame"]), int(knobs["frame_count"])
        if count < 3:
            raise SpecError("frame count: 3 or more frames, keys included, got {}".format(count))
        params["keys"] = {str(start): server(inputs["key_a"]), str(start + count - 1): server(inputs["key_b"])}
        return {"task": "keyframes", "inputs": list(params["keys"].values()), "output": server(output),
                "params": params}
    raise SpecError("unknown dreamplate node kind {!r}".format(kind))
