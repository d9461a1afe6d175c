"""dreamplate for Blender: the job server's operations (interpolate, relight, sketch-to-shot, keyframes, ...) on
strips, Image nodes and scene renders.

Registration only. The job operators are built from the server's description of its operations (`catalog`, cached
for offline starts); the job list's operators are in `operators`, the settings in `prefs`, the host-free logic in
`mapping`, `settings`, `jobs` and `connection`. Nothing here waits on the network: the description is fetched on a
worker thread.
"""

from __future__ import annotations

import bpy

from . import catalog, operators, panels, prefs, strokes

classes = (prefs.DREAMPLATE_AP_preferences, *operators.classes, *panels.classes, *strokes.classes)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    catalog.register()


def unregister() -> None:
    catalog.unregister()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
    prefs.stop_local_server()
