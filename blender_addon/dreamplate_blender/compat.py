"""The Blender API differences between 4.2 LTS and 5.x that the extension meets, in one place.

- VSE collections: 5.0 has only `strips` / `strips_all`; 4.2-4.5 have `sequences` / `sequences_all` (and from 4.4
  also `strips`).
- `new_image(..., fit_method=)` exists in every supported version; 5.0 renamed the strip classes (`ImageStrip`), so
  nothing here tests class names.
- Strip speed: `speed_factor` is gone; speed is set through the retiming operator, which in 5.0 acts on the
  workspace's `sequencer_scene` and needs a Sequencer area in the context.
- Compositor: 5.0 uses `scene.compositing_node_group`; 4.x uses `scene.node_tree` with `scene.use_nodes`.
- Working colour space: 5.0 has `bpy.data.colorspace.working_space`; 4.x always works in the config's scene_linear
  role, "Linear Rec.709" in Blender's config.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import bpy

log = logging.getLogger(__name__)


class CompatError(Exception):
    """An API this Blender lacks for what was asked; one line for the operator's report."""


def sequence_editor(scene: bpy.types.Scene, create: bool = True) -> Any:
    return scene.sequence_editor_create() if create else scene.sequence_editor


def top_strips(scene: bpy.types.Scene) -> Any:
    """The top-level strip collection (where `new_image` lives)."""
    editor = sequence_editor(scene)
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(scene: bpy.types.Scene) -> list[Any]:
    """Every strip, metastrip contents included."""
    editor = scene.sequence_editor
    if editor is None:
        return []
    return list(editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all)


def new_image_strip(
    scene: bpy.types.Scene, name: str, directory: str, files: list[str], channel: int, start: int
) -> Any:
    """An image-sequence strip of `files` (names in `directory`, in order) starting at `start` on `channel`."""
    import os

    strip = top_strips(scene).new_image(
        name=name, filepath=os.path.join(directory, files[0]), channel=channel, frame_start=start, fit_method="ORIGINAL"
    )
    for file_name in files[1:]:
        strip.elements.append(file_name)
    # The strip's length is set from the first element when created; appending elements extends the content,
    # and 4.x needs the final range touched to pick it up.
    if strip.frame_final_duration != len(files):
        strip.frame_final_duration = len(files)
    return strip


def sequencer_scene(context: bpy.types.Context) -> bpy.types.Scene:
    """The scene whose VSE the user edits: 5.0's workspace `sequencer_scene` when set, else the context scene."""
    return getattr(context, "sequencer_scene", None) or context.scene


@contextmanager
def _sequencer_context(scene: bpy.types.Scene) -> Iterator[dict[str, Any]]:
    """A context override with a Sequencer area showing `scene`; any area switched for it is switched back."""
    window_manager = bpy.context.window_manager
    window = bpy.context.window or (window_manager.windows[0] if window_manager.windows else None)
    if window is None:
        raise CompatError("no Blender window to run the sequencer's retiming in")
    areas = list(window.screen.areas)
    area = next((a for a in areas if a.type == "SEQUENCE_EDITOR"), None)
    switched = None
    if area is None:
        area = areas[0]
        switched = area.type
        area.type = "SEQUENCE_EDITOR"
    workspace = window.workspace
    previous_scene = getattr(workspace, "sequencer_scene", None)
    if hasattr(workspace, "sequencer_scene"):
        workspace.sequencer_scene = scene
    try:
        region = next(r for r in area.regions if r.type == "WINDOW")
        yield {"window": window, "area": area, "region": region, "scene": scene}
    finally:
        if hasattr(workspace, "sequencer_scene") and previous_scene is not None:
            workspace.sequencer_scene = previous_scene
        if switched is not None:
            area.type = switched


def set_strip_speed(scene: bpy.types.Scene, strip: Any, speed: float) -> None:
    """Play `strip` `speed` times faster (retiming), keeping its start; CompatError when Blender refuses.

    The retiming API has no data-level setter (`retiming_keys.add` crashes 4.5 and 5.0 on a strip without keys),
    so this goes through the operator with the strip alone selected and active.
    """
    if abs(speed - 1.0) < 1e-9:
        return
    selected = [s for s in all_strips(scene) if s.select]
    editor = sequence_editor(scene)
    active = editor.active_strip
    for other in selected:
        other.select = False
    strip.select = True
    editor.active_strip = strip
    try:
        with _sequencer_context(scene) as override, bpy.context.temp_override(**override):
            result = bpy.ops.sequencer.retiming_segment_speed_set(speed=speed * 100.0)
    except RuntimeError as exc:
        raise CompatError(f"could not set the speed of strip {strip.name!r}: {exc}") from None
    finally:
        strip.select = False
        for other in selected:
            other.select = True
        editor.active_strip = active
    if "FINISHED" not in result:
        raise CompatError(f"could not set the speed of strip {strip.name!r}")


def compositor_tree(scene: bpy.types.Scene, create: bool = False) -> Any:
    """The scene's compositor node tree (5.0 `compositing_node_group`, 4.x `node_tree`), made when `create`."""
    if hasattr(scene, "compositing_node_group"):
        tree = scene.compositing_node_group
        if tree is None and create:
            tree = bpy.data.node_groups.new(f"{scene.name} Compositor", "CompositorNodeTree")
            scene.compositing_node_group = tree
        return tree
    if create and not scene.use_nodes:
        scene.use_nodes = True
    return scene.node_tree


def working_space() -> str:
    """Blender's scene-linear working space name: what rendered and composited pixels are in."""
    colorspace = getattr(bpy.data, "colorspace", None)
    if colorspace is not None and getattr(colorspace, "working_space", ""):
        return colorspace.working_space
    names = bpy.types.ColorManagedInputColorspaceSettings.bl_rna.properties["name"].enum_items.keys()
    return "Linear Rec.709" if "Linear Rec.709" in names else "Linear"
