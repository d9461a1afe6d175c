"""The preferences form and the job queue pane (the core's `JobQueueWidget`, registered as a Nuke panel)."""

from __future__ import annotations

import logging

import nuke

from dreamplate_nuke import prefs

log = logging.getLogger(__name__)

PANEL_ID = "uk.dreamplate.JobQueue"
# Nuke evaluates this expression when the pane opens, in a namespace the plugin does not control.
PANEL_WIDGET = "__import__('dreamplate_nuke.panels', fromlist=['QueuePanel']).QueuePanel"


def show_prefs() -> bool:
    """Edit server URL, token and path maps; saved to the user's .nuke folder. Returns True when saved."""
    current = prefs.load()
    panel = nuke.Panel("dreamplate preferences")
    panel.addSingleLineInput("server URL", current.url)
    panel.addPasswordInput("token", current.token)
    panel.addMultilineTextInput("path maps", "\n".join("{}={}".format(c, s) for c, s in current.maps))
    if not panel.show():
        return False
    from dreamplate_nuke.mapping import SpecError, parse_maps

    try:
        maps = parse_maps(panel.value("path maps") or "")
    except SpecError as exc:
        nuke.message("dreamplate preferences not saved: {}".format(exc))
        return False
    saved = prefs.load(environ={})  # what the file holds, without the environment's overrides
    saved.url = (panel.value("server URL") or prefs.DEFAULT_URL).strip()
    saved.token = (panel.value("token") or "").strip()
    saved.maps = maps
    path = prefs.save(saved)
    if current.overridden:
        nuke.message("dreamplate: saved to {}; the environment still overrides {}".format(
            path, ", ".join(current.overridden)))
    return True


def _queue_widget_class():
    from dreamplate.queue_widget import JobQueueWidget

    class QueuePanel(JobQueueWidget):
        """The queue pane: the core widget talking to the server the preferences name, paths shown as mapped."""

        def __init__(self, parent=None):
            from dreamplate_nuke.mapping import to_client
            from dreamplate_nuke.render import make_client

            settings = prefs.load()
            super(QueuePanel, self).__init__(make_client(settings), parent=parent,
                                             local_path=lambda path: to_client(path, settings.maps))

    return QueuePanel


def __getattr__(name):  # a module attribute built on first use, so importing this file needs no Qt
    if name == "QueuePanel":
        widget_class = _queue_widget_class()
        globals()["QueuePanel"] = widget_class
        return widget_class
    raise AttributeError(name)


def register_queue_panel() -> None:
    """Add the queue to Nuke's pane menu (Windows > Custom > dreamplate queue)."""
    import nukescripts

    nukescripts.panels.registerWidgetAsPanel(PANEL_WIDGET, "dreamplate queue", PANEL_ID)


def open_queue_panel():
    """Open the queue pane next to the Properties bin (a floating window when there is none)."""
    import nukescripts

    panel = nukescripts.panels.registerWidgetAsPanel(PANEL_WIDGET, "dreamplate queue", PANEL_ID, True)
    pane = nuke.getPaneFor("Properties.1")
    return panel.addToPane(pane) if pane is not None else panel.show()
