"""dreamplate for Blender: interpolation, relighting and sketch-to-shot through the dreamplate job server.

Registration only; the work is in `operators`, the settings in `prefs`, the host-free logic in `mapping` and `jobs`.
Heavy or network modules load inside the operators, so enabling the extension costs nothing.
"""

from __future__ import annotations

import bpy

from . import operators, panels, prefs

classes = (prefs.DREAMPLATE_AP_preferences, *operators.classes, *panels.classes)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
    prefs.stop_local_server()
