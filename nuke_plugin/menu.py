"""dreamplate for Nuke, GUI sessions: a *dreamplate* toolbar menu and Nodes menu entries (the pane is in init.py).

The node entries come from the server's operation list as last cached (`dreamplate_nuke.toolbar`); a worker thread
refreshes it, so Nuke starts without waiting on the server and a new operation on the server appears by itself.
"""

import nuke

_ICONS = {"interpolate": "dreamplate_interpolate.png", "relight": "dreamplate_relight.png",
          "sketch": "dreamplate_sketch.png", "keyframes": "dreamplate_keyframes.png"}
"""Icons drawn for the operations of today (by operation name); any other operation gets dreamplate.png."""

if nuke.GUI:  # menu.py runs only in GUI sessions; the guard keeps an explicit `nuke -t` import of it harmless
    import dreamplate_nuke.toolbar

    dreamplate_nuke.toolbar.install(_ICONS)
