"""dreamplate for Nuke: runs in every Nuke session, GUI or not (`nuke -t`, render farms). Paths only, no UI.

Makes `dreamplate.client` importable when only this folder is on NUKE_PATH: the repo's `core/` sits beside it.
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
