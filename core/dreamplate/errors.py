"""The one exception family: caught only at the edges (CLI, server), where it becomes one line."""


class DreamplateError(Exception):
    """Base of every error a user can act on; its message is one line naming the thing and the problem."""


class InputError(DreamplateError):
    """A bad, missing, damaged or mismatched input file, or an output that would clobber an input."""


class ColorError(DreamplateError):
    """An OCIO config or colour space that cannot be found or used."""


class ModelError(DreamplateError):
    """Missing model weights, or weights whose hash does not match the pin."""


class JobError(DreamplateError):
    """A job spec that cannot run as given."""


class Cancelled(DreamplateError):  # noqa: N818 - a cancel is an outcome, not an error condition
    """The user cancelled; reported as cancelled, never as a failure."""
