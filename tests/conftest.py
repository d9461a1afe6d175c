"""Shared fixtures: the shared sample data beside the repo, found or failed (never skipped)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from dreamplate.runtime.weights import MODEL_DIR_ENV, PINNED, find_weights, model_dirs

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
# The model store as this machine has it (install/setup.sh fills it), looked up before any test changes the env.
INSTALLED_MODEL_DIRS = model_dirs()


@pytest.fixture(autouse=True)
def _empty_model_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with an empty model store, so `--method auto` means flow unless a test asks for models."""
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path_factory.mktemp("models")))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Undo the CLI's logging setup after each test: a test that runs a command must not make later ones chatty."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _installed_store(monkeypatch: pytest.MonkeyPatch, names: list[str], what: str) -> list[Path]:
    """Point the model store at the installed one; fail (never skip) when any of `names` is not installed there."""
    import os

    monkeypatch.setenv(MODEL_DIR_ENV, os.pathsep.join(str(d) for d in INSTALLED_MODEL_DIRS))
    missing = [name for name in names if find_weights(PINNED[name]) is None]
    if missing:
        pytest.fail(f"{what} {', '.join(missing)} not installed in {INSTALLED_MODEL_DIRS}: run install/setup.sh")
    return INSTALLED_MODEL_DIRS


def _pins_of(operation: str) -> list[str]:
    return [name for name, entry in PINNED.items() if entry.operation == operation]


@pytest.fixture
def rife_models(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The installed model store holding the pinned RIFE weights."""
    return _installed_store(monkeypatch, _pins_of("interpolate"), "RIFE weights")


@pytest.fixture
def analysis_models(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The installed model store holding the U2-Netp and HED weights."""
    return _installed_store(monkeypatch, ["u2netp", "hed-bsds500"], "weights")


@pytest.fixture
def upscale_models(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The installed model store holding the Real-ESRGAN weights."""
    return _installed_store(monkeypatch, _pins_of("upscale"), "weights")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`; a missing folder fails the test, since CI always lays it beside the repo."""
    if not (SHARED_DATA / "exr").is_dir():
        pytest.fail(f"shared sample data not found at {SHARED_DATA}: lay ../shared beside the repo")
    return SHARED_DATA


# --- the EXR sample corpus -------------------------------------------------------------------------------------------
# Parametrisation needs the file lists at collection time, before fixtures exist; tests still take `exr_root`,
# which goes through `shared_data`, so a missing folder fails them rather than collecting nothing.
EXR_ROOT = SHARED_DATA / "exr"
# Files outside Damaged/ that are broken all the same.
BROKEN_VARIANTS = ("compression-variants/invalid.exr", "compression-variants/tiled.exr")


def damaged_exr_names() -> list[str]:
    """Every damaged sample, relative to `exr/`: the fuzzed corpus and the broken variants."""
    damaged = EXR_ROOT / "Damaged"
    names = sorted(f"Damaged/{p.name}" for p in damaged.iterdir() if p.suffix != ".rst") if damaged.is_dir() else []
    return names + list(BROKEN_VARIANTS)


def good_exr_names() -> list[str]:
    """Every readable sample, relative to `exr/`."""
    if not EXR_ROOT.is_dir():
        return []
    return sorted(
        str(p.relative_to(EXR_ROOT))
        for p in EXR_ROOT.rglob("*.exr")
        if "Damaged" not in p.parts and str(p.relative_to(EXR_ROOT)) not in BROKEN_VARIANTS
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `damaged_exr` or `good_exr` runs once per sample of that kind."""
    if "damaged_exr" in metafunc.fixturenames:
        metafunc.parametrize("damaged_exr", damaged_exr_names())
    if "good_exr" in metafunc.fixturenames:
        metafunc.parametrize("good_exr", good_exr_names())


@pytest.fixture(scope="session")
def exr_root(shared_data: Path) -> Path:
    return shared_data / "exr"


@pytest.fixture(scope="session")
def exr_corpus(exr_root: Path) -> tuple[list[str], list[str]]:
    """(damaged, good) sample names, for tests about the corpus itself."""
    return damaged_exr_names(), good_exr_names()
