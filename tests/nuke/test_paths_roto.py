"""Strokes for a paths node from a RotoPaint node: points read as drawn, the file beside the script, the knob set."""

from __future__ import annotations

import json
from pathlib import Path

import nuke
import nuke.rotopaint as rp
from dreamplate_nuke import nodes, strokes

from dreamplate.gen.strokes import read_strokes


def _roto() -> nuke.Node:
    """A RotoPaint node with an open Bezier in a layer and a paint stroke at the root, as an artist draws them."""
    roto = nuke.createNode("RotoPaint", inpanel=False)
    curves = roto["curves"]
    layer = rp.Layer(curves)
    layer.name = "Layer1"
    bezier = rp.Shape(curves, (100.0, 50.0), (300.0, 80.0), (500.0, 200.0))
    bezier.name = "Bezier1"
    layer.append(bezier)
    brush = rp.Stroke(curves, (40.0, 250.0), (60.0, 260.0))
    brush.name = "Brush1"
    curves.rootLayer.append(layer)
    curves.rootLayer.append(brush)
    return roto


def test_points_are_read_as_drawn_and_the_core_flips_them(tmp_path: Path) -> None:
    nuke.reset()
    data = strokes.roto_strokes(_roto(), frame=1)
    assert data["origin"] == "bottom-left"
    assert [s["name"] for s in data["strokes"]] == ["Bezier1", "Brush1"]
    assert data["strokes"][0]["points"] == [[100.0, 50.0], [300.0, 80.0], [500.0, 200.0]]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    read = read_strokes(path, (640, 300), 9)  # y up in Nuke, y down in the core: 300 - y
    assert read[0].points.tolist() == [[100.0, 250.0], [300.0, 220.0], [500.0, 100.0]]
    assert read[1].points.tolist() == [[40.0, 50.0], [60.0, 40.0]]


def test_menu_command_writes_the_file_and_sets_the_paths_node(script: Path) -> None:
    roto = _roto()
    paths = nodes.create("paths")
    for node in nuke.allNodes():
        node.setSelected(node in (roto, paths))
    written = strokes.from_selection()
    assert written == str(script / f"{paths.name()}_strokes.json")
    assert paths["path"].value() == written and nuke.messages == []
    assert len(json.loads(Path(written).read_text())["strokes"]) == 2
    paths.setSelected(False)
    assert strokes.from_selection() is None
    assert nuke.messages == ["dreamplate: select one Roto or RotoPaint node and one dreamplate paths node"]
