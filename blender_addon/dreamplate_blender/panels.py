"""Sidebar panels: the server's operations where an artist works (Sequencer, Compositor, Image Editor) and the job list.

The buttons come from the registered description (`catalog.STATE.ops`), so a new operation shows up without a change
here. Without a description (no cache, no server) the panels say the server is needed and offer to try again.
"""

from __future__ import annotations

import bpy

from . import catalog
from .jobs import BOARD
from .settings import field_of_kind


def _keyed(op: dict) -> bool:
    return field_of_kind(op, "keyframes") is not None


def draw_server_status(layout: bpy.types.UILayout) -> None:
    """Where the operations came from, or why there are none; with a button to ask the server again."""
    state = catalog.STATE
    box = layout.box()
    if state.description is None:
        box.label(text="dreamplate needs its server for its operations", icon="ERROR")
        if state.fetching:
            box.label(text="Asking the server...")
        elif state.error:
            box.label(text=state.error)
        box.label(text="Set the server in the preferences, or let them start a local one")
    elif state.source == "cache":
        box.label(text="Operations from the cache: the server has not answered", icon="INFO")
        if state.error:
            box.label(text=state.error)
    elif state.error:
        box.label(text=state.error, icon="ERROR")
    if state.pending is not None:
        box.label(text="Newer operations arrive when the running jobs end")
    box.operator("dreamplate.refresh_ops", icon="FILE_REFRESH")


def draw_jobs(layout: bpy.types.UILayout) -> None:
    """The jobs this session started: state and progress, with a cancel button while they run."""
    from . import candidates

    candidates.draw(layout)  # the latest --candidates job's contact sheet and candidates, when there is one
    box = layout.box()
    if not BOARD.entries:
        box.label(text="No jobs yet")
        return
    for entry in list(BOARD.entries.values())[:8]:
        row = box.row(align=True)
        row.label(text=entry.label)
        row.label(text=entry.status)
        if entry.state in ("queued", "running") and not entry.cancel_requested:
            row.operator("dreamplate.cancel_job", text="", icon="CANCEL").job_id = entry.job_id
    box.operator("dreamplate.clear_jobs")


def _operations(layout: bpy.types.UILayout, plate_source: str | None, keys_source: str | None) -> None:
    """One button per registered operation; a plate operation's scene-render button beside it in the Sequencer."""
    column = layout.column(align=True)
    for op in catalog.STATE.ops:
        idname, title = f"dreamplate.{op['name']}", op.get("title") or op["name"]
        if _keyed(op):
            if keys_source is not None:
                column.operator(idname, text=title, icon="KEYFRAME").source = keys_source
            continue
        if plate_source is None:
            continue
        row = column.row(align=True)
        row.operator(idname, text=title).source = plate_source
        if plate_source == "STRIP":
            row.operator(idname, text="", icon="SCENE").source = "SCENE"
    if not catalog.STATE.ops or catalog.STATE.source != "server" or catalog.STATE.error:
        draw_server_status(layout)


class DREAMPLATE_PT_sequencer(bpy.types.Panel):
    """Operations on the active strip (or a scene render, the camera button), and the job list."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "dreamplate"
    bl_label = "dreamplate"

    def draw(self, context: bpy.types.Context) -> None:
        _operations(self.layout, "STRIP", "STRIPS")
        draw_jobs(self.layout)


class DREAMPLATE_PT_compositor(bpy.types.Panel):
    """The active Image node's operations, in the Compositor's sidebar."""

    bl_space_type = "NODE_EDITOR"
    bl_region_type = "UI"
    bl_category = "dreamplate"
    bl_label = "dreamplate"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return getattr(context.space_data, "tree_type", "") == "CompositorNodeTree"

    def draw(self, context: bpy.types.Context) -> None:
        _operations(self.layout, "NODE", None)
        draw_jobs(self.layout)


class DREAMPLATE_PT_image(bpy.types.Panel):
    """Keyframe operations between two images, in the Image Editor's sidebar."""

    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = "dreamplate"
    bl_label = "dreamplate"

    def draw(self, context: bpy.types.Context) -> None:
        _operations(self.layout, None, "IMAGES")
        draw_jobs(self.layout)


classes = (DREAMPLATE_PT_sequencer, DREAMPLATE_PT_compositor, DREAMPLATE_PT_image)
