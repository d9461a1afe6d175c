"""Tiny randomly initialised Wan / LTX-Video models, built once per session (seconds), and an isolated home."""

from pathlib import Path

import pytest

from dreamplate.gen.random_models import build_random_model


@pytest.fixture(autouse=True)
def _dreamplate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own model registry and weights-hash cache, never the user's."""
    home = tmp_path / "dreamplate_home"
    monkeypatch.setenv("DREAMPLATE_HOME", str(home))
    return home


def _build(factory: pytest.TempPathFactory, kind: str) -> Path:
    import torch

    torch.set_num_threads(2)
    return build_random_model(kind.split("-")[0], kind, factory.mktemp(kind) / "model", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_wan_t2v(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """WanPipeline dir (Wan2.1 T2V layout): serves "v2v" through WanVideoToVideoPipeline; 16-px multiples, 4k+1."""
    return _build(tmp_path_factory, "wan-t2v")


@pytest.fixture(scope="session")
def tiny_wan_i2v(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """WanImageToVideoPipeline dir (Wan2.1 FLF2V layout, CLIP image encoder): serves "flf2v" with `last_image`."""
    return _build(tmp_path_factory, "wan-i2v")


@pytest.fixture(scope="session")
def tiny_wan_vace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """WanVACEPipeline dir (Wan2.1 VACE layout): serves "control", "flf2v" and "keyframes" (video + mask)."""
    return _build(tmp_path_factory, "wan-vace")


@pytest.fixture(scope="session")
def tiny_ltx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LTXConditionPipeline dir (LTX-Video layout): "v2v", "flf2v", "keyframes"; 32-px multiples, 4k+1 (tiny VAE)."""
    return _build(tmp_path_factory, "ltx")
