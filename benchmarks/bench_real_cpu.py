"""Opt-in: a real-size random Wan2.1 T2V model (1.3B transformer, full UMT5-XXL, 14 GB) loaded and run once on the CPU.

    .venv/bin/python benchmarks/bench_real_cpu.py --model-dir /tmp/wan-real      # builds it there first if missing

Prints load time, prompt-encoding time, seconds per denoising step (guidance 5: two transformer passes per step), the
VAE and the whole call, and the process's peak resident memory, for a 5-frame video-to-video call at a 48x32 model
size: the path `dreamplate relight --device cpu` takes (`load_pipeline`: bf16 text encoder on the CPU, memory checked
before loading). Needs about 16 GB of free RAM and 14 GB of disk; check `free -g` first. Random weights: the pictures
are noise, the timings and memory are the real model's.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="where the real-size model is (built if missing)")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--size", default="48x32", help="model frame size WxH")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args()

    import logging

    import numpy as np
    import torch
    from PIL import Image

    from dreamplate.gen.models import resolve_model
    from dreamplate.gen.pipelines import load_pipeline, make_generator
    from dreamplate.gen.random_models import build_random_model

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    width, height = (int(v) for v in args.size.split("x"))
    if not (args.model_dir / "model_index.json").is_file():
        started = time.perf_counter()
        build_random_model("wan", "wan-t2v", args.model_dir, size="real")
        print(f"build: {time.perf_counter() - started:.0f} s")
    info = resolve_model(args.model_dir)  # hashes the weights once (cached by size and mtime)

    started = time.perf_counter()
    pipe = load_pipeline(info, "v2v", device="cpu")
    load_s = time.perf_counter() - started
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

    started = time.perf_counter()
    with torch.inference_mode():
        pipe.encode_prompt("warm golden light", negative_prompt="", device="cpu", max_sequence_length=512)
    text_s = time.perf_counter() - started

    stamps: list[float] = []

    def on_step(_pipe: object, _step: int, _t: object, _tensors: dict) -> dict:
        stamps.append(time.perf_counter())
        return {}

    rng = np.random.default_rng(0)
    video = [Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)) for _ in range(args.frames)]
    started = time.perf_counter()
    with torch.inference_mode():
        pipe(
            video=video, prompt="warm golden light", strength=1.0, num_inference_steps=args.steps, guidance_scale=5.0,
            height=height, width=width, generator=make_generator(7), output_type="np", callback_on_step_end=on_step,
        )  # fmt: skip
    call_s = time.perf_counter() - started
    steps = np.diff(stamps) if len(stamps) > 1 else np.array([])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"model: {info.path} ({info.size_bytes / 2**30:.1f} GiB on disk), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"load: {load_s:.1f} s (peak RSS after load {rss_loaded:.1f} GiB)")
    print(f"prompt encoding (prompt + negative, UMT5-XXL bf16): {text_s:.1f} s")
    step_s = f"{float(np.median(steps)):.1f} s" if steps.size else "n/a (one step)"
    print(f"call ({args.frames} frames at {width}x{height}, {args.steps} steps, CFG): {call_s:.1f} s; s/step {step_s}")
    print(f"peak RSS: {peak:.1f} GiB")


if __name__ == "__main__":
    main()
