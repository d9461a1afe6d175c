"""Scenarios run inside a bpy virtualenv: install the built extension, drive it in background mode, print JSON.

    .venv-bpy/5.0/bin/python tests/blender/scenarios.py interpolate --url URL --token T --work DIR --zip ZIP

The pytest side (tests/blender/test_blender.py) starts the server, writes the inputs and checks what this prints
(the last line of stdout, after the RESULT marker) and what is on disk. Needs no dreamplate: the zip vendors the
client, exactly as an artist's Blender gets it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import bpy

MODULE = "bl_ext.user_default.dreamplate_blender"
MARKER = "SCENARIO-RESULT "


def install(zip_path: str) -> None:
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result


def configure(args: argparse.Namespace, fetch: bool = True) -> Any:
    """Point the extension at the test's server; `fetch` waits for its operations (background: no timers run)."""
    settings = bpy.context.preferences.addons[MODULE].preferences
    settings.server_url = args.url
    settings.token = args.token
    settings.output_dir = str(Path(args.work) / "out")
    if fetch:
        assert bpy.ops.dreamplate.refresh_ops() == {"FINISHED"}
    return settings


def extension(name: str) -> Any:
    """One of the installed extension's modules."""
    import importlib

    return importlib.import_module(f"{MODULE}.{name}")


def strip_info(strip: Any) -> dict[str, Any]:
    return {
        "name": strip.name,
        "channel": strip.channel,
        "start": strip.frame_final_start,
        "end": strip.frame_final_end,
        "duration": strip.frame_final_duration,
        "elements": [e.filename for e in strip.elements],
        "directory": bpy.path.abspath(strip.directory),
        "colorspace": strip.colorspace_settings.name,
    }


def plate_strip(scene: Any, plate_dir: Path, channel: int = 1, start: int = 1) -> Any:
    compat = extension("compat")
    files = sorted(p.name for p in plate_dir.glob("plate.*.exr"))
    strip = compat.new_image_strip(scene, "plate", str(plate_dir), files, channel, start)
    strip.colorspace_settings.name = "ACEScg"
    compat.sequence_editor(scene).active_strip = strip
    return strip


def run_op(op: Any, **kwargs: Any) -> dict[str, Any]:
    """The operator's result set, or the error it reported (bpy.ops raises RuntimeError on an ERROR report)."""
    try:
        return {"result": sorted(op(**kwargs))}
    except RuntimeError as exc:
        return {"error": str(exc).strip()}


# --- scenarios -------------------------------------------------------------------------------------------------------

STATIC_CLASSES = (
    "DREAMPLATE_OT_cancel_job",
    "DREAMPLATE_OT_clear_jobs",
    "DREAMPLATE_OT_refresh_ops",
    "DREAMPLATE_PT_sequencer",
    "DREAMPLATE_PT_compositor",
    "DREAMPLATE_PT_image",
)


def op_classes(names: list[str]) -> list[str]:
    """The operator classes of these operations that Blender has registered now."""
    return [f"DREAMPLATE_OT_{n}" for n in names if hasattr(bpy.types, f"DREAMPLATE_OT_{n}")]


def properties(cls: Any) -> dict[str, Any]:
    """An operator's properties as Blender registered them: type, default, bounds, enum items, subtype."""
    category, name = cls.bl_idname.split(".")
    out = {}
    for prop in getattr(getattr(bpy.ops, category), name).get_rna_type().properties:
        if prop.identifier == "rna_type":
            continue
        info: dict[str, Any] = {"type": prop.type, "subtype": prop.subtype, "name": prop.name}
        if prop.type in ("BOOLEAN", "INT", "FLOAT", "STRING", "ENUM"):
            info["default"] = prop.default
        if prop.type in ("INT", "FLOAT"):
            info["min"], info["max"] = prop.hard_min, prop.hard_max
        if prop.type == "ENUM":
            info["items"] = [item.identifier for item in prop.enum_items]
        out[prop.identifier] = info
    return out


def settings_map(cls: Any) -> dict[str, Any]:
    """Field name -> (property, tick-box property) as the extension built the class."""
    return {s.name: [s.prop, s.toggle] for s in cls.dp_settings}


class CheckedLayout:
    """A stand-in for `bpy.types.UILayout` (background mode draws nothing) that checks every call it gets.

    Each method and keyword must be one Blender's UILayout has, `prop` must name a property of its data, and an
    `operator` button an operator that is registered, whose properties the panel then sets.
    """

    def __init__(self, calls: list[str], errors: list[str]) -> None:
        object.__setattr__(self, "_calls", calls)
        object.__setattr__(self, "_errors", errors)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in bpy.types.UILayout.bl_rna.properties:
            self._errors.append(f"UILayout has no property {name!r}")

    def __getattr__(self, name: str) -> Any:
        functions = bpy.types.UILayout.bl_rna.functions
        if name not in functions:
            self._errors.append(f"UILayout has no {name}()")
            return lambda *args, **kwargs: self
        known = {p.identifier for p in functions[name].parameters}

        def call(*args: Any, **kwargs: Any) -> Any:
            for key in set(kwargs) - known:
                self._errors.append(f"UILayout.{name}() takes no {key}=")
            text = kwargs.get("text", "")
            if name in ("prop", "prop_search") and not hasattr(args[0], args[1]):
                self._errors.append(f"{name}(): no property {args[1]!r}")
            self._calls.append(f"{name}:{args[1] if name in ('prop', 'prop_search') else (args[0] if args else text)}")
            if name == "panel":
                return CheckedLayout(self._calls, self._errors), CheckedLayout(self._calls, self._errors)
            if name == "operator":
                return _button(args[0], self._errors)
            return self

        return call


def _button(idname: str, errors: list[str]) -> Any:
    """What `layout.operator()` returns: the operator's properties, checked as the panel sets them."""
    category, _, name = idname.partition(".")
    operator = getattr(getattr(bpy.ops, category), name)
    try:
        names = set(operator.get_rna_type().properties.keys())
    except KeyError:
        errors.append(f"button for {idname}: no such operator")
        names = set()

    class Button:
        def __setattr__(self, key: str, value: Any) -> None:
            if key not in names:
                errors.append(f"button for {idname}: no property {key!r}")

    return Button()


def draw_everything(names: list[str]) -> dict[str, Any]:
    """Every job operator's dialog and every panel, drawn into CheckedLayouts: the calls made, and what was wrong."""
    operators, panels = extension("operators"), extension("panels")
    calls: list[str] = []
    errors: list[str] = []
    for name in names:
        cls = getattr(bpy.types, f"DREAMPLATE_OT_{name}")
        base = next(b for b in cls.__mro__ if b in (operators._PlateOperator, operators._KeysOperator))
        dialog = type("Dialog", (base,), {"op": cls.op, "dp_settings": cls.dp_settings})()
        for prop in getattr(bpy.ops.dreamplate, name).get_rna_type().properties:
            if prop.identifier != "rna_type":
                setattr(dialog, prop.identifier, prop.default)
        dialog.layout = CheckedLayout(calls, errors)
        dialog.properties = type("Set", (), {"is_property_set": staticmethod(lambda name: False)})()
        calls.append(f"dialog:{name}")
        dialog.draw(bpy.context)
    for panel in panels.classes:
        calls.append(f"panel:{panel.__name__}")
        panel.draw(type("Panel", (), {"layout": CheckedLayout(calls, errors)})(), bpy.context)
    calls.append("preferences")
    panels.draw_server_status(CheckedLayout(calls, errors))
    return {"calls": calls, "errors": errors}


def scenario_register(args: argparse.Namespace) -> dict[str, Any]:
    """No cache and no server yet, then the server's operations, then offline from the cache; and unregistering."""
    import addon_utils  # Blender's own module, on sys.path once bpy is imported

    catalog = extension("catalog")
    out: dict[str, Any] = {"static_before_fetch": [n for n in STATIC_CLASSES if hasattr(bpy.types, n)]}
    out["ops_before_fetch"] = [c.__name__ for c in catalog.STATE.classes]
    out["prefs_url"] = configure(args).server_url
    names = [op["name"] for op in catalog.STATE.description["ops"]]
    out.update(ops=names, source=catalog.STATE.source, version=catalog.STATE.description["version"])
    out["registered"] = op_classes(names)
    out["properties"] = {n: properties(getattr(bpy.types, f"DREAMPLATE_OT_{n}")) for n in names}
    out["settings"] = {n: settings_map(getattr(bpy.types, f"DREAMPLATE_OT_{n}")) for n in names}
    out["cache_files"] = sorted(os.listdir(catalog.cache_dir()))
    out["drawn"] = draw_everything(names)
    out["client_vendored"] = _client_vendored()
    addon_utils.disable(MODULE)
    out["after_disable"] = op_classes(names) + [n for n in STATIC_CLASSES if hasattr(bpy.types, n)]
    # Enabled again with the server gone: the operators come from the cache, and a refresh reports why not newer.
    addon_utils.enable(MODULE, default_set=True)
    catalog = extension("catalog")
    bpy.context.preferences.addons[MODULE].preferences.server_url = "http://127.0.0.1:9"
    out["offline_registered"] = op_classes(names)
    out["offline_source"] = catalog.STATE.source
    out["offline_refresh"] = run_op(bpy.ops.dreamplate.refresh_ops)
    out["offline_after_refresh"] = op_classes(names)
    addon_utils.disable(MODULE)
    out["after_second_disable"] = op_classes(names) + [n for n in STATIC_CLASSES if hasattr(bpy.types, n)]
    return out


def _client_vendored() -> bool:
    return extension("clientlib").client.__name__.endswith("dreamplate_client")


def scenario_interpolate(args: argparse.Namespace) -> dict[str, Any]:
    configure(args)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 100
    source = plate_strip(scene, Path(args.plate))
    out: dict[str, Any] = {"source": strip_info(source)}
    started = time.monotonic()
    out["interpolate"] = run_op(bpy.ops.dreamplate.interpolate, factor=args.factor, method="flow", timing="MATCH")
    out["interpolate_seconds"] = round(time.monotonic() - started, 2)
    scene.sequence_editor.active_strip = source
    out["relight"] = run_op(bpy.ops.dreamplate.relight, strength=0.0)
    out["strips"] = {s.name: strip_info(s) for s in _strips(scene)}
    # The compositor: the same plate in an Image node, interpolated into a new Image node beside it.
    tree = extension("compat").compositor_tree(scene, create=True)
    image = bpy.data.images.load(str(Path(args.plate) / sorted(os.listdir(args.plate))[0]))
    image.source = "SEQUENCE"
    image.colorspace_settings.name = "ACEScg"
    node = tree.nodes.new("CompositorNodeImage")
    node.image = image
    tree.nodes.active = node
    out["compositor"] = run_op(bpy.ops.dreamplate.interpolate, source="NODE", method="flow", factor=2)
    new = [n for n in tree.nodes if n.bl_idname == "CompositorNodeImage" and n != node]
    out["nodes"] = [
        {
            "image": bpy.path.abspath(n.image.filepath),
            "duration": n.frame_duration,
            "source": n.image.source,
            "colorspace": n.image.colorspace_settings.name,
        }
        for n in new
    ]
    return out


def _strips(scene: Any) -> list[Any]:
    return extension("compat").all_strips(scene)


def scenario_scene_sketch(args: argparse.Namespace) -> dict[str, Any]:
    """Render a tiny scene to EXRs and send it as sketch input; there is no model, so the server's error comes back."""
    configure(args)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.samples = 1
    scene.cycles.device = "CPU"
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 32, 24, 100
    scene.frame_start, scene.frame_end = 1, 3
    cube = scene.objects.get("Cube")
    if cube is not None:
        cube.location.x = 0.0
        cube.keyframe_insert("location", frame=1)
        cube.location.x = 1.0
        cube.keyframe_insert("location", frame=3)
    out: dict[str, Any] = {}
    started = time.monotonic()
    sketch = bpy.ops.dreamplate.sketch
    out["no_model"] = run_op(sketch, source="SCENE", prompt="a rainy street", model="")
    missing = str(Path(args.work) / "no-such-model")  # inside the server's root: accepted, then the job fails
    out["missing_model"] = run_op(sketch, source="SCENE", prompt="a rainy street", model=missing)
    out["seconds"] = round(time.monotonic() - started, 2)
    out["render_settings_restored"] = scene.render.image_settings.file_format
    out["working_space"] = extension("compat").working_space()
    # Keyframes from two plate images, also model-less: submitted, refused or failed with the server's words.
    plate = sorted(Path(args.plate).glob("plate.*.exr"))
    first, last = bpy.data.images.load(str(plate[0])), bpy.data.images.load(str(plate[-1]))
    first.colorspace_settings.name = last.colorspace_settings.name = "ACEScg"
    out["keyframes"] = run_op(
        bpy.ops.dreamplate.keyframes,
        source="IMAGES",
        first_image=first.name,
        last_image=last.name,
        count=5,
        prompt="a cat",
        model="no-such-model",
    )
    return out


def scenario_cancel(args: argparse.Namespace) -> dict[str, Any]:
    """Esc on a running job: the watch's escape() (what the modal operator's Esc runs) cancels it on the server."""
    configure(args)
    connection, jobs, mapping, prefs = (extension(n) for n in ("connection", "jobs", "mapping", "prefs"))
    files = sorted(p.name for p in Path(args.plate).glob("plate.*.exr"))
    source = mapping.sequence_from_files(args.plate, files)
    output = str(Path(args.work) / "out" / "cancel" / "c.####.exr")
    params = {"factor": args.factor, "method": "flow", "frames": source.frames, "colorspace": "lin_ap1_scene"}
    job = mapping.job("interpolate", [source.pattern], output, params)
    server = prefs.server_settings(bpy.context)
    watch = jobs.JobWatch(lambda: connection.connect(server), job, "cancel test", errors=(Exception,))
    deadline = time.monotonic() + 60
    while (watch.last.get("frames_done") or 0) < 1 and not watch.finished and time.monotonic() < deadline:
        watch.drain()
        time.sleep(0.02)
    out: dict[str, Any] = {
        "running_when_escaped": watch.last.get("state"),
        "done_before": watch.last.get("frames_done"),
    }
    watch.escape()
    final = watch.wait(timeout=60)
    out.update(
        job_id=watch.job_id,
        state=final["state"],
        frames_done=final.get("frames_done"),
        frames_total=final.get("frames_total"),
        board=watch.entry.state,
        error=watch.error,
    )
    # And the operator when the job is cancelled from elsewhere (the panel's button, another client): the pytest
    # side cancels this one over HTTP once it runs; the operator reports a cancel, not an error, and adds no strip.
    scene = bpy.context.scene
    plate_strip(scene, Path(args.plate))
    before = len(_strips(scene))
    print("OPERATOR-STARTED", flush=True)
    out["operator"] = run_op(bpy.ops.dreamplate.interpolate, factor=args.factor, method="flow", timing="SLOW")
    out["strips_added"] = len(_strips(scene)) - before
    return out


def scenario_slow(args: argparse.Namespace) -> dict[str, Any]:
    """A server that takes seconds per request: every timer tick stays short, the fetch and the job still complete.

    The ticks are timed here (a wrapper around the operator's `tick`, and around the catalog's timer), driven as
    Blender's timers would drive them; the product has no timing code. The description the stub serves carries an
    operation the test made up, `dp_test_throwaway`.
    """
    catalog, operators = extension("catalog"), extension("operators")
    configure(args, fetch=False)  # the URL and token changes start fetches on worker threads; nothing waits here
    out: dict[str, Any] = {"registered_at_start": [c.__name__ for c in catalog.STATE.classes]}
    catalog_ticks = []
    started = time.monotonic()
    while time.monotonic() - started < 60 and not hasattr(bpy.types, "DREAMPLATE_OT_dp_test_throwaway"):
        tick_start = time.perf_counter()
        catalog.tick()
        catalog_ticks.append(time.perf_counter() - tick_start)
        time.sleep(0.02)
    out["fetch_seconds"] = round(time.monotonic() - started, 2)
    out["catalog_ticks"] = len(catalog_ticks)
    out["catalog_longest_tick"] = max(catalog_ticks)
    out["catalog_error"] = catalog.STATE.error
    cls = bpy.types.DREAMPLATE_OT_dp_test_throwaway
    out["throwaway"] = {"properties": properties(cls), "settings": settings_map(cls), "label": cls.bl_label}
    out["model_suggestions"] = catalog.suggestions("model", "STUB")

    scene = bpy.context.scene
    plate_strip(scene, Path(args.plate))
    job_ticks: list[float] = []
    untimed_tick = operators._JobOperator.tick

    def timed_tick(self: Any, context: Any) -> Any:
        tick_start = time.perf_counter()
        result = untimed_tick(self, context)
        job_ticks.append(time.perf_counter() - tick_start)
        if self._watch.last.get("state") == "running" and not self._watch.entry.cancel_requested:
            self.escape()  # what Esc does in the modal operator; the cancel request is slow too
        return result

    operators._JobOperator.tick = timed_tick
    started = time.monotonic()
    try:
        out["operator"] = run_op(bpy.ops.dreamplate.dp_test_throwaway, passes=9, look="neon", limit=4)
    finally:
        operators._JobOperator.tick = untimed_tick
    out["job_seconds"] = round(time.monotonic() - started, 2)
    out["job_ticks"] = len(job_ticks)
    out["job_longest_tick"] = max(job_ticks)
    return out


SCENARIOS = {
    "register": scenario_register,
    "interpolate": scenario_interpolate,
    "scene_sketch": scenario_scene_sketch,
    "cancel": scenario_cancel,
    "slow": scenario_slow,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--zip", required=True)
    parser.add_argument("--plate", default="")
    parser.add_argument("--factor", type=int, default=2)
    args = parser.parse_args()
    install(args.zip)
    result = SCENARIOS[args.scenario](args)
    result["blender"] = bpy.app.version_string
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
