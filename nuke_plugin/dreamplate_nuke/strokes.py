"""Motion strokes for a dreamplate paths node, read from a Roto or RotoPaint node's shapes and paint strokes.

The artist draws over the still in a Roto/RotoPaint node (an open Bezier or a paint stroke per moving element) and
runs *dreamplate > Strokes from Roto* with that node and the paths node selected. Each Shape's control point
centres, or each Stroke's points, are read at the current frame as they are, in Nuke's pixel coordinates (origin
bottom left), and written as a `dreamplate.strokes/1` file beside the script; the paths node's strokes knob then
names it. The server does the rest (the y flip, the frame check, the regions): nothing is computed here. Layer and
shape transforms are not read: a stroke is where its points are drawn.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List, Optional

import nuke
import nuke.rotopaint as rp

from dreamplate_nuke import nodes

SCHEMA = "dreamplate.strokes/1"
ROTO_CLASSES = ("Roto", "RotoPaint")


def roto_strokes(roto: "nuke.Node", frame: Optional[int] = None) -> Dict[str, Any]:
    """The strokes file's data for `roto`: one stroke per Shape or Stroke (layers walked in order), at `frame`.

    Raises ValueError when the node holds no shape or stroke with a point.
    """
    time = nuke.frame() if frame is None else frame
    strokes = []
    for element in _elements(roto["curves"].rootLayer):
        if isinstance(element, rp.Shape):
            points = [element[i].center.getPosition(time) for i in range(len(element))]
        else:
            points = [element[i].getPosition(time) for i in range(len(element))]
        if points:
            strokes.append({"name": element.name, "points": [[p.x, p.y] for p in points]})
    if not strokes:
        raise ValueError("{} has no shape or paint stroke to read".format(roto.name()))
    return {"schema": SCHEMA, "origin": "bottom-left", "strokes": strokes}


def _elements(layer: Any) -> Iterator[Any]:
    """Every Shape and Stroke under `layer`, depth first, in the layer's own order."""
    for element in layer:
        if isinstance(element, rp.Layer):
            yield from _elements(element)
        elif isinstance(element, (rp.Shape, rp.Stroke)):
            yield element


def write_strokes(roto: "nuke.Node", path: str, frame: Optional[int] = None) -> str:
    """Write `roto`'s strokes to `path` (JSON, replaced whole); returns the path."""
    data = roto_strokes(roto, frame)
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump(data, handle, indent=2)
    os.replace(partial, path)
    return path


def from_selection() -> Optional[str]:
    """(Menu command, main thread.) The selected Roto's strokes written beside the script, set on the selected paths
    node's strokes knob; a message says what is missing otherwise. Returns the file written."""
    selected = nuke.selectedNodes()
    rotos = [n for n in selected if n.Class() in ROTO_CLASSES]
    targets = [n for n in selected if (nodes.op_of(n) or {}).get("name") == "paths"]
    if len(rotos) != 1 or len(targets) != 1:
        nuke.message("dreamplate: select one Roto or RotoPaint node and one dreamplate paths node")
        return None
    roto, target = rotos[0], targets[0]
    script = nuke.root()["name"].value()
    if not script:
        nuke.message("dreamplate: save the script first; the strokes file is written beside it")
        return None
    path = os.path.join(os.path.dirname(script), "{}_strokes.json".format(target.name()))
    try:
        write_strokes(roto, path)
    except (ValueError, OSError) as exc:
        nuke.message("dreamplate: {}".format(exc))
        return None
    target[_knob_of(target, "path")].setValue(path)
    return path


def _knob_of(node: "nuke.Node", setting: str) -> str:
    """The knob that holds `setting` on a dreamplate node (its name may carry the `dp_` prefix)."""
    fields: List[Dict[str, Any]] = (nodes.op_of(node) or {}).get("fields", [])
    return next(field["knob"] for field in fields if field["name"] == setting)
