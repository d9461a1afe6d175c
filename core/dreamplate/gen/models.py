"""Generative models on disk: what a diffusers-layout directory holds, the name registry, and pulling from a hub.

Standard library only at import (hosts and the CLI list models without torch). A model is a local directory in
diffusers layout (`model_index.json` plus one folder per component), safetensors only. Registered names live in
`models.json` in `$DREAMPLATE_HOME` or the user config dir. Weights hashes are cached by path, size and mtime in
`$DREAMPLATE_HOME/cache` or the user cache dir, so a 30 GB model is hashed once, not on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dreamplate.errors import ModelError
from dreamplate.io.atomic import atomic_path
from dreamplate.runtime.weights import model_dirs, sha256_file
from dreamplate.userdirs import cache_dir, config_dir

log = logging.getLogger(__name__)

REGISTRY_NAME = "models.json"
HASH_CACHE_NAME = "weights_sha256.json"
RANDOM_MARKER = "dreamplate_random.json"  # written by dreamplate.gen.random_models
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
PULL_PATTERNS = [f"{d}*.{ext}" for d in ("", "**/") for ext in ("json", "txt", "model", "safetensors")]
"""What `pull_model` fetches: configs, tokenizer files (sentencepiece `.model`) and safetensors; never pickles."""


@dataclass(frozen=True)
class _ClassInfo:
    family: str
    capabilities: frozenset[str]
    hub_repo: str


# By pipeline class (model_index.json `_class_name`): the family, what dreamplate can do with it, and the hub repo
# of the published checkpoints of that class. A correspondence by class, not a claim that a directory is that repo.
SUPPORTED: dict[str, _ClassInfo] = {
    "WanPipeline": _ClassInfo("wan", frozenset({"v2v"}), "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"),
    "WanVideoToVideoPipeline": _ClassInfo("wan", frozenset({"v2v"}), "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"),
    "WanImageToVideoPipeline": _ClassInfo("wan", frozenset({"flf2v"}), "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"),
    "WanVACEPipeline": _ClassInfo(
        "wan", frozenset({"control", "flf2v", "keyframes"}), "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
    ),
    "LTXPipeline": _ClassInfo("ltx", frozenset({"v2v", "flf2v", "keyframes"}), "Lightricks/LTX-Video"),
    "LTXImageToVideoPipeline": _ClassInfo("ltx", frozenset({"v2v", "flf2v", "keyframes"}), "Lightricks/LTX-Video"),
    "LTXConditionPipeline": _ClassInfo("ltx", frozenset({"v2v", "flf2v", "keyframes"}), "Lightricks/LTX-Video"),
}

# What the families are trained at; frames per call = k * temporal_multiple + 1.
_FAMILY_DEFAULTS = {"wan": {"window": 81, "size": (832, 480)}, "ltx": {"window": 121, "size": (768, 512)}}
_TINY_DEFAULTS = {"window": 9, "size": (32, 32)}


@dataclass(frozen=True)
class ModelInfo:
    """One resolved model directory. Sizes are pixels (w, h); `default_window` is frames per pipeline call."""

    name: str | None
    path: Path
    family: str  # "wan" | "ltx"
    pipeline_class: str
    capabilities: frozenset[str]
    weights_sha256: str
    size_bytes: int
    spatial_multiple: int  # width and height must be multiples of this
    temporal_multiple: int  # frame counts must be k * temporal_multiple + 1
    default_window: int
    default_size: tuple[int, int]
    hub_repo: str  # the hub repo family this class corresponds to (by class, not identity)
    random_weights: bool = False  # built by dreamplate.gen.random_models: output is noise

    def valid_frames(self, frames: int) -> bool:
        """Whether `frames` is a frame count the model accepts (k * temporal_multiple + 1)."""
        return frames >= 1 and (frames - 1) % self.temporal_multiple == 0


# --- resolving ---------------------------------------------------------------------------------------------------


def resolve_model(name_or_dir: str | Path) -> ModelInfo:
    """The model registered as `name_or_dir`, or the diffusers-layout directory it names; ModelError otherwise."""
    registry = registered_models()
    name: str | None = None
    if isinstance(name_or_dir, str) and name_or_dir in registry:
        name, path = name_or_dir, registry[name_or_dir]
    else:
        path = Path(name_or_dir).expanduser()
    if not path.is_dir():
        known = ", ".join(sorted(registry)) or "none registered"
        what = f"registered model {name} points to a missing directory {path}" if name else f"{path}: no such directory"
        raise ModelError(f"{what}; registered models: {known} (dreamplate models add NAME DIR)")
    path = path.resolve()
    index = _read_json(path / "model_index.json", f"{path}: no model_index.json; is it a diffusers-layout model?")
    class_name = str(index.get("_class_name", ""))
    entry = SUPPORTED.get(class_name)
    if entry is None:
        raise ModelError(
            f"{path}: pipeline class {class_name or '(none)'} is not supported; supported: {', '.join(SUPPORTED)}"
        )
    for component, spec in index.items():
        if component.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[0] is None:
            continue
        if not (path / component).is_dir():
            raise ModelError(f"{path}: component folder {component}/ is missing (listed in model_index.json)")
    safetensors = sorted(path.rglob("*.safetensors"))
    pickles = sorted(p for p in path.rglob("*") if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if not safetensors:
        found = f" (found {pickles[0].relative_to(path)})" if pickles else ""
        raise ModelError(f"{path}: no *.safetensors weights{found}; dreamplate loads safetensors only")
    for component in ("transformer", "vae", "text_encoder"):
        if (path / component).is_dir() and not any((path / component).glob("*.safetensors")):
            raise ModelError(f"{path}: {component}/ has no *.safetensors weights; dreamplate loads safetensors only")
    family = entry.family
    spatial, temporal = _compression(path, family)
    marker = path / RANDOM_MARKER
    random_info = _read_json(marker, "") if marker.is_file() else None
    defaults = _TINY_DEFAULTS if random_info and random_info.get("size") == "tiny" else _FAMILY_DEFAULTS[family]
    return ModelInfo(
        name=name,
        path=path,
        family=family,
        pipeline_class=class_name,
        capabilities=entry.capabilities,
        weights_sha256=weights_sha256(path),
        size_bytes=sum(p.stat().st_size for p in path.rglob("*") if p.is_file()),
        spatial_multiple=spatial,
        temporal_multiple=temporal,
        default_window=int(defaults["window"]),
        default_size=tuple(defaults["size"]),  # type: ignore[arg-type]
        hub_repo=entry.hub_repo,
        random_weights=random_info is not None,
    )


def scheduler_name(model_dir: Path) -> str:
    """The scheduler class a model directory declares (model_index.json), read without loading the pipeline."""
    try:
        entry = json.loads((Path(model_dir) / "model_index.json").read_text()).get("scheduler")
    except (OSError, ValueError):
        return ""
    return str(entry[1]) if isinstance(entry, list) and len(entry) == 2 else ""


def _compression(path: Path, family: str) -> tuple[int, int]:
    """(spatial multiple, temporal multiple) from the VAE and transformer configs; the family's rule if absent."""
    vae_file, tfm_file = path / "vae" / "config.json", path / "transformer" / "config.json"
    vae = _read_json(vae_file, "") if vae_file.is_file() else {}
    tfm = _read_json(tfm_file, "") if tfm_file.is_file() else {}
    if family == "wan":
        down = vae.get("temperal_downsample", [False, True, True])
        patch = tfm.get("patch_size", [1, 2, 2])
        return 2 ** len(down) * int(patch[1]), 2 ** sum(bool(d) for d in down)
    scaling = vae.get("spatio_temporal_scaling", [True, True, True, False])
    ups = 2 ** sum(bool(s) for s in scaling)
    spatial = int(vae.get("patch_size", 4)) * ups * int(tfm.get("patch_size", 1))
    # LTXConditionPipeline checks height/width % 32 whatever the VAE's ratio is.
    return max(32, spatial), int(vae.get("patch_size_t", 1)) * ups * int(tfm.get("patch_size_t", 1))


def _read_json(path: Path, missing: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(missing or f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data


# --- weights hash ------------------------------------------------------------------------------------------------


def weights_sha256(model_dir: Path) -> str:
    """sha256 over `relative/path.safetensors  <file sha256>` lines of every safetensors file, sorted by path.

    Per-file hashes are cached by absolute path, size and mtime (ns), so only changed files are read again.
    """
    model_dir = Path(model_dir).resolve()
    cache_path = cache_dir() / HASH_CACHE_NAME
    try:
        cache: dict[str, Any] = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    changed = False
    digest = hashlib.sha256()
    for file in sorted(model_dir.rglob("*.safetensors"), key=lambda p: p.relative_to(model_dir).as_posix()):
        stat = file.stat()
        key = str(file)
        entry = cache.get(key)
        if isinstance(entry, dict) and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            file_hash = str(entry["sha256"])
        else:
            log.info("hashing %s (%.1f MiB)", file, stat.st_size / 2**20)
            file_hash = sha256_file(file)
            cache[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": file_hash}
            changed = True
        digest.update(f"{file.relative_to(model_dir).as_posix()}  {file_hash}\n".encode())
    if changed:
        try:
            _write_json(cache_path, cache)
        except (OSError, ModelError) as exc:  # a cache we cannot write costs time, not correctness
            log.warning("weights hash cache %s not written: %s", cache_path, exc)
    return digest.hexdigest()


# --- registry ----------------------------------------------------------------------------------------------------


def registry_path() -> Path:
    """The JSON file of registered model names."""
    return config_dir() / REGISTRY_NAME


def registered_models() -> dict[str, Path]:
    """Registered names and their directories (which may have gone missing since)."""
    return read_registry(registry_path())


def read_registry(path: Path) -> dict[str, Path]:
    """The names and folders a registry file holds (video models here, image-text models for the judge)."""
    if not path.is_file():
        return {}
    models = _read_json(path, "").get("models", {})
    return {str(k): Path(v) for k, v in sorted(models.items())} if isinstance(models, dict) else {}


def check_model_name(name: str) -> None:
    """ModelError unless `name` can be a registered name (no path separators, spaces or leading dot)."""
    if not name or any(c in name for c in "/\\ ") or name.startswith("."):
        raise ModelError(f"model name {name!r}: use letters, digits, '-', '_' or '.', no slashes or spaces")


def write_registry(path: Path, schema: str, name: str, folder: Path | None) -> None:
    """Set `name` -> `folder` in a registry file (None removes it), written atomically."""
    models = {k: str(v) for k, v in read_registry(path).items()}
    if folder is None:
        models.pop(name, None)
    else:
        models[name] = str(folder)
    _write_json(path, {"schema": schema, "models": models})


def register_model(name: str, model_dir: Path | str) -> ModelInfo:
    """Register `model_dir` under `name` after checking it resolves; returns its ModelInfo."""
    check_model_name(name)
    info = resolve_model(Path(model_dir))
    write_registry(registry_path(), "dreamplate.models/1", name, info.path)
    log.info("model %s registered: %s (%s)", name, info.path, info.pipeline_class)
    return ModelInfo(**{**info.__dict__, "name": name})


def unregister_model(name: str) -> None:
    """Forget a registered name (its files are not touched); ModelError if it is not registered."""
    models = registered_models()
    if name not in models:
        raise ModelError(f"model {name!r}: not registered; registered models: {', '.join(models) or 'none'}")
    write_registry(registry_path(), "dreamplate.models/1", name, None)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


# --- pulling -----------------------------------------------------------------------------------------------------


def pull_model(name: str, repo_id: str, dest: Path | None = None) -> ModelInfo:
    """Download `repo_id` (safetensors, configs, tokenizer files) with huggingface_hub and register it as `name`.

    Offline (`HF_HUB_OFFLINE`) or without huggingface_hub: ModelError saying how to install a copied folder instead.
    """
    offline_fix = f"copy the model folder here and run: dreamplate models add {name} DIR"
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise ModelError(f"model {name}: cannot download {repo_id}: HF_HUB_OFFLINE is set; {offline_fix}")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError:
        why = "huggingface_hub is not installed"
        raise ModelError(f"model {name}: cannot download {repo_id}: {why}; {offline_fix}") from None
    target = Path(dest) if dest is not None else model_dirs()[0] / "gen" / repo_id.replace("/", "--")
    try:
        snapshot_download(repo_id=repo_id, local_dir=target, allow_patterns=PULL_PATTERNS)
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"model {name}: cannot download {repo_id} ({first}); {offline_fix}") from None
    return register_model(name, target)
