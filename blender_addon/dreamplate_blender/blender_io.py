"""Frames between Blender and disk: scenes and images out as half EXRs, results back as strips and Image nodes.

Frames leave Blender scene-linear in its working space (EXR output skips the view transform), as 16-bit half
OpenEXR; the job is told that space by name (`colorspace`), so nothing depends on what the header records.
Results come back tagged by the server in that same space, and are loaded with the matching colour space name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import bpy

from . import compat
from .mapping import MappingError, SequenceSource, frame_path, sequence_from_files, split_frame

log = logging.getLogger(__name__)


@contextmanager
def _exr_output(scene: bpy.types.Scene) -> Iterator[Any]:
    """The scene's image output set to half-float ZIP OpenEXR for the block, restored afterwards."""
    settings = scene.render.image_settings
    saved = {name: getattr(settings, name) for name in ("file_format", "color_depth", "exr_codec", "color_mode")}
    saved_path, saved_ext = scene.render.filepath, scene.render.use_file_extension
    try:
        settings.file_format = "OPEN_EXR"
        settings.color_depth = "16"
        settings.exr_codec = "ZIP"
        settings.color_mode = "RGBA"
        scene.render.use_file_extension = True
        yield settings
    finally:
        for name, value in saved.items():
            try:
                setattr(settings, name, value)
            except (TypeError, ValueError):  # a value only valid for the old format, e.g. a codec
                log.debug("could not restore %s", name)
        scene.render.filepath, scene.render.use_file_extension = saved_path, saved_ext


def render_scene(context: bpy.types.Context, scene: bpy.types.Scene, folder: str, viewport: bool) -> SequenceSource:
    """Render the scene camera's frame range to `folder/render.####.exr` (half, scene-linear); the sequence.

    `viewport` uses the OpenGL viewport render (a blocking pass or Grease Pencil scribbles as seen), which needs
    a 3D View; otherwise the scene's render engine.
    """
    if scene.camera is None:
        raise MappingError(f"scene {scene.name!r}: no active camera to render")
    os.makedirs(folder, exist_ok=True)
    with _exr_output(scene):
        scene.render.filepath = os.path.join(folder, "render.")
        if viewport:
            if bpy.app.background or context.window is None:
                raise MappingError("viewport render needs Blender's UI; use the render engine in background mode")
            bpy.ops.render.opengl(animation=True)
        else:
            bpy.ops.render.render(animation=True, scene=scene.name)
    first, last = scene.frame_start, scene.frame_end
    names = [f"render.{frame:04d}.exr" for frame in range(first, last + 1)]
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise MappingError(f"render wrote no {missing[0]} in {folder}")
    return sequence_from_files(folder, names)


def save_image_exr(image: bpy.types.Image, path: str, scene: bpy.types.Scene) -> str:
    """Write `image` as a half-float EXR (scene-linear in the working space) with Blender's own image save."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with _exr_output(scene):
        image.save_render(path, scene=scene)
    return path


def image_sequence_of_strip(strip: Any) -> tuple[SequenceSource, str]:
    """The files an image strip shows, trimmed to its visible range, and its colour space name."""
    if strip.type != "IMAGE":
        raise MappingError(f"strip {strip.name!r}: a {strip.type.lower()} strip; dreamplate needs an image sequence")
    directory = bpy.path.abspath(strip.directory)
    names = [element.filename for element in strip.elements]
    # Trims: frame_offset_start/end hide elements at either end; only the visible ones are sent.
    start = int(strip.frame_offset_start)
    end = len(names) - int(strip.frame_offset_end)
    visible = names[start:end]
    source = sequence_from_files(directory, visible)
    missing = [n for n in visible if not os.path.isfile(os.path.join(directory, n))]
    if missing:
        raise MappingError(f"{os.path.join(directory, missing[0])}: file not found")
    return source, strip.colorspace_settings.name


def export_strip_frames(strip: Any, folder: str, scene: bpy.types.Scene) -> tuple[SequenceSource, str]:
    """A non-EXR image strip's visible frames re-saved as scene-linear half EXRs; the sequence and working space."""
    source, colorspace = image_sequence_of_strip(strip)
    names = []
    for frame in range(source.first, source.last + 1):
        image = bpy.data.images.load(frame_path(source.pattern, frame), check_existing=False)
        try:
            image.colorspace_settings.name = colorspace
            name = f"frame.{frame:04d}.exr"
            save_image_exr(image, os.path.join(folder, name), scene)
            names.append(name)
        finally:
            bpy.data.images.remove(image)
    return sequence_from_files(folder, names), compat.working_space()


def add_result_strip(
    scene: bpy.types.Scene, name: str, pattern: str, first: int, count: int, channel: int, start: int, colorspace: str
) -> Any:
    """The job's output frames as an image-sequence strip in the given colour space; MappingError if any is missing."""
    files = [os.path.basename(frame_path(pattern, f)) for f in range(first, first + count)]
    directory = os.path.dirname(pattern)
    missing = [f for f in files if not os.path.isfile(os.path.join(directory, f))]
    if missing:
        raise MappingError(f"{os.path.join(directory, missing[0])}: the job finished but this frame is not on disk")
    strip = compat.new_image_strip(scene, name, directory, files, channel, start)
    strip.colorspace_settings.name = colorspace
    return strip


def load_sequence_image(pattern: str, first: int, count: int, colorspace: str) -> bpy.types.Image:
    """The output frames as one image datablock of source SEQUENCE, in the given colour space."""
    image = bpy.data.images.load(frame_path(pattern, first), check_existing=False)
    image.source = "SEQUENCE" if count > 1 else "FILE"
    image.colorspace_settings.name = colorspace
    return image


def image_file(image: bpy.types.Image) -> str:
    """The file behind an image datablock (its current frame's file for a sequence)."""
    if image.packed_file is not None or image.source not in ("FILE", "SEQUENCE"):
        return ""
    return bpy.path.abspath(image.filepath)


def first_frame_of(path: str) -> int:
    return split_frame(os.path.basename(path)).frame
