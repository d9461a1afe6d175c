"""The extension's operators: each turns Blender data into a job, follows it on a timer and brings the result back.

Every job operator is modal: a timer polls the server, the status bar shows progress, the panel lists the job, and
Esc cancels it on the server. In background mode (no window, no timers) the operator waits for the job instead.
Errors from the server are reported word for word with `self.report({'ERROR'}, ...)`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import compat, prefs
from .jobs import BOARD, JobWatch
from .mapping import MappingError, free_channel, safe_name, unique_folder

log = logging.getLogger(__name__)
Finish = Callable[[bpy.types.Context, dict[str, Any]], str]
PROGRESS_STEPS = 1000
TIMER_SECONDS = 0.25

METHODS = [
    ("auto", "Auto", "Learned when its weights are installed on the server, else flow"),
    ("flow", "Flow", "Classical optical flow: no model needed"),
    ("learned", "Learned", "The RIFE-class network"),
]
TIMINGS = [
    ("MATCH", "Same duration", "Play the new strip faster so it spans the source strip's time (higher frame rate)"),
    ("SLOW", "Slow motion", "One new frame per timeline frame: the strip gets longer"),
]


def _errors() -> tuple[type[Exception], ...]:
    """The failures an operator reports as one line and cancels on; anything else is a bug and keeps its traceback."""
    from .clientlib import ClientError

    return (ClientError, MappingError, compat.CompatError)


def _strip_intervals(scene: bpy.types.Scene) -> list[tuple[int, int, int]]:
    return [(s.channel, s.frame_final_start, s.frame_final_end) for s in compat.all_strips(scene)]


def _job_folder(context: bpy.types.Context, override: str, stem: str) -> tuple[str, str]:
    """A fresh folder for one job's frames, and the stem its files get."""
    root = prefs.output_root(context, override)
    os.makedirs(root, exist_ok=True)
    folder = unique_folder(root, stem, os.listdir(root))
    os.makedirs(folder)
    return folder, stem


class _JobOperator:
    """Submit a job, follow it (modal timer, or waiting in background mode) and finish it on the main thread."""

    bl_options = {"REGISTER"}

    output_dir: StringProperty(
        name="Output folder",
        subtype="DIR_PATH",
        description="Where the job writes; empty: the preferences' output folder",
        options={"SKIP_SAVE"},
    )

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        """(job, label, finish): the job to submit and what to do with a done job's frames."""
        raise NotImplementedError

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        return self.execute(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            job, label, self._finish = self.start(context)
            client = prefs.connect(context)
            self._watch = JobWatch(client, job, label)
        except _errors() as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        log.info("job %s submitted: %s", self._watch.job_id, label)
        if bpy.app.background or context.window is None:
            # Background mode runs no timers: follow the job here; Blender has no UI to keep responsive.
            try:
                return self._end(context, self._watch.wait())
            except _errors() as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        window_manager.modal_handler_add(self)
        window_manager.progress_begin(0, PROGRESS_STEPS)
        self.report({"INFO"}, f"dreamplate: {label} submitted (Esc cancels)")
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        try:
            if event.type == "ESC" and event.value == "PRESS":
                self._watch.escape()
                self.report({"INFO"}, f"dreamplate: cancelling job {self._watch.job_id}")
                return {"RUNNING_MODAL"}
            if event.type != "TIMER" or event.timer is not self._timer:
                return {"PASS_THROUGH"}
            job = self._watch.poll()
        except _errors() as exc:
            self._stop_following(context)
            self.report({"ERROR"}, f"{exc} (job {self._watch.job_id} may still be running on the server)")
            return {"CANCELLED"}
        context.window_manager.progress_update(int(float(job.get("progress") or 0.0) * PROGRESS_STEPS))
        _redraw(context)
        if self._watch.finished:
            self._stop_following(context)
            try:
                return self._end(context, job)
            except _errors() as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
        return {"PASS_THROUGH"}

    def _stop_following(self, context: bpy.types.Context) -> None:
        window_manager = context.window_manager
        if getattr(self, "_timer", None) is not None:
            window_manager.event_timer_remove(self._timer)
            self._timer = None
        window_manager.progress_end()
        _redraw(context)

    def _end(self, context: bpy.types.Context, job: dict[str, Any]) -> set[str]:
        """Report the job's outcome; a done job's frames are brought in. A cancel is reported as a cancel."""
        state = job.get("state")
        if state == "cancelled":
            self.report({"WARNING"}, f"dreamplate: job {self._watch.job_id} cancelled")
            return {"CANCELLED"}
        if state != "done":
            self.report({"ERROR"}, job.get("error") or job.get("message") or f"job {self._watch.job_id} {state}")
            return {"CANCELLED"}
        self.report({"INFO"}, self._finish(context, job))
        return {"FINISHED"}


def _redraw(context: bpy.types.Context) -> None:
    screen = getattr(context, "screen", None)
    if screen is not None:
        for area in screen.areas:
            area.tag_redraw()


# --- the VSE ---------------------------------------------------------------------------------------------------------


class _StripOperator(_JobOperator):
    """An operation on the active image-sequence strip whose result lands on the channel above, aligned in time."""

    task = ""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        editor = compat.sequencer_scene(context).sequence_editor
        return editor is not None and editor.active_strip is not None

    def plate(self, context: bpy.types.Context, folder: str) -> tuple[Any, Any, str]:
        """(strip, sequence, colour space): the active strip's EXR frames, or its frames re-saved as EXR."""
        from . import blender_io

        scene = compat.sequencer_scene(context)
        strip = scene.sequence_editor.active_strip
        source, colorspace = blender_io.image_sequence_of_strip(strip)
        if not source.pattern.lower().endswith(".exr"):
            source, colorspace = blender_io.export_strip_frames(strip, os.path.join(folder, "input"), scene)
        return strip, source, colorspace

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import plate_job

        scene = compat.sequencer_scene(context)
        strip = scene.sequence_editor.active_strip
        folder, stem = _job_folder(context, self.output_dir, f"{safe_name(strip.name)}_{self.task}")
        strip, source, colorspace = self.plate(context, folder)
        output = os.path.join(folder, f"{stem}.####.exr")
        paths = prefs.path_map(context)
        job = plate_job(self.task, source, output, colorspace, paths, **self.settings())
        start, end, channel, name = strip.frame_final_start, strip.frame_final_end, strip.channel, strip.name

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            target = free_channel(_strip_intervals(scene), start, end, channel)
            new = blender_io.add_result_strip(
                scene, f"{name} {self.task}", output, source.first, source.count, target, start, colorspace
            )
            return f"dreamplate: {self.task} done, strip {new.name!r} on channel {target}"

        return job, f"{self.task} {name}", finish


class DREAMPLATE_OT_interpolate(_StripOperator, bpy.types.Operator):
    """Fill in-betweens of the active strip: a new strip with FACTOR times the frames, timed to match"""

    bl_idname = "dreamplate.interpolate"
    bl_label = "Interpolate"
    task = "interpolate"

    factor: IntProperty(name="Factor", default=2, min=2, max=100, description="New frames per source frame")
    method: EnumProperty(name="Method", items=METHODS, default="auto")
    timing: EnumProperty(name="Timing", items=TIMINGS, default="MATCH")

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import interpolate_job, interpolated_count

        scene = compat.sequencer_scene(context)
        strip = scene.sequence_editor.active_strip
        folder, stem = _job_folder(context, self.output_dir, f"{safe_name(strip.name)}_interpolate")
        strip, source, colorspace = self.plate(context, folder)
        output = os.path.join(folder, f"{stem}.####.exr")
        job = interpolate_job(source, output, self.factor, self.method, colorspace, prefs.path_map(context))
        count = interpolated_count(source.count, self.factor)
        factor, timing = self.factor, self.timing
        start, end, channel, name = strip.frame_final_start, strip.frame_final_end, strip.channel, strip.name

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            length = end - start if timing == "MATCH" else count
            target = free_channel(_strip_intervals(scene), start, start + max(length, count), channel)
            new = blender_io.add_result_strip(
                scene, f"{name} interpolate", output, source.first, count, target, start, colorspace
            )
            if timing == "MATCH":
                try:
                    compat.set_strip_speed(scene, new, factor)
                except compat.CompatError as exc:
                    self.report({"WARNING"}, f"{exc}; the strip plays one frame per timeline frame")
                    return f"dreamplate: interpolate done, strip {new.name!r} (speed not set)"
                # Retiming rounds the last segment differently between versions: end where the source ends.
                if new.frame_final_end != end:
                    new.frame_final_end = end
            return f"dreamplate: interpolate done, {count} frames in strip {new.name!r} on channel {target}"

        return job, f"interpolate {name} x{factor}", finish


class DREAMPLATE_OT_relight(_StripOperator, bpy.types.Operator):
    """Relight or restyle the active strip with a video model; strength 0 returns the plate unchanged"""

    bl_idname = "dreamplate.relight"
    bl_label = "Relight"
    task = "relight"

    prompt: StringProperty(name="Prompt", description="The light or look wanted, e.g. 'golden hour'")
    strength: FloatProperty(name="Strength", default=0.4, min=0.0, max=1.0, description="How far from the plate")
    seed: IntProperty(name="Seed", default=0, min=0)
    draft: BoolProperty(name="Draft", description="Fast low-resolution preview with few steps")
    model: StringProperty(name="Model", description="A model registered on the server (dreamplate models list)")

    def settings(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "strength": self.strength,
            "seed": self.seed,
            "draft": self.draft or None,
            "model": self.model,
        }


class DREAMPLATE_OT_sketch(_StripOperator, bpy.types.Operator):
    """Turn the active strip (a blocking pass or rough render) into a finished shot"""

    bl_idname = "dreamplate.sketch"
    bl_label = "Sketch to Shot"
    task = "sketch"

    prompt: StringProperty(name="Prompt", description="What the shot should look like")
    model: StringProperty(name="Model", description="A model registered on the server (dreamplate models list)")
    seed: IntProperty(name="Seed", default=0, min=0)

    def settings(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "model": self.model, "seed": self.seed}


class DREAMPLATE_OT_sketch_scene(_JobOperator, bpy.types.Operator):
    """Render the scene camera's animation to half EXRs and turn it into a shot, added to the Sequencer"""

    bl_idname = "dreamplate.sketch_scene"
    bl_label = "Sketch to Shot from Scene"

    prompt: StringProperty(name="Prompt", description="What the shot should look like")
    model: StringProperty(name="Model", description="A model registered on the server (dreamplate models list)")
    seed: IntProperty(name="Seed", default=0, min=0)
    viewport: BoolProperty(name="Viewport render", description="OpenGL viewport render instead of the render engine")

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None and context.scene.camera is not None

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import plate_job

        scene = context.scene
        folder, stem = _job_folder(context, self.output_dir, f"{safe_name(scene.name)}_sketch")
        source = blender_io.render_scene(context, scene, os.path.join(folder, "input"), self.viewport)
        colorspace = compat.working_space()
        output = os.path.join(folder, f"{stem}.####.exr")
        settings = {"prompt": self.prompt, "model": self.model, "seed": self.seed}
        job = plate_job("sketch", source, output, colorspace, prefs.path_map(context), **settings)
        target_scene = compat.sequencer_scene(context)

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            start = scene.frame_start
            channel = free_channel(_strip_intervals(target_scene), start, start + source.count, 0)
            new = blender_io.add_result_strip(
                target_scene, f"{scene.name} sketch", output, source.first, source.count, channel, start, colorspace
            )
            return f"dreamplate: sketch done, strip {new.name!r} on channel {channel}"

        return job, f"sketch {scene.name}", finish


# --- the compositor --------------------------------------------------------------------------------------------------

OPERATIONS = [
    ("interpolate", "Interpolate", "In-betweens: FACTOR times the frames"),
    ("relight", "Relight", "Relight or restyle with a video model"),
    ("sketch", "Sketch to Shot", "A finished shot from a blocking pass"),
]


class DREAMPLATE_OT_compositor(_JobOperator, bpy.types.Operator):
    """Run an operation on the active Image node's sequence and add an Image node with the result beside it"""

    bl_idname = "dreamplate.compositor"
    bl_label = "Run on Image Node"

    operation: EnumProperty(name="Operation", items=OPERATIONS, default="interpolate")
    factor: IntProperty(name="Factor", default=2, min=2, max=100)
    method: EnumProperty(name="Method", items=METHODS, default="auto")
    prompt: StringProperty(name="Prompt")
    strength: FloatProperty(name="Strength", default=0.4, min=0.0, max=1.0)
    seed: IntProperty(name="Seed", default=0, min=0)
    model: StringProperty(name="Model")

    @staticmethod
    def tree(context: bpy.types.Context) -> Any:
        space = context.space_data
        if space is not None and getattr(space, "tree_type", "") == "CompositorNodeTree" and space.edit_tree:
            return space.edit_tree
        return compat.compositor_tree(context.scene)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        tree = cls.tree(context)
        node = tree.nodes.active if tree is not None else None
        return node is not None and node.bl_idname == "CompositorNodeImage" and node.image is not None

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import interpolate_job, interpolated_count, plate_job, sequence_on_disk, split_frame

        tree = self.tree(context)
        node = tree.nodes.active
        file_path = blender_io.image_file(node.image)
        if not file_path.lower().endswith(".exr"):
            raise MappingError(f"Image node {node.name!r}: dreamplate needs an EXR sequence on disk, got {file_path!r}")
        folder_in = os.path.dirname(file_path)
        source = sequence_on_disk(file_path, os.listdir(folder_in) if os.path.isdir(folder_in) else [])
        colorspace = node.image.colorspace_settings.name
        folder, stem = _job_folder(
            context, self.output_dir, f"{safe_name(split_frame(os.path.basename(file_path)).head)}_{self.operation}"
        )
        output = os.path.join(folder, f"{stem}.####.exr")
        paths = prefs.path_map(context)
        if self.operation == "interpolate":
            job = interpolate_job(source, output, self.factor, self.method, colorspace, paths)
            count = interpolated_count(source.count, self.factor)
        else:
            settings = {"prompt": self.prompt, "model": self.model, "seed": self.seed}
            if self.operation == "relight":
                settings["strength"] = self.strength
            job = plate_job(self.operation, source, output, colorspace, paths, **settings)
            count = source.count
        node_name, location, frame_start = node.name, tuple(node.location), node.frame_start
        operation = self.operation

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            image = blender_io.load_sequence_image(output, source.first, count, colorspace)
            new = tree.nodes.new("CompositorNodeImage")
            new.image = image
            new.label = f"{node_name} {operation}"
            new.frame_duration = count
            new.frame_start = frame_start
            new.location = (location[0], location[1] - 320.0)
            tree.nodes.active = new
            return f"dreamplate: {operation} done, Image node {new.name!r} ({count} frames)"

        return job, f"{operation} {node_name}", finish


# --- keyframes -------------------------------------------------------------------------------------------------------


class DREAMPLATE_OT_keyframes(_JobOperator, bpy.types.Operator):
    """Generate the frames between two images (or the first frames of two selected strips); keys pass through"""

    bl_idname = "dreamplate.keyframes"
    bl_label = "Keyframes"

    source: EnumProperty(
        name="Keys from",
        items=[("IMAGES", "Images", "Two images"), ("STRIPS", "Strips", "The active and one other selected strip")],
        default="IMAGES",
    )
    first_image: StringProperty(name="First image")
    last_image: StringProperty(name="Last image")
    count: IntProperty(name="Frames", default=25, min=3, max=1000, description="Total frames, both keys included")
    prompt: StringProperty(name="Prompt")
    model: StringProperty(name="Model")
    seed: IntProperty(name="Seed", default=0, min=0)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "source")
        if self.source == "IMAGES":
            layout.prop_search(self, "first_image", bpy.data, "images")
            layout.prop_search(self, "last_image", bpy.data, "images")
        for name in ("count", "prompt", "model", "seed"):
            layout.prop(self, name)

    def keys(self, context: bpy.types.Context, folder: str) -> tuple[str, str, str]:
        """(first EXR, last EXR, colour space): EXR files are used as they are, other images saved as EXR."""
        from . import blender_io
        from .mapping import frame_path

        if self.source == "STRIPS":
            scene = compat.sequencer_scene(context)
            editor = scene.sequence_editor
            active = editor.active_strip if editor else None
            others = [s for s in compat.all_strips(scene) if s.select and s != active]
            if active is None or len(others) != 1:
                raise MappingError("keyframes from strips: select exactly two strips, one of them active")
            first, last = sorted([active, others[0]], key=lambda s: s.frame_final_start)
            files = []
            for strip in (first, last):
                sequence, colorspace = blender_io.image_sequence_of_strip(strip)
                # The key is the frame nearest the gap: the first strip's last frame, the second's first.
                files.append(frame_path(sequence.pattern, sequence.last if strip is first else sequence.first))
            if not all(f.lower().endswith(".exr") for f in files):
                raise MappingError("keyframes from strips: both strips must be EXR sequences")
            return files[0], files[1], colorspace
        paths, spaces = [], []
        for index, name in enumerate((self.first_image, self.last_image)):
            image = bpy.data.images.get(name)
            if image is None:
                raise MappingError(f"keyframes: no image named {name!r}")
            path = blender_io.image_file(image)
            if path.lower().endswith(".exr") and os.path.isfile(path):
                paths.append(path)
                spaces.append(image.colorspace_settings.name)
            else:
                key = os.path.join(folder, "keys", f"key{index}.exr")
                paths.append(blender_io.save_image_exr(image, key, context.scene))
                spaces.append(compat.working_space())
        if spaces[0] != spaces[1]:
            raise MappingError(f"keyframes: the images are in different colour spaces ({spaces[0]}, {spaces[1]})")
        return paths[0], paths[1], spaces[0]

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import keyframes_job

        scene = compat.sequencer_scene(context)
        folder, stem = _job_folder(context, self.output_dir, "keyframes")
        first, last, colorspace = self.keys(context, folder)
        first_frame = blender_io.first_frame_of(first) if self.source == "STRIPS" else scene.frame_current
        output = os.path.join(folder, f"{stem}.####.exr")
        settings = {"prompt": self.prompt, "model": self.model, "seed": self.seed}
        job = keyframes_job(
            first, last, first_frame, self.count, output, colorspace, prefs.path_map(context), **settings
        )
        count, start = self.count, scene.frame_current

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            channel = free_channel(_strip_intervals(scene), start, start + count, 0)
            new = blender_io.add_result_strip(
                scene, "keyframes", output, first_frame, count, channel, start, colorspace
            )
            return f"dreamplate: keyframes done, strip {new.name!r} ({count} frames)"

        return job, f"keyframes x{count}", finish


# --- the job list ----------------------------------------------------------------------------------------------------


class DREAMPLATE_OT_cancel_job(bpy.types.Operator):
    """Cancel a dreamplate job on the server (a running job stops after its current frame)"""

    bl_idname = "dreamplate.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty()

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            job = prefs.connect(context).cancel(self.job_id)
        except _errors() as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        entry = BOARD.entries.get(self.job_id)
        if entry is not None:
            entry.cancel_requested = True
        BOARD.update(self.job_id, job)
        return {"FINISHED"}


class DREAMPLATE_OT_clear_jobs(bpy.types.Operator):
    """Remove finished jobs from the list"""

    bl_idname = "dreamplate.clear_jobs"
    bl_label = "Clear Finished"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        BOARD.clear_finished()
        return {"FINISHED"}


classes = (
    DREAMPLATE_OT_interpolate,
    DREAMPLATE_OT_relight,
    DREAMPLATE_OT_sketch,
    DREAMPLATE_OT_sketch_scene,
    DREAMPLATE_OT_compositor,
    DREAMPLATE_OT_keyframes,
    DREAMPLATE_OT_cancel_job,
    DREAMPLATE_OT_clear_jobs,
)
