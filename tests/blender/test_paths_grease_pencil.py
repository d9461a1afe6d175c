"""Strokes for dreamplate paths from real bpy (5.0 and 4.5): a Grease Pencil v3 stroke seen through the camera."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from blender_support import BPY_VERSIONS, PACKAGE_DIR, bpy_python

from dreamplate.gen.strokes import read_strokes

pytestmark = [pytest.mark.blender, pytest.mark.parametrize("version", sorted(BPY_VERSIONS))]

SCRIPT = """
import importlib.util, json, math, sys
import bpy

spec = importlib.util.spec_from_file_location("dp_strokes", sys.argv[-1])
strokes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(strokes)

scene = bpy.context.scene
scene.render.resolution_x, scene.render.resolution_y = 200, 100
camera = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
camera.data.type, camera.data.ortho_scale = "ORTHO", 2.0  # the frame is 2 x 1 units: x -1..1, z -0.5..0.5
camera.location, camera.rotation_euler = (0.0, -10.0, 0.0), (math.pi / 2, 0.0, 0.0)  # looking along +Y
scene.collection.objects.link(camera)
scene.camera = camera

# Grease Pencil v3: GreasePencilv3 data in 4.3-4.5 (bpy.data.grease_pencils_v3), GreasePencil in 5.0
v3 = bpy.data.grease_pencils_v3 if bpy.app.version < (5, 0, 0) else bpy.data.grease_pencils
data = v3.new("gp")
drawing = data.layers.new("ball").frames.new(scene.frame_current).drawing
drawing.add_strokes([3])
for point, xyz in zip(drawing.strokes[0].points, [(-0.5, 0.0, 0.0), (0.0, 0.0, 0.25), (0.5, 0.0, 0.0)]):
    point.position = xyz
gp = bpy.data.objects.new("GP", data)
scene.collection.objects.link(gp)
gp.location = (0.0, 0.0, -0.25)  # the object's own transform is part of where the points are
bpy.context.view_layer.update()  # matrix_world follows, as it does in the UI
result = {"type": type(data).__name__, "gp": strokes.grease_pencil_strokes(scene, gp)}

# Annotations: legacy GreasePencil data in 4.x, Annotation in 5.0; Python cannot add their strokes (drawn by hand)
notes = bpy.data.grease_pencils if bpy.app.version < (5, 0, 0) else bpy.data.annotations
annotation = notes.new("notes")
annotation.layers.new("note")
try:
    strokes.annotation_strokes(annotation)
except ValueError as exc:
    result["empty"] = [type(annotation).__name__, str(exc)]
print("RESULT " + json.dumps(result))
"""


def test_grease_pencil_stroke_lands_where_the_camera_sees_it(version: str, tmp_path: Path) -> None:
    script = tmp_path / "strokes_scenario.py"
    script.write_text(SCRIPT)
    process = subprocess.run(
        [str(bpy_python(version)), str(script), str(PACKAGE_DIR / "strokes.py")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, process.stderr[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert result["type"] == ("GreasePencilv3" if version == "4.5" else "GreasePencil")
    assert result["empty"] == ["GreasePencil" if version == "4.5" else "Annotation", "notes has no stroke to read"]
    data = result["gp"]
    assert (data["origin"], data["units"]) == ("bottom-left", "normalized")
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    points = read_strokes(path, (200, 100), 9)[0].points  # to EXR pixels, y down, in the core
    np.testing.assert_allclose(points, [[50.0, 75.0], [100.0, 50.0], [150.0, 75.0]], atol=1e-3)
