"""Randomly initialised Wan / LTX-Video pipelines written in diffusers layout, in place of real weights.

The build and test machines cannot reach a model hub, so tests, demos and GPU benchmarks use these: the same
classes, configs and directory layout as the published checkpoints, with random weights and a tiny word-level
tokenizer built here. `size="tiny"` runs in seconds on a CPU (2 layers, a few channels; 16-32 pixels, 9-17 frames);
`size="real"` uses the published dimensions (Wan2.1 T2V/VACE 1.3B, Wan2.1 FLF2V 14B, LTX-Video 2B) for timing and
memory measurements only: its output is noise. The text encoders of "real" builds are the full UMT5-XXL / T5-XXL
encoders, so a real build needs tens of GB of RAM and disk; weights are written in bf16 to halve that. Real builds
carry a SentencePiece tokenizer (`sentencepiece_tokenizer`), as the published folders do.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from dreamplate.errors import ModelError

log = logging.getLogger(__name__)

KINDS = ("wan-t2v", "wan-i2v", "wan-vace", "ltx")
SIZES = ("tiny", "real")
RANDOM_MARKER = "dreamplate_random.json"
"""Written beside model_index.json so `models list` can say "random weights"."""

_WORDS_TEXT = (
    "a the of and in on with at light dark night day sun moon sky sea water fire smoke rain snow fog warm cold "
    "blue red green orange gold white black soft hard golden hour sunset sunrise shot camera slow fast car man "
    "woman street city forest mountain beach room window lamp neon cinematic film grain"
)
_WORDS = _WORDS_TEXT.split()


def component_configs(kind: str, size: str) -> dict[str, dict[str, Any]]:
    """The constructor arguments of each component of `kind` at `size` (what `build_random_model` instantiates)."""
    _check(kind, size)
    tiny = size == "tiny"
    if kind == "ltx":
        text = (
            {"d_model": 32, "d_ff": 37, "d_kv": 8, "num_layers": 2, "num_heads": 4, "vocab_size": 0}
            if tiny
            else {"d_model": 4096, "d_ff": 10240, "d_kv": 64, "num_layers": 24, "num_heads": 64, "vocab_size": 32128}
        )
        text |= {"feed_forward_proj": "gated-gelu", "is_encoder_decoder": False}
        if tiny:
            transformer = {
                "in_channels": 8, "out_channels": 8, "patch_size": 1, "patch_size_t": 1, "num_attention_heads": 4,
                "attention_head_dim": 8, "cross_attention_dim": 32, "num_layers": 2, "caption_channels": 32,
            }  # fmt: skip
            vae = {
                "in_channels": 3, "out_channels": 3, "latent_channels": 8, "block_out_channels": (8, 8, 8, 8),
                "decoder_block_out_channels": (8, 8, 8, 8), "layers_per_block": (1, 1, 1, 1, 1),
                "decoder_layers_per_block": (1, 1, 1, 1, 1), "spatio_temporal_scaling": (True, True, False, False),
                "decoder_spatio_temporal_scaling": (True, True, False, False),
                "decoder_inject_noise": (False, False, False, False, False),
                "upsample_residual": (False, False, False, False), "upsample_factor": (1, 1, 1, 1),
                "timestep_conditioning": False, "patch_size": 1, "patch_size_t": 1,
                "encoder_causal": True, "decoder_causal": False,
            }  # fmt: skip
        else:  # Lightricks/LTX-Video 0.9.x, 2B
            transformer = {
                "in_channels": 128, "out_channels": 128, "patch_size": 1, "patch_size_t": 1,
                "num_attention_heads": 32, "attention_head_dim": 64, "cross_attention_dim": 2048, "num_layers": 28,
                "caption_channels": 4096, "activation_fn": "gelu-approximate", "qk_norm": "rms_norm_across_heads",
            }  # fmt: skip
            vae = {
                "in_channels": 3, "out_channels": 3, "latent_channels": 128,
                "block_out_channels": (128, 256, 512, 512), "decoder_block_out_channels": (256, 512, 1024),
                "layers_per_block": (4, 3, 3, 3, 4), "decoder_layers_per_block": (5, 5, 5, 5),
                "spatio_temporal_scaling": (True, True, True, False),
                "decoder_spatio_temporal_scaling": (True, True, True),
                "decoder_inject_noise": (True, True, True, False), "upsample_residual": (True, True, True),
                "upsample_factor": (2, 2, 2), "timestep_conditioning": True, "patch_size": 4, "patch_size_t": 1,
                "encoder_causal": True, "decoder_causal": False,
            }  # fmt: skip
        return {"text_encoder": text, "transformer": transformer, "vae": vae, "scheduler": {}}

    text = (
        {"d_model": 32, "d_ff": 37, "d_kv": 8, "num_layers": 2, "num_heads": 4, "vocab_size": 0}
        if tiny
        else {"d_model": 4096, "d_ff": 10240, "d_kv": 64, "num_layers": 24, "num_heads": 64, "vocab_size": 256384}
    )
    text |= {"feed_forward_proj": "gated-gelu", "is_encoder_decoder": False}
    vae = (
        {"base_dim": 3, "z_dim": 16, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1}
        if tiny
        else {"base_dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2}
    )
    vae |= {"temperal_downsample": [False, True, True]}
    if tiny:
        transformer: dict[str, Any] = {
            "num_attention_heads": 2, "attention_head_dim": 12, "text_dim": 32, "freq_dim": 256, "ffn_dim": 32,
            "num_layers": 2, "rope_max_seq_len": 32,
        }  # fmt: skip
    elif kind == "wan-i2v":  # Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers
        transformer = {
            "num_attention_heads": 40, "attention_head_dim": 128, "text_dim": 4096, "freq_dim": 256,
            "ffn_dim": 13824, "num_layers": 40, "rope_max_seq_len": 1024,
        }  # fmt: skip
    else:  # Wan2.1 T2V / VACE 1.3B
        transformer = {
            "num_attention_heads": 12, "attention_head_dim": 128, "text_dim": 4096, "freq_dim": 256,
            "ffn_dim": 8960, "num_layers": 30, "rope_max_seq_len": 1024,
        }  # fmt: skip
    transformer |= {
        "patch_size": (1, 2, 2), "in_channels": 16, "out_channels": 16, "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads", "eps": 1e-6,
    }  # fmt: skip
    scheduler = {"shift": 3.0 if tiny else 5.0}
    configs: dict[str, dict[str, Any]] = {"text_encoder": text, "vae": vae, "scheduler": scheduler}
    if kind == "wan-i2v":
        # Image-to-video: noise + mask + first/last-frame latents in, CLIP image tokens of both frames in cross-attn.
        transformer |= {"in_channels": 36}
        if tiny:
            # FLF2V: the CLIP tokens of first and last frame side by side, 2 x (16 patches + class token).
            transformer |= {"image_dim": 4, "added_kv_proj_dim": 24, "pos_embed_seq_len": 2 * 17}
            configs["image_encoder"] = {
                "hidden_size": 4, "projection_dim": 4, "num_hidden_layers": 2, "num_attention_heads": 2,
                "image_size": 16, "intermediate_size": 16, "patch_size": 4,
            }  # fmt: skip
            configs["image_processor"] = {"crop_size": 16, "size": {"shortest_edge": 16}}
        else:
            transformer |= {"image_dim": 1280, "added_kv_proj_dim": 5120, "pos_embed_seq_len": 257 * 2}
            configs["image_encoder"] = {
                "hidden_size": 1280, "projection_dim": 1024, "num_hidden_layers": 32, "num_attention_heads": 16,
                "image_size": 224, "intermediate_size": 5120, "patch_size": 14, "hidden_act": "gelu",
            }  # fmt: skip
            configs["image_processor"] = {"crop_size": 224, "size": {"shortest_edge": 224}}
    if kind == "wan-vace":
        transformer |= (
            {"num_layers": 3, "vace_layers": [0, 2], "vace_in_channels": 96}
            if tiny
            else {"vace_layers": [0, 5, 10, 15, 20, 25], "vace_in_channels": 96}
        )
    configs["transformer"] = transformer
    return configs


def build_random_model(family: str, kind: str, dest: Path, size: str = "tiny", seed: int = 0) -> Path:
    """Write a randomly initialised `kind` pipeline ("wan-t2v", "wan-i2v", "wan-vace", "ltx") to `dest`.

    `family` is "wan" or "ltx" and must match `kind`. The result loads with `from_pretrained(dest,
    local_files_only=True)`, safetensors only. Returns `dest`.
    """
    _check(kind, size)
    if not kind.startswith(family):
        raise ModelError(f"random model: kind {kind!r} is not of family {family!r}")
    import torch

    dest = Path(dest)
    configs = component_configs(kind, size)
    dtype = torch.float32 if size == "tiny" else torch.bfloat16
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        pipe = _instantiate(kind, configs, seed)
    finally:
        torch.set_default_dtype(previous)
    dest.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(dest, safe_serialization=True)
    if size == "real":  # the published layout keeps the SentencePiece model beside tokenizer.json
        (dest / "tokenizer" / "spiece.model").write_bytes(sentencepiece_model())
    _readable_per_umask(dest)
    marker = {"kind": kind, "size": size, "seed": seed, "note": "random weights: output is noise"}
    (dest / RANDOM_MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    log.info("random %s %s model written to %s", size, kind, dest)
    return dest


def tiny_tokenizer() -> Any:
    """A word-level T5-style tokenizer (pad 0, eos 1, unk 2) built locally: no hub, no sentencepiece file."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for word in _WORDS:
        vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def sentencepiece_model() -> bytes:
    """A SentencePiece unigram model (`spiece.model` bytes) trained here on `_WORDS_TEXT`, with T5's and UMT5's
    special ids (pad 0, eos 1, unk 2, no bos). Offline and deterministic, well under a second."""
    import io

    import sentencepiece

    model = io.BytesIO()
    sentences = [" ".join(_WORDS[i:] + _WORDS[:i]) for i in range(len(_WORDS))]
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, vocab_size=160, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, num_threads=1, minloglevel=2,
    )  # fmt: skip
    return model.getvalue()


def sentencepiece_tokenizer() -> Any:
    """The T5 tokenizer of the real-size builds: converted from `sentencepiece_model()` through sentencepiece, as a
    published folder's `spiece.model` is, so the real builds tokenise prompts the way the published models do and
    not with the tiny word-level tokenizer."""
    import tempfile

    from transformers import T5Tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "spiece.model").write_bytes(sentencepiece_model())
        return T5Tokenizer.from_pretrained(tmp, extra_ids=0, legacy=False, model_max_length=512)


def _readable_per_umask(folder: Path) -> None:
    """Give every file under `folder` the mode a new file gets (0666 less the umask), as any other file written.

    The weights are written through temporary files (mode 0600), which a render server running as another user
    cannot read.
    """
    import os

    umask = os.umask(0)
    os.umask(umask)
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o666 & ~umask)


def _check(kind: str, size: str) -> None:
    if kind not in KINDS:
        raise ModelError(f"random model: unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if size not in SIZES:
        raise ModelError(f"random model: unknown size {size!r}; choose one of {', '.join(SIZES)}")


def _instantiate(kind: str, configs: dict[str, dict[str, Any]], seed: int) -> Any:
    """Construct the pipeline object with every component seeded, so the same seed gives the same weights."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    tokenizer = tiny_tokenizer() if configs["text_encoder"]["vocab_size"] == 0 else sentencepiece_tokenizer()
    text_cfg = dict(configs["text_encoder"])
    if not text_cfg["vocab_size"]:
        text_cfg["vocab_size"] = len(tokenizer)
    torch.manual_seed(seed)
    scheduler = FlowMatchEulerDiscreteScheduler(**configs["scheduler"])
    if kind == "ltx":
        from diffusers import AutoencoderKLLTXVideo, LTXConditionPipeline, LTXVideoTransformer3DModel
        from transformers import T5Config, T5EncoderModel

        text_encoder = T5EncoderModel(T5Config(**text_cfg))
        torch.manual_seed(seed + 1)
        transformer = LTXVideoTransformer3DModel(**configs["transformer"])
        torch.manual_seed(seed + 2)
        vae = AutoencoderKLLTXVideo(**configs["vae"])
        return LTXConditionPipeline(
            scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer
        )

    from diffusers import AutoencoderKLWan
    from transformers import UMT5Config, UMT5EncoderModel

    text_encoder = UMT5EncoderModel(UMT5Config(**text_cfg))
    torch.manual_seed(seed + 2)
    vae = AutoencoderKLWan(**configs["vae"])
    torch.manual_seed(seed + 1)
    common = {"tokenizer": tokenizer, "text_encoder": text_encoder, "vae": vae, "scheduler": scheduler}
    if kind == "wan-vace":
        from diffusers import WanVACEPipeline, WanVACETransformer3DModel

        return WanVACEPipeline(transformer=WanVACETransformer3DModel(**configs["transformer"]), **common)
    from diffusers import WanTransformer3DModel

    transformer = WanTransformer3DModel(**configs["transformer"])
    if kind == "wan-t2v":
        from diffusers import WanPipeline

        return WanPipeline(transformer=transformer, **common)
    from diffusers import WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(seed + 3)
    image_encoder = CLIPVisionModel(CLIPVisionConfig(**configs["image_encoder"]))
    image_processor = CLIPImageProcessor(**configs["image_processor"])
    return WanImageToVideoPipeline(
        transformer=transformer, image_encoder=image_encoder, image_processor=image_processor, **common
    )
