"""dreamplate for Nuke: Group nodes built from the server's operation list that send jobs and show the result.

Runs in Nuke's own Python (Nuke 13 to 16, Python 3.7+): standard library, `nuke`, `nukescripts`, PySide6 or PySide2
and `dreamplate.client`; no numpy, no torch, nothing pip-installed into Nuke. `mapping`, `legacy`, `ops_cache` and
`prefs` import no host code, so they are tested with plain pytest.
"""
