"""Stub of the `nukescripts` calls the dreamplate plugin makes (only `panels.registerWidgetAsPanel`)."""

from nukescripts import panels  # noqa: F401
