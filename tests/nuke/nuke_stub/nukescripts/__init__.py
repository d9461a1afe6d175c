"""Stub of the `nukescripts` calls the dreamplate plugin makes (the panel registry in `nukescripts.panels`)."""

from nukescripts import panels  # noqa: F401
from nukescripts.panels import registerPanel, registerWidgetAsPanel, restorePanel  # noqa: F401
