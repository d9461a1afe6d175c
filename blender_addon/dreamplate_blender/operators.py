"""The extension's operators: one per operation the server describes, built at registration, and the job list's.

`build_operator(op)` makes an operation's class with `type()`: its settings (properties, defaults, bounds, choices)
come from the description through `settings`; what is Blender's own comes from here: where the inputs come from
(the active strip, the active Image node, a scene render, two images or strips) and where the result goes (a strip
on the channel above, an Image node beside the source).

Every job operator is modal. Its job's worker thread (`jobs.JobWatch`) connects, submits and polls; the timer's
`tick()` only drains what the worker learnt, updates the status bar and the job list, and brings the result in
once the job is done, so a tick never waits on the network. Esc cancels on the server. In background mode (no
timers) the operator runs the same `tick()` in a loop until the job ends. Server errors are reported word for word.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import compat, connection, prefs, settings
from .jobs import BOARD, JobWatch
from .mapping import MappingError, free_channel, interop_id, safe_name, unique_folder

log = logging.getLogger(__name__)
Finish = Callable[[bpy.types.Context, dict[str, Any]], str]
PROGRESS_STEPS = 1000
TIMER_SECONDS = 0.25
BACKGROUND_SECONDS = 0.02

PLATE_SOURCES = [
    ("STRIP", "Active strip", "The Sequencer's active image-sequence strip; the result lands on the channel above"),
    ("NODE", "Active Image node", "The Compositor's active Image node (an EXR sequence); the result is a new node"),
    ("SCENE", "Scene render", "Render the scene camera's animation to half EXRs; the result lands in the Sequencer"),
]
KEY_SOURCES = [
    ("IMAGES", "Images", "Two images"),
    ("STRIPS", "Strips", "The active and one other selected strip"),
]
TIMINGS = [
    ("MATCH", "Same duration", "A result with more frames plays faster, so it spans the source strip's time"),
    ("SLOW", "One frame per frame", "One result frame per timeline frame: a longer result makes a longer strip"),
]


def _errors() -> tuple[type[Exception], ...]:
    """The failures an operator reports as one line and cancels on; anything else is a bug and keeps its traceback."""
    from .clientlib import ClientError

    return (ClientError, MappingError, compat.CompatError, settings.DescriptionError)


def _strip_intervals(scene: bpy.types.Scene) -> list[tuple[int, int, int]]:
    return [(s.channel, s.frame_final_start, s.frame_final_end) for s in compat.all_strips(scene)]


def _job_folder(context: bpy.types.Context, override: str, stem: str) -> tuple[str, str]:
    """A fresh folder for one job's frames, and the stem its files get."""
    root = prefs.output_root(context, override)
    os.makedirs(root, exist_ok=True)
    folder = unique_folder(root, stem, os.listdir(root))
    os.makedirs(folder)
    return folder, stem


def _result_frames(pattern: str) -> Any:
    from .mapping import output_sequence

    folder = os.path.dirname(pattern)
    return output_sequence(pattern, os.listdir(folder) if os.path.isdir(folder) else [])


def _redraw(context: bpy.types.Context) -> None:
    screen = getattr(context, "screen", None)
    if screen is not None:
        for area in screen.areas:
            area.tag_redraw()


class _JobOperator:
    """Submit a job, follow it (modal timer, or a loop in background mode) and finish it on the main thread."""

    bl_options = {"REGISTER"}
    op: dict[str, Any] = {}
    """The operation's description (set on each built class)."""
    dp_settings: tuple[settings.Setting, ...] = ()

    output_dir: StringProperty(
        name="Output folder",
        subtype="DIR_PATH",
        description="Where the job writes; empty: the preferences' output folder",
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        """(job, label, finish): the job to submit and what to do with a done job's frames."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The settings the artist changed from the description's defaults (the server applies the rest)."""
        return settings.job_params(self.dp_settings, lambda name: getattr(self, name), self.properties.is_property_set)

    def host_params(self, params: dict[str, Any], colorspace: str | None, paths: Any) -> dict[str, Any]:
        """`params` plus what Blender's data says and the artist left unset: the inputs' colour space; paths mapped."""
        field = settings.field_of_kind(self.op, "colorspace")
        if field and colorspace and params.get(field) is None:
            params = {**params, field: interop_id(colorspace)}
        return settings.server_paths(params, self.dp_settings, paths.to_server)

    # --- the dialog ---------------------------------------------------------------------------------------------

    def invoke(self, context: bpy.types.Context, event: Any) -> set[str]:
        return context.window_manager.invoke_props_dialog(self, width=440)

    def draw_inputs(self, layout: bpy.types.UILayout) -> None:
        """Where the inputs come from and where the result goes (Blender's own settings)."""

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        self.draw_inputs(layout)
        for setting in self.dp_settings:
            if not setting.advanced:
                self._draw_setting(layout, setting)
        advanced = [s for s in self.dp_settings if s.advanced]
        if advanced:
            header, body = layout.panel(f"dreamplate_{self.op['name']}_advanced", default_closed=True)
            header.label(text="Advanced")
            if body is not None:
                for setting in advanced:
                    self._draw_setting(body, setting)
        layout.prop(self, "output_dir")

    def _draw_setting(self, layout: bpy.types.UILayout, setting: settings.Setting) -> None:
        if setting.toggle is None:
            layout.prop(self, setting.prop)
            return
        row = layout.row(heading=setting.field.get("label") or setting.name, align=True)
        row.prop(self, setting.toggle, text="")
        value = row.row(align=True)
        value.active = setting.in_use(lambda name: getattr(self, name), self.properties.is_property_set)
        value.prop(self, setting.prop, text="")

    # --- following the job --------------------------------------------------------------------------------------

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            job, label, self._finish = self.start(context)
            server = prefs.server_settings(context)
        except _errors() as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._timer = None
        self._watch = JobWatch(lambda: connection.connect(server), job, label, errors=_errors())
        if bpy.app.background:
            # Background mode runs no timers: the same tick, in a loop; there is no UI to keep responsive.
            while True:
                result = self.tick(context)
                if result is not None:
                    return result
                time.sleep(BACKGROUND_SECONDS)
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(TIMER_SECONDS, window=context.window)
        window_manager.modal_handler_add(self)
        window_manager.progress_begin(0, PROGRESS_STEPS)
        self.report({"INFO"}, f"dreamplate: {label} submitted (Esc cancels)")
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: Any) -> set[str]:
        if event.type == "ESC" and event.value == "PRESS":
            self.escape()
            return {"RUNNING_MODAL"}
        if event.type != "TIMER" or event.timer is not self._timer:
            return {"PASS_THROUGH"}
        return self.tick(context) or {"PASS_THROUGH"}

    def escape(self) -> None:
        """Esc: the worker asks the server to cancel; the job is followed until the server says it stopped."""
        self._watch.escape()
        self.report({"INFO"}, f"dreamplate: cancelling {self._watch.job_id or self._watch.label}")

    def tick(self, context: bpy.types.Context) -> set[str] | None:
        """One timer tick: take what the worker learnt (never waiting); the operator's result once the job ended."""
        if not self._watch.drain() and not self._watch.finished:
            return None
        if self._timer is not None:
            context.window_manager.progress_update(int(float(self._watch.last.get("progress") or 0.0) * PROGRESS_STEPS))
            _redraw(context)
        if not self._watch.finished:
            return None
        self._stop_following(context)
        if self._watch.error is not None:
            running = f" (job {self._watch.job_id} may still be running on the server)" if self._watch.job_id else ""
            self.report({"ERROR"}, self._watch.error + running)
            return {"CANCELLED"}
        try:
            return self._end(context, self._watch.last)
        except _errors() as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def _stop_following(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            window_manager = context.window_manager
            window_manager.event_timer_remove(self._timer)
            window_manager.progress_end()
            self._timer = None
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
        from . import candidates  # a --candidates job: its contact sheet and a choice of candidate

        shown = candidates.after_job(context, self.op, self._watch.spec, self._watch.label)
        self.report({"INFO"}, self._finish(context, job) + shown)
        return {"FINISHED"}


# --- plate operations: a strip, an Image node or a scene render in, the result back beside it -------------------------


class _PlateOperator(_JobOperator):
    """An operation on one image sequence: the active strip, the active Image node or the scene camera's render."""

    source: EnumProperty(name="Input", items=PLATE_SOURCES, default="STRIP", options={"SKIP_SAVE"})
    viewport: BoolProperty(name="Viewport render", description="OpenGL viewport render instead of the render engine")
    timing: EnumProperty(name="Result timing", items=TIMINGS, default="MATCH")

    def draw_inputs(self, layout: bpy.types.UILayout) -> None:
        layout.prop(self, "source")
        if self.source == "SCENE":
            layout.prop(self, "viewport")
        if self.source != "NODE":
            layout.prop(self, "timing")

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import job

        name = self.op["name"]
        if self.source == "NODE":
            source, colorspace, folder, stem, land, label = self._from_node(context)
        elif self.source == "SCENE":
            source, colorspace, folder, stem, land, label = self._from_scene(context)
        else:
            source, colorspace, folder, stem, land, label = self._from_strip(context)
        output = os.path.join(folder, f"{stem}.####.exr")
        paths = prefs.path_map(context)
        params = self.params()
        # The operation's frame-range setting, filled from the strip's visible range unless the artist set it.
        frames_field = settings.field_of_kind(self.op, "frame_range")
        if frames_field is not None:
            params.setdefault(frames_field, source.frames)
        submitted = job(name, [source.pattern], output, self.host_params(params, colorspace, paths), paths)

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            return land(context, _result_frames(output), source, colorspace, blender_io)

        return submitted, f"{name} {label}", finish

    def _from_strip(self, context: bpy.types.Context) -> tuple:
        from . import blender_io

        scene = compat.sequencer_scene(context)
        editor = scene.sequence_editor
        strip = editor.active_strip if editor is not None else None
        if strip is None:
            raise MappingError(f"{self.op['name']}: no active strip in the Sequencer; select an image-sequence strip")
        folder, stem = _job_folder(context, self.output_dir, f"{safe_name(strip.name)}_{self.op['name']}")
        source, colorspace = blender_io.image_sequence_of_strip(strip)
        if not source.pattern.lower().endswith(".exr"):
            source, colorspace = blender_io.export_strip_frames(strip, os.path.join(folder, "input"), scene)
        at = (scene, strip.frame_final_start, strip.frame_final_end, strip.channel, strip.name)
        return source, colorspace, folder, stem, self._strip_landing(*at), strip.name

    def _from_scene(self, context: bpy.types.Context) -> tuple:
        from . import blender_io

        scene = context.scene
        folder, stem = _job_folder(context, self.output_dir, f"{safe_name(scene.name)}_{self.op['name']}")
        source = blender_io.render_scene(context, scene, os.path.join(folder, "input"), self.viewport)
        target = compat.sequencer_scene(context)
        start = scene.frame_start
        landing = self._strip_landing(target, start, start + source.count, 0, scene.name)
        return source, compat.working_space(), folder, stem, landing, scene.name

    def _strip_landing(self, scene: Any, start: int, end: int, channel: int, name: str) -> Callable[..., str]:
        """Where a strip source's result goes: the first free channel above, from the source's first frame."""
        op_name, timing = self.op["name"], self.timing

        def land(context: bpy.types.Context, result: Any, source: Any, colorspace: str, blender_io: Any) -> str:
            from .mapping import retime_speed

            speed = retime_speed(source.count, result.count) if timing == "MATCH" else 1.0
            length = max(end - start, result.count)
            target = free_channel(_strip_intervals(scene), start, start + length, channel)
            new = blender_io.add_result_strip(
                scene, f"{name} {op_name}", result.pattern, result.first, result.count, target, start, colorspace
            )
            if abs(speed - 1.0) > 1e-9:
                try:
                    compat.set_strip_speed(scene, new, speed)
                except compat.CompatError as exc:
                    self.report({"WARNING"}, f"{exc}; the strip plays one frame per timeline frame")
                    return f"dreamplate: {op_name} done, strip {new.name!r} (speed not set)"
                # Retiming rounds the last segment differently between versions: end where the source ends.
                if new.frame_final_end != end:
                    new.frame_final_end = end
            return f"dreamplate: {op_name} done, {result.count} frames in strip {new.name!r} on channel {target}"

        return land

    @staticmethod
    def tree(context: bpy.types.Context) -> Any:
        space = context.space_data
        if space is not None and getattr(space, "tree_type", "") == "CompositorNodeTree" and space.edit_tree:
            return space.edit_tree
        return compat.compositor_tree(context.scene)

    def _from_node(self, context: bpy.types.Context) -> tuple:
        from . import blender_io
        from .mapping import sequence_on_disk, split_frame

        tree = self.tree(context)
        node = tree.nodes.active if tree is not None else None
        if node is None or node.bl_idname != "CompositorNodeImage" or node.image is None:
            raise MappingError(
                f"{self.op['name']}: make an Image node with an EXR sequence the Compositor's active node"
            )
        file_path = blender_io.image_file(node.image)
        if not file_path.lower().endswith(".exr"):
            raise MappingError(f"Image node {node.name!r}: dreamplate needs an EXR sequence on disk, got {file_path!r}")
        folder_in = os.path.dirname(file_path)
        source = sequence_on_disk(file_path, os.listdir(folder_in) if os.path.isdir(folder_in) else [])
        stem = f"{safe_name(split_frame(os.path.basename(file_path)).head)}_{self.op['name']}"
        folder, stem = _job_folder(context, self.output_dir, stem)
        node_name, location, frame_start = node.name, tuple(node.location), node.frame_start
        op_name = self.op["name"]

        def land(context: bpy.types.Context, result: Any, source: Any, colorspace: str, blender_io: Any) -> str:
            image = blender_io.load_sequence_image(result.pattern, result.first, result.count, colorspace)
            new = tree.nodes.new("CompositorNodeImage")
            new.image = image
            new.label = f"{node_name} {op_name}"
            new.frame_duration = result.count
            new.frame_start = frame_start
            new.location = (location[0], location[1] - 320.0)
            tree.nodes.active = new
            return f"dreamplate: {op_name} done, Image node {new.name!r} ({result.count} frames)"

        return source, node.image.colorspace_settings.name, folder, stem, land, node_name


# --- keyframe operations: two images or two strips in, a strip of the frames between out ----------------------------


class _KeysOperator(_JobOperator):
    """An operation whose inputs are keyframes: two images, or the facing frames of two selected strips."""

    source: EnumProperty(name="Keys from", items=KEY_SOURCES, default="IMAGES", options={"SKIP_SAVE"})
    first_image: StringProperty(name="First image")
    last_image: StringProperty(name="Last image")
    count: IntProperty(
        name="Frames", default=25, min=3, max=100000, description="Frames in the result, both keys included"
    )

    def draw_inputs(self, layout: bpy.types.UILayout) -> None:
        layout.prop(self, "source")
        if self.source == "IMAGES":
            layout.prop_search(self, "first_image", bpy.data, "images")
            layout.prop_search(self, "last_image", bpy.data, "images")
        layout.prop(self, "count")

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
                raise MappingError(f"{self.op['name']} from strips: select exactly two strips, one of them active")
            first, last = sorted([active, others[0]], key=lambda s: s.frame_final_start)
            files = []
            for strip in (first, last):
                sequence, colorspace = blender_io.image_sequence_of_strip(strip)
                # The key is the frame nearest the gap: the first strip's last frame, the second's first.
                files.append(frame_path(sequence.pattern, sequence.last if strip is first else sequence.first))
            if not all(f.lower().endswith(".exr") for f in files):
                raise MappingError(f"{self.op['name']} from strips: both strips must be EXR sequences")
            return files[0], files[1], colorspace
        paths, spaces = [], []
        for index, name in enumerate((self.first_image, self.last_image)):
            image = bpy.data.images.get(name)
            if image is None:
                raise MappingError(f"{self.op['name']}: no image named {name!r}")
            path = blender_io.image_file(image)
            if path.lower().endswith(".exr") and os.path.isfile(path):
                paths.append(path)
                spaces.append(image.colorspace_settings.name)
            else:
                key = os.path.join(folder, "keys", f"key{index}.exr")
                paths.append(blender_io.save_image_exr(image, key, context.scene))
                spaces.append(compat.working_space())
        if spaces[0] != spaces[1]:
            raise MappingError(
                f"{self.op['name']}: the images are in different colour spaces ({spaces[0]}, {spaces[1]})"
            )
        return paths[0], paths[1], spaces[0]

    def start(self, context: bpy.types.Context) -> tuple[dict[str, Any], str, Finish]:
        from . import blender_io
        from .mapping import job, keys_param

        name = self.op["name"]
        scene = compat.sequencer_scene(context)
        folder, stem = _job_folder(context, self.output_dir, name)
        first, last, colorspace = self.keys(context, folder)
        first_frame = blender_io.first_frame_of(first) if self.source == "STRIPS" else scene.frame_current
        output = os.path.join(folder, f"{stem}.####.exr")
        paths = prefs.path_map(context)
        params = self.host_params(self.params(), colorspace, paths)
        params[settings.field_of_kind(self.op, "keyframes")] = keys_param(first, last, first_frame, self.count, paths)
        submitted = job(name, [first, last], output, params, paths)
        count, start = self.count, scene.frame_current

        def finish(context: bpy.types.Context, done: dict[str, Any]) -> str:
            result = _result_frames(output)
            channel = free_channel(_strip_intervals(scene), start, start + result.count, 0)
            new = blender_io.add_result_strip(
                scene, name, result.pattern, result.first, result.count, channel, start, colorspace
            )
            return f"dreamplate: {name} done, strip {new.name!r} ({result.count} frames)"

        return submitted, f"{name} x{count}", finish


def _host_properties(base: type) -> set[str]:
    """The properties a base class declares itself (the names an operation's settings must not take)."""
    names: set[str] = set()
    for klass in base.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
    return names


def _search(kind: str) -> Callable[..., list[str]]:
    from . import catalog

    def search(self: Any, context: bpy.types.Context, edit_text: str) -> list[str]:
        return catalog.suggestions(kind, edit_text)

    return search


def build_operator(op: dict[str, Any]) -> type:
    """The operator class for one operation's description: `DREAMPLATE_OT_<name>`, `bpy.ops.dreamplate.<name>`."""
    name = op["name"]
    if not name.isidentifier() or name != name.lower():
        raise settings.DescriptionError(f"operation {name!r}: an operator name must be lower-case letters, digits, _")
    keyed = settings.field_of_kind(op, "keyframes") is not None
    base = _KeysOperator if keyed else _PlateOperator
    op_settings = settings.settings_of(op, _host_properties(base) | {"op", "dp_settings"}, skip_kinds=("keyframes",))
    annotations: dict[str, Any] = {}
    for setting in op_settings:
        for prop, function, options in setting.properties():
            search_kind = options.pop("search_kind", None)
            if search_kind is not None:
                options["search"] = _search(search_kind)
                options["search_options"] = {"SUGGESTION", "SORT"}
            annotations[prop] = getattr(bpy.props, function)(**options)
    summary = str(op.get("summary") or op.get("title") or name)
    return type(
        f"DREAMPLATE_OT_{name}",
        (base, bpy.types.Operator),
        {
            "__doc__": summary[:1].upper() + summary[1:],
            "__annotations__": annotations,
            "bl_idname": f"dreamplate.{name}",
            "bl_label": str(op.get("title") or name),
            "op": op,
            "dp_settings": tuple(op_settings),
        },
    )


# --- the job list and the description -----------------------------------------------------------------------------


class DREAMPLATE_OT_cancel_job(bpy.types.Operator):
    """Cancel a dreamplate job on the server (a running job stops after its current frame)"""

    bl_idname = "dreamplate.cancel_job"
    bl_label = "Cancel Job"
    bl_options = {"INTERNAL"}

    job_id: StringProperty()

    def execute(self, context: bpy.types.Context) -> set[str]:
        # The job's own worker sends the cancel: nothing here waits on the server.
        if not BOARD.cancel(self.job_id):
            self.report({"WARNING"}, f"dreamplate: job {self.job_id} is not followed by this session")
            return {"CANCELLED"}
        return {"FINISHED"}


class DREAMPLATE_OT_clear_jobs(bpy.types.Operator):
    """Remove finished jobs from the list"""

    bl_idname = "dreamplate.clear_jobs"
    bl_label = "Clear Finished"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        BOARD.clear_finished()
        return {"FINISHED"}


class DREAMPLATE_OT_refresh_ops(bpy.types.Operator):
    """Ask the server for its operations again (starting the local server when the preferences allow)"""

    bl_idname = "dreamplate.refresh_ops"
    bl_label = "Reload Operations"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        from . import catalog

        # Background sessions run no timers, so there the fetch is waited for and applied at once.
        catalog.refresh(wait=bpy.app.background)
        if bpy.app.background and catalog.STATE.error:
            self.report({"ERROR"}, catalog.STATE.error)
            return {"CANCELLED"}
        return {"FINISHED"}


classes = (DREAMPLATE_OT_cancel_job, DREAMPLATE_OT_clear_jobs, DREAMPLATE_OT_refresh_ops)
