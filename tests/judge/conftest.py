"""The judge tests import the synthetic-damage helpers beside them and the server helpers; each test gets its own
model registries."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "server"))  # server_support: waiting for a job


@pytest.fixture(autouse=True)
def _dreamplate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own model registries (video and image-text) and weights-hash cache, never the user's."""
    home = tmp_path / "dreamplate_home"
    monkeypatch.setenv("DREAMPLATE_HOME", str(home))
    return home
