"""Sidebar panels: the operations where an artist works (Sequencer, Compositor, Image Editor) and the job list."""

from __future__ import annotations

import bpy

from .jobs import BOARD


def draw_jobs(layout: bpy.types.UILayout) -> None:
    """The jobs this session started: state and progress, with a cancel button while they run."""
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


class DREAMPLATE_PT_sequencer(bpy.types.Panel):
    """Operations on the active strip, and the job list."""

    bl_space_type = "SEQUENCE_EDITOR"
    bl_region_type = "UI"
    bl_category = "dreamplate"
    bl_label = "dreamplate"

    def draw(self, context: bpy.types.Context) -> None:
        column = self.layout.column(align=True)
        column.operator("dreamplate.interpolate", icon="IMAGE_DATA")
        column.operator("dreamplate.relight", icon="LIGHT")
        column.operator("dreamplate.sketch", icon="GREASEPENCIL")
        column.operator("dreamplate.sketch_scene", icon="SCENE")
        column.operator("dreamplate.keyframes", icon="KEYFRAME")
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
        column = self.layout.column(align=True)
        for operation, label in (("interpolate", "Interpolate"), ("relight", "Relight"), ("sketch", "Sketch to Shot")):
            column.operator("dreamplate.compositor", text=label).operation = operation
        draw_jobs(self.layout)


class DREAMPLATE_PT_image(bpy.types.Panel):
    """Keyframes between two images, in the Image Editor's sidebar."""

    bl_space_type = "IMAGE_EDITOR"
    bl_region_type = "UI"
    bl_category = "dreamplate"
    bl_label = "dreamplate"

    def draw(self, context: bpy.types.Context) -> None:
        self.layout.operator("dreamplate.keyframes", icon="KEYFRAME")
        draw_jobs(self.layout)


classes = (DREAMPLATE_PT_sequencer, DREAMPLATE_PT_compositor, DREAMPLATE_PT_image)
