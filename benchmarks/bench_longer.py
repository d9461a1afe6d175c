"""Longer shots on tiny random models: colour drift of chained extensions, loop seams, keyframe shots in windows.

    .venv/bin/python benchmarks/bench_longer.py                       # CPU, tiny random Wan VACE and LTX-Video
    .venv/bin/python benchmarks/bench_longer.py --device cuda --json out.json

Random weights make noise, so these figures measure the code paths (conditioning, windows, anchoring, blending),
never picture quality; real-model figures are still to be taken (no weights here). Colour is compared as the model
sees it (the video model space, clipped to [0, 1]): scene-linear means are ruled by a plate's few highlights.

1. Colour drift: a static plate (every frame the same picture) extended by 1, 3 and 6 windows, `--anchor plate`
   beside `--anchor off` in the same run. For the frames the last window made against the plate's last frames:
   mean drift (the mean over channels of |mean_last - mean_plate|) and chroma drift (the largest |change| of a
   channel's mean relative to the mean over channels: tint). Twice: with the random model, and with a stand-in
   "drifting model" that copies its last conditioning frame and tints it (R x1.06, B x0.94) every window, the
   build-up the open models show, so what the anchoring removes is visible.
2. Loop seam: a moving plate looped with the default bridge; the seam ratio is the mean |last - first| over the
   median mean |frame - next| of the looped shot (1.0: the seam is like any other cut). Beside it the entry ratio,
   the same for the cut from the plate's last frame into the bridge: both ends are conditioned alike, so the seam
   should be no worse than the entry (with random weights both are a cut from picture to noise); the plate's own
   last-to-first cut without a bridge; and a still looped over 20 frames.
3. Keyframe shots of three windows (keys at 0, 8, 16, 24 of 25 frames, 9-frame tiny windows): keys bit-exact, and
   the boundary jump ratio: the largest step into or out of a shared key (1009, 1017) over the median step of the
   shot; beside it the same shot in one 25-frame window (`--window 25`), where those keys sit inside the window.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from plates import write_plate  # noqa: E402

from dreamplate.color.model_space import video_model_space  # noqa: E402
from dreamplate.demo import render_plate_frame  # noqa: E402
from dreamplate.gen import extend as extend_module  # noqa: E402
from dreamplate.gen.extend import run_extend  # noqa: E402
from dreamplate.gen.extend_spec import ExtendSpec, LoopSpec  # noqa: E402
from dreamplate.gen.keyframes import run_keyframes  # noqa: E402
from dreamplate.gen.loop import run_loop  # noqa: E402
from dreamplate.gen.random_models import build_random_model  # noqa: E402
from dreamplate.gen.spec import KeyframesSpec  # noqa: E402
from dreamplate.gen.windows import plan_chain  # noqa: E402
from dreamplate.io.exr import read_exr  # noqa: E402

KINDS = ("wan-vace", "ltx")
SIZE = (48, 32)
WINDOW = 9  # the tiny models' default window
CONTEXT = {"wan-vace": 2, "ltx": 1}  # the families' default context at that window (overlap 2; LTX k*4+1)
PLATE_FRAMES = 5
WINDOW_COUNTS = (1, 3, 6)
TINT = (1.06, 1.0, 0.94)
BANNER = "random weights: code paths only, the pictures are noise"


def encoded(path: Path) -> np.ndarray:
    """A written frame's colour as the model sees it: (H, W, 3) in [0, 1]."""
    image = read_exr(path)
    rgb = np.stack([image.channels[c].astype(np.float32) for c in "RGB"], axis=-1)
    return np.clip(video_model_space().encode(rgb), 0.0, 1.0)


def drift(made: list[np.ndarray], plate: list[np.ndarray]) -> tuple[float, float]:
    """(mean drift, chroma drift) of frames `made` against frames `plate`, per the module docstring."""
    a = np.mean([f.mean(axis=(0, 1)) for f in made], axis=0)
    b = np.mean([f.mean(axis=(0, 1)) for f in plate], axis=0)
    return float(np.abs(a - b).mean()), float(np.abs((a - a.mean()) - (b - b.mean())).max())


def step(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


@contextlib.contextmanager
def drifting_model() -> Iterator[None]:
    """extend's pipeline call replaced by one that tints its last conditioning frame (VACE arguments)."""

    def fake(pipe: Any, kwargs: dict[str, Any], what: str, cancelled: Any = None, on_step: Any = None) -> np.ndarray:
        if "video" in kwargs:
            kept = [
                np.asarray(v) for v, m in zip(kwargs["video"], kwargs["mask"], strict=True) if not np.asarray(m).any()
            ]
            last = kept[-1]
        else:  # LTX: its conditions, the last one given
            condition = kwargs["conditions"][-1]
            last = np.asarray(condition.image if condition.image is not None else condition.video[-1])
        made = np.clip(last.astype(np.float32) / 255.0 * np.float32(TINT), 0.0, 1.0)
        return np.stack([made] * kwargs["num_frames"])

    real = extend_module.call_pipeline
    extend_module.call_pipeline = fake
    try:
        yield
    finally:
        extend_module.call_pipeline = real


def colour_drift(root: Path, models: dict[str, Path], device: str, steps: int) -> list[dict[str, Any]]:
    still = render_plate_frame(0, PLATE_FRAMES, SIZE)
    frames = range(1001, 1001 + PLATE_FRAMES)
    plate = write_plate(root / "static", frames, SIZE, dict.fromkeys(frames, still))
    plate_last = [encoded(root / "static" / f"plate.{f}.exr") for f in frames][-2:]
    rows = []
    print(f"\n1. colour drift on a static plate ({BANNER})")
    print(f"{'model':<24} {'windows':>7} {'anchor':>7} {'mean drift':>11} {'chroma drift':>13} {'s':>6}")
    for model_name in ("random", "drifting stand-in"):
        for kind, model in models.items():
            context = CONTEXT[kind]
            for count in WINDOW_COUNTS:
                after = count * (WINDOW - context)
                windows = plan_chain(context + after, WINDOW, context, 4)
                assert len(windows) == count, (kind, count, len(windows))
                last = windows[-1]
                first_made = max(last.start, windows[-2].stop if count > 1 else context)
                made_numbers = [1000 + PLATE_FRAMES + i - context + 1 for i in range(first_made, last.stop)]
                figures = {}
                for anchor in ("plate", "off"):
                    out = root / f"drift_{model_name[:5]}_{kind}_{count}_{anchor}"
                    spec = ExtendSpec(
                        inputs=[plate], output=str(out / "o.####.exr"), after=after, anchor=anchor, model=str(model),
                        prompt="the same", steps=steps, device=device,
                    )  # fmt: skip
                    started = time.perf_counter()
                    with drifting_model() if model_name != "random" else contextlib.nullcontext():
                        run_extend(spec)
                    seconds = time.perf_counter() - started
                    made = [encoded(out / f"o.{f}.exr") for f in made_numbers]
                    figures[anchor] = drift(made, plate_last)
                    print(
                        f"{model_name + ' ' + kind:<24} {count:>7} {anchor:>7} {figures[anchor][0]:>11.4f} "
                        f"{figures[anchor][1]:>13.4f} {seconds:>6.1f}"
                    )
                rows.append({"model": model_name, "kind": kind, "windows": count, **{
                    f"{a}_{m}": figures[a][i] for a in figures for i, m in enumerate(("mean", "chroma"))
                }})  # fmt: skip
    return rows


def loop_seams(root: Path, models: dict[str, Path], device: str, steps: int) -> list[dict[str, Any]]:
    moving = write_plate(root / "moving", range(1, 9), SIZE)
    rows = []
    print(f"\n2. loop seam ratio: mean |last - first| / median consecutive step (1.0: invisible; {BANNER})")
    plate_frames = [encoded(root / "moving" / f"plate.{f:04d}.exr") for f in range(1, 9)]
    cut = step(plate_frames[-1], plate_frames[0]) / statistics.median(
        step(a, b) for a, b in zip(plate_frames, plate_frames[1:], strict=False)
    )
    print(f"{'':<34} {'seam':>8} {'entry':>8}")
    print(f"{'the plate alone, no bridge':<34} {cut:>8.2f}")
    for kind, model in models.items():
        for what in ("plate", "still"):
            out = root / f"loop_{kind}_{what}"
            if what == "plate":
                spec = LoopSpec(inputs=[moving], output=str(out / "o.####.exr"), model=str(model), prompt="surf",
                                steps=steps, device=device)  # fmt: skip
            else:
                still = str(root / "moving" / "plate.0001.exr")
                spec = LoopSpec(inputs=[still], frames="20", output=str(out / "o.####.exr"), model=str(model),
                                prompt="surf", steps=steps, device=device)  # fmt: skip
            result = run_loop(spec)
            shot = [encoded(p) for p in sorted(result.written, key=lambda p: int(p.stem.split(".")[-1]))]
            median = statistics.median(step(a, b) for a, b in zip(shot, shot[1:], strict=False))
            seam = step(shot[-1], shot[0]) / median
            entry = step(shot[7], shot[8]) / median if what == "plate" else float("nan")
            print(f"{kind + ' ' + what + f' ({len(shot)} frames)':<34} {seam:>8.2f} {entry:>8.2f}")
            rows.append({"kind": kind, "input": what, "frames": len(shot), "seam_ratio": seam, "entry_ratio": entry})
    rows.append({"kind": "none", "input": "plate without bridge", "frames": 8, "seam_ratio": cut})
    return rows


def keyframe_windows(root: Path, models: dict[str, Path], device: str, steps: int) -> list[dict[str, Any]]:
    write_plate(root / "keys", range(1, 5), SIZE)
    keys = {1001 + 8 * i: str(root / "keys" / f"plate.{i + 1:04d}.exr") for i in range(4)}
    rows = []
    print(f"\n3. keyframe shots in three windows (keys 1001, 1009, 1017, 1025; {BANNER})")
    print(f"{'model':<10} {'window':>7} {'keys exact':>10} {'boundary jump ratio':>20} {'s':>6}")
    for kind, model in models.items():
        for window in (WINDOW, 25):
            out = root / f"keys_{kind}_{window}"
            spec = KeyframesSpec(keys=keys, output=str(out / "o.####.exr"), model=str(model), prompt="orbit",
                                 steps=steps, device=device, window=window)  # fmt: skip
            started = time.perf_counter()
            run_keyframes(spec)
            seconds = time.perf_counter() - started
            exact = sum(same_bits(Path(key), out / f"o.{frame}.exr") for frame, key in keys.items())
            shot = {f: encoded(out / f"o.{f}.exr") for f in range(1001, 1026)}
            median = statistics.median(step(shot[f], shot[f + 1]) for f in range(1001, 1025))
            boundary = [max(step(shot[k - 1], shot[k]), step(shot[k], shot[k + 1])) for k in (1009, 1017)]
            ratio = max(boundary) / median
            print(f"{kind:<10} {window:>7} {f'{exact}/{len(keys)}':>10} {ratio:>20.2f} {seconds:>6.1f}")
            rows.append(
                {"kind": kind, "window": window, "keys_exact": exact, "keys": len(keys), "boundary_jump_ratio": ratio}
            )
    return rows


def same_bits(a_path: Path, b_path: Path) -> bool:
    """Whether two EXRs hold the same channels with the same half bits."""
    a, b = read_exr(a_path), read_exr(b_path)
    return set(a.channels) == set(b.channels) and all(
        np.array_equal(
            a.channels[c].astype(np.float16).view(np.uint16), b.channels[c].astype(np.float16).view(np.uint16)
        )
        for c in a.channels
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--steps", type=int, default=2, help="denoising steps per window")
    parser.add_argument("--models-dir", type=Path, default=None, help="where the tiny models are built (reused)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory(prefix="bench_longer_") as tmp:
        root = Path(tmp)
        os.environ["DREAMPLATE_HOME"] = str(root / "home")
        models_dir = args.models_dir or root / "models"
        models = {}
        for kind in KINDS:
            path = models_dir / kind
            if not (path / "model_index.json").is_file():
                build_random_model(kind.split("-")[0], kind, path, size="tiny", seed=0)
            models[kind] = path
        print(f"tiny random models {', '.join(KINDS)}, {SIZE[0]}x{SIZE[1]} plates, {args.steps} steps, {args.device}")
        figures = {
            "colour_drift": colour_drift(root, models, args.device, args.steps),
            "loop_seams": loop_seams(root, models, args.device, args.steps),
            "keyframe_windows": keyframe_windows(root, models, args.device, args.steps),
        }
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
