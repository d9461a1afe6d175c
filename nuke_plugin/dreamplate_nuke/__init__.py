"""dreamplate for Nuke: Group nodes that turn knobs into job specs for `dreamplate serve` and show the result.

Runs in Nuke's own Python (Nuke 13 to 16, Python 3.7+): standard library, `nuke`, `nukescripts`, PySide6 or PySide2
and `dreamplate.client`; no numpy, no torch, nothing pip-installed into Nuke. `mapping` and `prefs` import no host
code, so they are tested with plain pytest.
"""

__all__ = ["NODE_KINDS"]

NODE_KINDS = ("Interpolate", "Relight", "SketchToShot", "Keyframes")
"""The nodes, named as `dreamplate <Kind>` in Nuke; each maps to one server task (see `mapping.build_job`)."""
