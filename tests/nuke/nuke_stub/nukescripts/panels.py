"""Stub of `nukescripts.panels`: panels registered by id, a Pane menu command each, built when a pane opens.

As Foundry's own source has it (https://learn.foundry.com/nuke/developers/160/pythondevguide/_modules/nukescripts/
panels.html): `registerWidgetAsPanel` adds a command to `nuke.menu('Pane')` (so it raises without a GUI) and
registers the id with `registerPanel`; it returns a panel only when `create` is true. `restorePanel(id)`, what a
saved workspace calls to rebuild a pane, finds only registered ids ("Can't restore panel ... because it hasn't been
registered"). `widget` is a Python expression (a string) evaluated when the pane opens, in a namespace the plugin
does not control; the plugin passes an `__import__(...)` expression so it resolves anywhere.
"""

import nuke

registered = {}
_panels = {}


class _Panel:
    def __init__(self, widget, name, panel_id):
        self.widget = widget
        self.name = name
        self.id = panel_id

    def addToPane(self, pane=None):
        """Show in a pane: the widget is built then, as in Nuke."""
        self.pane = pane
        self.widget_instance = self.create()
        return self

    show = addToPane

    def create(self):
        """What Nuke does when the user opens the pane: evaluate the expression and call the class with no arguments."""
        widget_class = eval(self.widget, {}) if isinstance(self.widget, str) else self.widget
        return widget_class()


def registerPanel(id, command):
    _panels[id] = command


def unregisterPanel(id, command):
    del _panels[id]


def restorePanel(id):
    try:
        return _panels[id]()
    except KeyError:
        print("Can't restore panel '", id, "' because it hasn't been registered.")
        return None


def registerWidgetAsPanel(widget, name, id, create=False):
    def add_panel(to_pane=True):
        panel = _Panel(widget, name, id)
        return panel.addToPane() if to_pane else panel

    nuke.menu("Pane").addCommand(name, add_panel)
    registerPanel(id, add_panel)
    registered[id] = _Panel(widget, name, id)
    return _Panel(widget, name, id) if create else None
