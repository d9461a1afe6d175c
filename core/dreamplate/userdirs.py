"""Where dreamplate keeps its own files: one rule for the job store, the API token, the model registry and caches.

`$DREAMPLATE_HOME`, when set (tests, studio installs, a shared server account), holds all of them; otherwise the
platform's user dirs: config (token, model registry), data (job store), cache (weights hashes). `dreamplate.client`
repeats the config rule with the standard library, since host Pythons cannot import platformdirs.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "DREAMPLATE_HOME"


def _home() -> Path | None:
    home = os.environ.get(HOME_ENV)
    return Path(home) if home else None


def config_dir() -> Path:
    """The API token and the model registry: `$DREAMPLATE_HOME`, else the user config dir."""
    from platformdirs import user_config_path

    return _home() or user_config_path("dreamplate", appauthor=False)


def data_dir() -> Path:
    """The job store: `$DREAMPLATE_HOME`, else the user data dir."""
    from platformdirs import user_data_path

    return _home() or user_data_path("dreamplate", appauthor=False)


def cache_dir() -> Path:
    """Caches that can be rebuilt (weights hashes): `$DREAMPLATE_HOME/cache`, else the user cache dir."""
    from platformdirs import user_cache_path

    home = _home()
    return home / "cache" if home else user_cache_path("dreamplate", appauthor=False)
