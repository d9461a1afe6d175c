"""Motion strokes for `dreamplate paths`, read from a Grease Pencil object or an annotation drawn over the still.

Two sources, as Blender keeps them (they differ by version):
- a Grease Pencil object (Grease Pencil v3: `GreasePencilv3` data in 4.3 - 4.5, `GreasePencil` in 5.0): each stroke
  of each layer's current frame, its points as the scene camera sees them, through Blender's own
  `world_to_camera_view` (0..1 across the camera frame, origin bottom left), so a stroke drawn over the still in
  camera view lands where it was drawn;
- an annotation (legacy `GreasePencil` data in 4.x, `Annotation` in 5.0), drawn in the Image Editor over the still:
  each stroke of each layer's active frame, its points as stored (the editor's view space: 0..1 across the image,
  origin bottom left).
Either way the points go to the server as they are read (`units` normalized, `origin` bottom-left); the server
scales, flips and checks them. The `DREAMPLATE_OT_write_strokes` operator writes the file beside the .blend and puts
its path on the clipboard for the paths operator's strokes setting.
"""

from __future__ import annotations

import json
import os
from typing import Any

import bpy

SCHEMA = "dreamplate.strokes/1"


def grease_pencil_strokes(scene: Any, obj: Any) -> dict[str, Any]:
    """The strokes file's data for Grease Pencil object `obj` at the scene's frame, seen by the scene camera.

    Raises ValueError when the scene has no camera or the object holds no stroke with a point.
    """
    from bpy_extras.object_utils import world_to_camera_view

    if scene.camera is None:
        raise ValueError(f"the scene has no camera to see {obj.name} through")
    strokes: list[dict[str, Any]] = []
    for layer in obj.data.layers:
        frame = layer.current_frame()
        if frame is None:
            continue
        for stroke in frame.drawing.strokes:
            seen = [world_to_camera_view(scene, scene.camera, obj.matrix_world @ p.position) for p in stroke.points]
            if seen:
                strokes.append({"name": layer.name, "points": [[v.x, v.y] for v in seen]})
    return _strokes_file(strokes, obj.name)


def annotation_strokes(annotation: Any) -> dict[str, Any]:
    """The strokes file's data for an annotation drawn in the Image Editor: each layer's active frame, as stored.

    Raises ValueError when it holds no stroke with a point.
    """
    strokes: list[dict[str, Any]] = []
    for layer in annotation.layers:
        frame = layer.active_frame
        if frame is None:
            continue
        for stroke in frame.strokes:
            if len(stroke.points):
                strokes.append({"name": layer.info, "points": [[p.co.x, p.co.y] for p in stroke.points]})
    return _strokes_file(strokes, annotation.name)


def _strokes_file(strokes: list[dict[str, Any]], name: str) -> dict[str, Any]:
    if not strokes:
        raise ValueError(f"{name} has no stroke to read")
    return {"schema": SCHEMA, "origin": "bottom-left", "units": "normalized", "strokes": strokes}


def is_grease_pencil(obj: Any) -> bool:
    """True for a Grease Pencil v3 object (its type is GREASEPENCIL from 4.3 on)."""
    return obj is not None and obj.type == "GREASEPENCIL"


def write(data: dict[str, Any], path: str) -> str:
    """Write the strokes file `path` whole (a partial file, then renamed); returns the path."""
    partial = path + ".partial"
    with open(partial, "w") as handle:
        json.dump(data, handle, indent=2)
    os.replace(partial, path)
    return path


class DREAMPLATE_OT_write_strokes(bpy.types.Operator):
    """Write the active Grease Pencil object's strokes (else the scene's annotation) for dreamplate paths"""

    bl_idname = "dreamplate.write_strokes"
    bl_label = "dreamplate: strokes for paths"
    bl_options = {"REGISTER"}

    def execute(self, context: Any) -> set:
        if not bpy.data.filepath:
            self.report({"ERROR"}, "save the .blend first: the strokes file is written beside it")
            return {"CANCELLED"}
        obj = context.active_object
        try:
            if is_grease_pencil(obj):
                data, name = grease_pencil_strokes(context.scene, obj), obj.name
            elif getattr(context, "annotation_data", None) is not None:
                data, name = annotation_strokes(context.annotation_data), context.annotation_data.name
            else:
                self.report({"ERROR"}, "make a Grease Pencil object active, or draw an annotation over the still")
                return {"CANCELLED"}
            path = write(data, os.path.join(os.path.dirname(bpy.data.filepath), f"{name}_strokes.json"))
        except (ValueError, OSError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.window_manager.clipboard = path
        self.report({"INFO"}, f"strokes written to {path} (path copied)")
        return {"FINISHED"}


classes = (DREAMPLATE_OT_write_strokes,)
