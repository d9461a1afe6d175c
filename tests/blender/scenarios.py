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
import sys
import time
from pathlib import Path
from typing import Any

import bpy

MODULE = "bl_ext.user_default.dreamplate_blender"
MARKER = "SCENARIO-RESULT "


def install(zip_path: str) -> None:
    result = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert result == {"FINISHED"}, result


def configure(args: argparse.Namespace) -> Any:
    settings = bpy.context.preferences.addons[MODULE].preferences
    settings.server_url = args.url
    settings.token = args.token
    settings.output_dir = str(Path(args.work) / "out")
    return settings


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
    from bl_ext.user_default.dreamplate_blender import compat

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


def scenario_register(args: argparse.Namespace) -> dict[str, Any]:
    import addon_utils  # Blender's own module, on sys.path once bpy is imported

    names = (
        "DREAMPLATE_OT_interpolate",
        "DREAMPLATE_OT_relight",
        "DREAMPLATE_OT_sketch",
        "DREAMPLATE_OT_sketch_scene",
        "DREAMPLATE_OT_compositor",
        "DREAMPLATE_OT_keyframes",
        "DREAMPLATE_PT_sequencer",
    )
    out: dict[str, Any] = {"registered": [n for n in names if hasattr(bpy.types, n)]}
    out["prefs_url"] = configure(args).server_url
    out["client_vendored"] = sys.modules.get(f"{MODULE}.dreamplate_client") is not None or _client_vendored()
    addon_utils.disable(MODULE)
    out["after_disable"] = [n for n in names if hasattr(bpy.types, n)]
    addon_utils.enable(MODULE, default_set=True)
    out["reenabled"] = [n for n in names if hasattr(bpy.types, n)]
    addon_utils.disable(MODULE)
    out["after_second_disable"] = [n for n in names if hasattr(bpy.types, n)]
    return out


def _client_vendored() -> bool:
    from bl_ext.user_default.dreamplate_blender import clientlib

    return clientlib.client.__name__.endswith("dreamplate_client")


def scenario_interpolate(args: argparse.Namespace) -> dict[str, Any]:
    configure(args)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, 100
    source = plate_strip(scene, Path(args.plate))
    out: dict[str, Any] = {"source": strip_info(source)}
    started = time.monotonic()
    out["interpolate"] = run_op(bpy.ops.dreamplate.interpolate, factor=args.factor, method="flow", timing="MATCH")
    out["interpolate_seconds"] = round(time.monotonic() - started, 2)
    editor = scene.sequence_editor
    out["strips"] = (
        {s.name: strip_info(s) for s in editor.strips_all}
        if hasattr(editor, "strips_all")
        else {s.name: strip_info(s) for s in editor.sequences_all}
    )
    editor.active_strip = source
    out["relight"] = run_op(bpy.ops.dreamplate.relight, strength=0.0)
    out["strips"] = {s.name: strip_info(s) for s in _strips(scene)}
    # The compositor: the same plate in an Image node, interpolated into a new Image node beside it.
    from bl_ext.user_default.dreamplate_blender import compat

    tree = compat.compositor_tree(scene, create=True)
    image = bpy.data.images.load(str(Path(args.plate) / sorted(os.listdir(args.plate))[0]))
    image.source = "SEQUENCE"
    image.colorspace_settings.name = "ACEScg"
    node = tree.nodes.new("CompositorNodeImage")
    node.image = image
    tree.nodes.active = node
    out["compositor"] = run_op(bpy.ops.dreamplate.compositor, operation="interpolate", method="flow", factor=2)
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
    from bl_ext.user_default.dreamplate_blender import compat

    return compat.all_strips(scene)


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
    out["no_model"] = run_op(bpy.ops.dreamplate.sketch_scene, prompt="a rainy street", model="")
    out["missing_model"] = run_op(bpy.ops.dreamplate.sketch_scene, prompt="a rainy street", model="no-such-model")
    out["seconds"] = round(time.monotonic() - started, 2)
    out["render_settings_restored"] = scene.render.image_settings.file_format
    out["working_space"] = __import__("bl_ext.user_default.dreamplate_blender.compat", fromlist=["x"]).working_space()
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
    from bl_ext.user_default.dreamplate_blender import mapping, prefs
    from bl_ext.user_default.dreamplate_blender.jobs import JobWatch

    files = sorted(p.name for p in Path(args.plate).glob("plate.*.exr"))
    source = mapping.sequence_from_files(args.plate, files)
    output = str(Path(args.work) / "out" / "cancel" / "c.####.exr")
    job = mapping.interpolate_job(source, output, args.factor, "flow", "ACEScg")
    watch = JobWatch(prefs.connect(bpy.context), job, "cancel test")
    deadline = time.monotonic() + 60
    while watch.poll().get("frames_done", 0) < 1 and not watch.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    out: dict[str, Any] = {
        "running_when_escaped": watch.last.get("state"),
        "done_before": watch.last.get("frames_done"),
    }
    watch.escape()
    final = watch.wait()
    out.update(
        job_id=watch.job_id,
        state=final["state"],
        frames_done=final.get("frames_done"),
        frames_total=final.get("frames_total"),
        board=watch.entry.state,
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


SCENARIOS = {
    "register": scenario_register,
    "interpolate": scenario_interpolate,
    "scene_sketch": scenario_scene_sketch,
    "cancel": scenario_cancel,
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
