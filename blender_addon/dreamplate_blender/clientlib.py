"""The dreamplate job client, as the extension finds it: vendored into the zip by the build, else dreamplate's own.

`install/build_blender_extension.py` copies `core/dreamplate/client.py` into the zip as `dreamplate_client.py`
(a build artifact, never a second copy in git). A development checkout with `core/` on `sys.path`, or a Blender
whose Python has dreamplate installed, uses `dreamplate.client` itself.
"""

from __future__ import annotations

try:
    from . import dreamplate_client as client
except ImportError:
    from dreamplate import client

Client = client.Client
ClientError = client.ClientError

__all__ = ["Client", "ClientError", "client"]
