"""Model directories, the registry, the weights hash cache, refusals and the CLI's models commands."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dreamplate.cli import app
from dreamplate.errors import ModelError
from dreamplate.gen.models import (
    register_model,
    registered_models,
    resolve_model,
    unregister_model,
    weights_sha256,
)
from dreamplate.gen.random_models import component_configs


def test_resolve_tiny_models(tiny_wan_t2v: Path, tiny_wan_i2v: Path, tiny_wan_vace: Path, tiny_ltx: Path) -> None:
    t2v, i2v, vace, ltx = (resolve_model(str(p)) for p in (tiny_wan_t2v, tiny_wan_i2v, tiny_wan_vace, tiny_ltx))
    assert (t2v.family, t2v.pipeline_class, t2v.capabilities) == ("wan", "WanPipeline", {"v2v"})
    assert (i2v.pipeline_class, i2v.capabilities) == ("WanImageToVideoPipeline", {"flf2v"})
    assert vace.capabilities == {"control", "flf2v", "keyframes"}
    assert (ltx.family, ltx.capabilities) == ("ltx", {"v2v", "flf2v", "keyframes"})
    assert (t2v.spatial_multiple, t2v.temporal_multiple) == (16, 4)
    assert (ltx.spatial_multiple, ltx.temporal_multiple) == (32, 4)  # the tiny VAE compresses time 4x
    assert t2v.hub_repo == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers" and vace.hub_repo == "Wan-AI/Wan2.1-VACE-1.3B-diffusers"
    assert ltx.hub_repo == "Lightricks/LTX-Video" and i2v.hub_repo == "Wan-AI/Wan2.1-FLF2V-14B-720P-diffusers"
    assert all(info.random_weights and info.default_window == 9 for info in (t2v, i2v, vace, ltx))
    assert t2v.valid_frames(9) and not t2v.valid_frames(10)
    assert len(t2v.weights_sha256) == 64 and t2v.size_bytes > 100_000


def test_registry_add_list_remove(tiny_ltx: Path, _dreamplate_home: Path) -> None:
    assert registered_models() == {}
    info = register_model("ltx-tiny", tiny_ltx)
    assert info.name == "ltx-tiny"
    assert registered_models() == {"ltx-tiny": tiny_ltx.resolve()}
    assert json.loads((_dreamplate_home / "models.json").read_text())["models"] == {"ltx-tiny": str(tiny_ltx)}
    assert resolve_model("ltx-tiny").name == "ltx-tiny"
    unregister_model("ltx-tiny")
    assert registered_models() == {}
    with pytest.raises(ModelError, match="'ltx-tiny': not registered"):
        unregister_model("ltx-tiny")


def test_hash_is_cached_and_follows_file_changes(tiny_wan_t2v: Path, tmp_path: Path, _dreamplate_home: Path) -> None:
    model = shutil.copytree(tiny_wan_t2v, tmp_path / "copy")
    first = weights_sha256(model)
    cache = json.loads((_dreamplate_home / "cache" / "weights_sha256.json").read_text())
    assert len(cache) == 3  # text encoder, transformer, vae
    weights = model / "vae" / "diffusion_pytorch_model.safetensors"
    # A cached entry is trusted while size and mtime match: poisoning it shows the file was not read again.
    cache[str(weights.resolve())]["sha256"] = "0" * 64
    (_dreamplate_home / "cache" / "weights_sha256.json").write_text(json.dumps(cache))
    assert weights_sha256(model) != first
    with weights.open("r+b") as handle:  # any real change (size or mtime) is hashed again
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\x01")
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 1_000_000))
    changed = weights_sha256(model)
    assert changed not in (first,) and len(changed) == 64
    assert weights_sha256(tiny_wan_t2v) == first  # the original is untouched


def test_refusals_are_one_line(tiny_wan_t2v: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such directory") as missing:
        resolve_model(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no model_index.json"):
        resolve_model(str(tmp_path / "empty"))
    unknown = shutil.copytree(tiny_wan_t2v, tmp_path / "unknown")
    index = json.loads((unknown / "model_index.json").read_text())
    (unknown / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionPipeline"}))
    with pytest.raises(ModelError, match="StableDiffusionPipeline is not supported; supported: WanPipeline") as cls:
        resolve_model(str(unknown))
    pickled = shutil.copytree(tiny_wan_t2v, tmp_path / "pickled")
    for file in pickled.rglob("*.safetensors"):
        file.rename(file.with_suffix(".bin"))
    with pytest.raises(ModelError, match="safetensors only") as pickles:
        resolve_model(str(pickled))
    gone = shutil.copytree(tiny_wan_t2v, tmp_path / "gone")
    shutil.rmtree(gone / "vae")
    with pytest.raises(ModelError, match="component folder vae/ is missing") as component:
        resolve_model(str(gone))
    for info in (missing, cls, pickles, component):
        assert "\n" not in str(info.value)


def test_cli_models_add_list_remove_init_random(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["models", "init-random", "wan-vace", str(tmp_path / "vace")])
    assert made.exit_code == 0, made.output
    added = runner.invoke(app, ["models", "add", "vace", str(tmp_path / "vace")])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert "vace: wan WanVACEPipeline (random weights" in listed.output
    assert "can do: control, flf2v, keyframes" in listed.output and "weights sha256" in listed.output
    assert runner.invoke(app, ["models", "remove", "vace"]).exit_code == 0
    assert runner.invoke(app, ["models", "remove", "vace"]).exit_code == 1
    bad = runner.invoke(app, ["models", "init-random", "sdxl", str(tmp_path / "x")])
    assert bad.exit_code == 1 and "unknown kind 'sdxl'" in bad.output


def test_pull_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = CliRunner().invoke(app, ["models", "pull", "wan", "--repo", "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"])
    assert result.exit_code == 1
    assert "HF_HUB_OFFLINE is set; copy the model folder here and run: dreamplate models add wan DIR" in result.output


def test_import_models_stays_light() -> None:
    code = "import sys, dreamplate.gen.models; print(sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("kind", "low", "high"), [("wan-t2v", 1.25e9, 1.5e9), ("ltx", 1.8e9, 2.1e9)])
def test_real_configs_have_published_sizes(kind: str, low: float, high: float) -> None:
    """The "real" transformer configs build (on the meta device: no memory) at the published parameter counts."""
    import torch
    from diffusers import LTXVideoTransformer3DModel, WanTransformer3DModel

    cls = WanTransformer3DModel if kind.startswith("wan") else LTXVideoTransformer3DModel
    with torch.device("meta"):
        model = cls(**component_configs(kind, "real")["transformer"])
    count = sum(p.numel() for p in model.parameters())
    assert low < count < high, f"{kind}: {count / 1e9:.3f}e9 parameters"
