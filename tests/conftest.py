"""Shared fixtures: the shared sample data beside the repo, found or failed (never skipped)."""

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`; a missing folder fails the test, since CI always lays it beside the repo."""
    if not (SHARED_DATA / "exr").is_dir():
        pytest.fail(f"shared sample data not found at {SHARED_DATA}: lay ../shared beside the repo")
    return SHARED_DATA
