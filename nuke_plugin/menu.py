"""dreamplate for Nuke, GUI sessions: a *dreamplate* toolbar menu and Nodes menu entries (the pane is in init.py)."""

import nuke

from dreamplate_nuke import NODE_KINDS

_ICONS = {"Interpolate": "dreamplate_interpolate.png", "Relight": "dreamplate_relight.png",
          "SketchToShot": "dreamplate_sketch.png", "Keyframes": "dreamplate_keyframes.png"}


def _add_menus():
    toolbar = nuke.menu("Nodes").addMenu("dreamplate", icon="dreamplate.png")
    nodes_menu = nuke.menu("Nuke").addMenu("dreamplate")
    for kind in NODE_KINDS:
        command = "import dreamplate_nuke.nodes; dreamplate_nuke.nodes.create({!r})".format(kind)
        toolbar.addCommand("dreamplate " + kind, command, icon=_ICONS[kind])
        nodes_menu.addCommand("dreamplate " + kind, command, icon=_ICONS[kind])
    for menu in (toolbar, nodes_menu):
        menu.addSeparator()
        menu.addCommand("Job queue", "import dreamplate_nuke.panels; dreamplate_nuke.panels.open_queue_panel()",
                        icon="dreamplate.png")
        menu.addCommand("Preferences...", "import dreamplate_nuke.panels; dreamplate_nuke.panels.show_prefs()")


if nuke.GUI:  # menu.py runs only in GUI sessions; the guard keeps an explicit `nuke -t` import of it harmless
    _add_menus()
