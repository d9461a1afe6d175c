"""Stub of `nukescripts.panels`: records registered widget panels; `addToPane()` builds the widget as Nuke does.

As in Nuke, `widget` is a Python expression (a string) that Nuke evaluates when the pane opens, in a namespace the
plugin does not control; the plugin passes an `__import__(...)` expression so it resolves anywhere.
"""

registered = {}


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


def registerWidgetAsPanel(widget, name, id, create=False):
    panel = _Panel(widget, name, id)
    registered[id] = panel
    return panel
