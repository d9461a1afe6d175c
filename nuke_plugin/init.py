"""dreamplate for Nuke: runs in every Nuke session, GUI or not (`nuke -t`, render farms).

Makes `dreamplate.client` importable when only this folder is on NUKE_PATH: the repo's `core/` sits beside it.
In a GUI session it also registers the job queue pane, here rather than in menu.py: a workspace saved with the pane
open is restored through `nukescripts.restorePanel(id)`, which finds only panels registered by then. Without a GUI
there are no panes (and `nuke.menu`, which the registration uses, raises), so nothing is registered.
"""

import os

import nuke

_HERE = os.path.dirname(os.path.abspath(__file__))
_CORE = os.path.join(os.path.dirname(_HERE), "core")
try:
    import dreamplate.client  # noqa: F401
except ImportError:
    if os.path.isdir(os.path.join(_CORE, "dreamplate")):
        nuke.pluginAddPath(_CORE)
nuke.pluginAddPath(os.path.join(_HERE, "icons"))

if nuke.GUI:
    import dreamplate_nuke.panels

    # Registering builds no widget: Qt is imported when the pane is first opened.
    dreamplate_nuke.panels.register_queue_panel()
