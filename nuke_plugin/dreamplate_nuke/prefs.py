"""Where the server is: URL, token and path maps, saved as JSON in the user's `.nuke` folder; env vars override.

`$DREAMPLATE_URL`, `$DREAMPLATE_TOKEN` and `$DREAMPLATE_MAP` (`CLIENT=SERVER;CLIENT=SERVER`) win over the file, so a
render farm configures workers without touching anyone's preferences. Host-free: the panel lives in `panels.py`.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Dict, List, Optional, Tuple

from dreamplate_nuke.mapping import parse_maps

log = logging.getLogger(__name__)

PREFS_NAME = "dreamplate_prefs.json"
DEFAULT_URL = "http://127.0.0.1:8765"
ENV = {"url": "DREAMPLATE_URL", "token": "DREAMPLATE_TOKEN", "maps": "DREAMPLATE_MAP"}


def prefs_path() -> str:
    """`~/.nuke/dreamplate_prefs.json` (`$DREAMPLATE_NUKE_PREFS` overrides it, for tests and shared setups)."""
    return os.environ.get("DREAMPLATE_NUKE_PREFS") or os.path.join(os.path.expanduser("~"), ".nuke", PREFS_NAME)


class Prefs(object):
    """The saved settings and, after `load`, what the environment overrides (`overridden` names those keys)."""

    def __init__(self, url: str = DEFAULT_URL, token: str = "", maps: Optional[List[Tuple[str, str]]] = None,
                 poll_seconds: float = 0.25) -> None:
        self.url = url
        self.token = token
        self.maps = list(maps or [])
        self.poll_seconds = poll_seconds
        self.overridden = []  # type: List[str]

    def to_json(self) -> Dict[str, object]:
        return {"url": self.url, "token": self.token, "maps": ["{}={}".format(c, s) for c, s in self.maps],
                "poll_seconds": self.poll_seconds}

    def token_or_none(self) -> Optional[str]:
        """The token to send; None lets `dreamplate.client` fall back to the local server's token file."""
        return self.token or None


def load(path: Optional[str] = None, environ: Optional[Dict[str, str]] = None) -> Prefs:
    """The saved prefs with the environment's overrides applied; a missing file gives the defaults."""
    path = path or prefs_path()
    environ = os.environ if environ is None else environ
    prefs = Prefs()
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as exc:
        log.warning("dreamplate: %s: cannot read the preferences (%s); using defaults", path, exc)
        data = {}
    prefs.url = str(data.get("url") or DEFAULT_URL)
    prefs.token = str(data.get("token") or "")
    prefs.maps = parse_maps("\n".join(data.get("maps") or []))
    prefs.poll_seconds = float(data.get("poll_seconds") or 0.25)
    if environ.get(ENV["url"], "").strip():
        prefs.url = environ[ENV["url"]].strip()
        prefs.overridden.append("url")
    if environ.get(ENV["token"], "").strip():
        prefs.token = environ[ENV["token"]].strip()
        prefs.overridden.append("token")
    if environ.get(ENV["maps"], "").strip():
        prefs.maps = parse_maps(environ[ENV["maps"]])
        prefs.overridden.append("maps")
    return prefs


def save(prefs: Prefs, path: Optional[str] = None) -> str:
    """Write the prefs as JSON (mode 0600: it holds the token); returns the path."""
    path = path or prefs_path()
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    temp = path + ".tmp"
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(prefs.to_json(), handle, indent=2)
    os.replace(temp, path)
    return path
