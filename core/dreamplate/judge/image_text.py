"""The image-text model behind the prompt score: a local CLIP or SigLIP in transformers layout, found by name.

Registered like the video models, in its own registry file (`judge_models.json` beside `models.json`, so the
video-model listing never meets a folder it cannot load): `dreamplate models add-judge NAME DIR`. A folder holds
`config.json` (model_type `clip` or `siglip`), safetensors weights and a tokenizer. Without one the prompt score is
"not scored" and the other scores carry the weight. `build_random_image_text_model` writes a tiny random one for
tests (`dreamplate models init-random clip DIR`): its scores are noise, only the code path is real.
torch and transformers are imported inside the functions.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dreamplate.errors import ModelError
from dreamplate.runtime.model_cache import cached_model
from dreamplate.userdirs import config_dir

log = logging.getLogger(__name__)

REGISTRY_NAME = "judge_models.json"
KINDS = ("clip", "siglip")
RANDOM_MARKER = "dreamplate_random.json"
PROMPT_FRAMES = 3
"""Frames per candidate shown to the model: first, middle and last."""
_MEAN_STD = {"clip": ((0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758)), "siglip": ((0.5,) * 3, (0.5,) * 3)}


@dataclass(frozen=True)
class ImageTextInfo:
    """A resolved image-text model folder."""

    name: str | None
    path: Path
    kind: str  # clip | siglip
    image_size: int
    random_weights: bool


def registry_path() -> Path:
    return config_dir() / REGISTRY_NAME


def registered_image_text_models() -> dict[str, Path]:
    """Registered names and folders (which may have gone missing since)."""
    from dreamplate.gen.models import read_registry

    return read_registry(registry_path())


def resolve_image_text_model(name_or_dir: str | Path) -> ImageTextInfo:
    """The model registered as `name_or_dir`, or the folder it names; ModelError saying what is wrong otherwise."""
    registry = registered_image_text_models()
    name = str(name_or_dir) if str(name_or_dir) in registry else None
    path = registry[name] if name else Path(name_or_dir).expanduser()
    if not path.is_dir():
        known = ", ".join(registry) or "none registered"
        raise ModelError(f"--judge-model {name_or_dir}: no such model or folder; registered: {known}")
    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        raise ModelError(
            f"{path}: no readable config.json; is it a CLIP / SigLIP folder in transformers layout?"
        ) from None
    kind = str(config.get("model_type", ""))
    if kind not in KINDS:
        raise ModelError(f"{path}: model_type {kind or '(none)'} is not an image-text model; supported: clip, siglip")
    if not any(path.glob("*.safetensors")):
        raise ModelError(f"{path}: no *.safetensors weights; dreamplate loads safetensors only")
    image_size = int(config.get("vision_config", {}).get("image_size", 224))
    return ImageTextInfo(name, path.resolve(), kind, image_size, (path / RANDOM_MARKER).is_file())


def register_image_text_model(name: str, model_dir: Path | str) -> ImageTextInfo:
    """Register `model_dir` under `name` after checking it resolves."""
    from dreamplate.gen.models import check_model_name, write_registry

    check_model_name(name)
    info = resolve_image_text_model(Path(model_dir))
    write_registry(registry_path(), "dreamplate.judge-models/1", name, info.path)
    return ImageTextInfo(name, info.path, info.kind, info.image_size, info.random_weights)


def default_image_text_model(requested: str | None) -> ImageTextInfo | None:
    """The model asked for, else the first registered one, else None (prompt not scored)."""
    if requested:
        return resolve_image_text_model(requested)
    registry = registered_image_text_models()
    return resolve_image_text_model(next(iter(registry))) if registry else None


def _load(path: Path) -> tuple[Any, Any]:
    """(model, tokenizer) on CPU in eval mode, kept in the model cache: a judge run asks once per candidate, and the
    server's memory watch can release it like any other model."""

    def load() -> tuple[Any, Any]:
        from transformers import AutoModel, AutoTokenizer

        try:
            model = AutoModel.from_pretrained(path, use_safetensors=True).eval()
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot load the image-text model ({exc})") from None
        return model, tokenizer

    return cached_model(("image-text", str(path)), load)


def _features(output: Any) -> Any:
    """transformers 4 returns the projected features, 5 a model output holding them as `pooler_output`."""
    return output if hasattr(output, "shape") else output.pooler_output


def prompt_similarity(info: ImageTextInfo, pictures: list[np.ndarray], prompt: str) -> float:
    """Mean cosine of `pictures` (display-referred (H, W, 3) float in [0, 1]) with `prompt`, in [-1, 1]."""
    import cv2
    import torch

    model, tokenizer = _load(info.path)
    mean, std = (np.float32(v) for v in _MEAN_STD[info.kind])
    batch = np.stack(
        [(cv2.resize(p, (info.image_size,) * 2, interpolation=cv2.INTER_AREA) - mean) / std for p in pictures]
    )
    pixels = torch.from_numpy(np.ascontiguousarray(batch.transpose(0, 3, 1, 2), np.float32))
    tokens = tokenizer([prompt], padding="max_length" if info.kind == "siglip" else True, return_tensors="pt")
    with torch.no_grad():
        image = _features(model.get_image_features(pixel_values=pixels))
        text = _features(model.get_text_features(input_ids=tokens["input_ids"]))
    image = torch.nn.functional.normalize(image.float(), dim=-1)
    text = torch.nn.functional.normalize(text.float(), dim=-1)
    return float((image @ text.T).mean())


def display_picture(linear: np.ndarray) -> np.ndarray:
    """Scene-linear (H, W, 3) -> sRGB-encoded [0, 1], as image-text models and contact sheets expect pictures.

    A preview encoding (the sRGB curve on clipped linear), not a colour-managed view transform.
    """
    clean = np.clip(np.nan_to_num(linear, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0).astype(np.float32)
    return np.where(clean <= 0.0031308, clean * 12.92, 1.055 * clean ** (1 / 2.4) - 0.055).astype(np.float32)


def build_random_image_text_model(kind: str, model_dir: Path | str, seed: int = 0) -> Path:
    """Write a tiny randomly initialised CLIP or SigLIP (transformers layout, safetensors, word-level tokenizer)."""
    if kind not in KINDS:
        raise ModelError(f"image-text kind must be one of {', '.join(KINDS)}, got {kind!r}")
    import torch
    from transformers import CLIPConfig, CLIPModel, SiglipConfig, SiglipModel

    from dreamplate.gen.random_models import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    vocab = len(tokenizer)
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 32,
        "patch_size": 8,
    }
    text = {
        "vocab_size": vocab,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "max_position_embeddings": 64,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.pad_token_id,
    }
    torch.manual_seed(seed)
    if kind == "clip":
        model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16))
    else:
        model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.model_max_length = 64
    tokenizer.save_pretrained(path)
    (path / RANDOM_MARKER).write_text(json.dumps({"kind": kind, "size": "tiny", "seed": seed}) + "\n")
    log.info("random %s image-text model written to %s", kind, path)
    return path
