"""Quality, speed and memory of the `learned` in-between method, side by side with its baselines.

    .venv/bin/python benchmarks/bench_learned.py                 # quality table + speed table
    .venv/bin/python benchmarks/bench_learned.py --memory        # also peak RSS of 2K and 4K in-betweens

Quality runs the public path (`LearnedEstimator` + `interpolate_learned`, the sRGB frames serving as the motion
signal and the pixels, as the papers score) for each pinned model, with and without test-time augmentation, next to
the `flow` method; the published RIFE HDv3 figures (34.83 dB middlebury_others, 34.73 dB ucf101) are the bar.
Speed times one in-between (network + warp) at 960x540 and 2048x1080 on 2 threads, torch eager against ONNX Runtime
in the same run. GPU providers are used where the installed onnxruntime offers them (see the printed provider).
Needs the weights: `dreamplate models pull rife`. This times the networks alone; the default in-between (the net fused
with the flow method, `interp/fusion.py`) is measured against each alone by `bench_retime_quality.py`.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from common import DEFAULT_DATA, evaluate, read_rgb, triplets  # noqa: E402

from dreamplate.interp.flow import estimate_flow, interpolate_frame  # noqa: E402
from dreamplate.interp.rife import LearnedEstimator, choose_scale, interpolate_learned  # noqa: E402
from dreamplate.runtime.weights import DEFAULT_LEARNED  # noqa: E402

THREADS = 2
PUBLISHED_HDV3 = {"middlebury_others": 34.83, "ucf101": 34.73}


def learned(model: str, runtime: str = "onnx", tta: bool = False, scale="auto"):
    estimator = LearnedEstimator(model, runtime=runtime, scale=scale, tta=tta, threads=THREADS)

    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return interpolate_learned(estimator.estimate(a, b, 0.5), a, b)

    run.provider = estimator.provider
    return run


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return interpolate_frame(estimate_flow(a, b, threads=THREADS), a, b, 0.5)


def quality(data_dir: Path, sets: list[str]) -> None:
    methods = {
        "rife-v4": learned("rife-v4"),
        "rife-v4 tta": learned("rife-v4", tta=True),
        "rife-hdv3": learned("rife-hdv3"),
        "rife-hdv3 tta": learned("rife-hdv3", tta=True),
        "flow": flow,
    }
    print(f"{'set':<20} {'method':<14} {'PSNR dB':>8} {'SSIM':>7} {'s/frame':>8} {'vs HDv3 published':>19}")
    for set_name in sets:
        data = list(triplets(data_dir, set_name))
        for label, method in methods.items():
            p, s, sec = evaluate(method, data)
            bar = PUBLISHED_HDV3[set_name]
            print(f"{set_name:<20} {label:<14} {p:8.2f} {s:7.4f} {sec:8.3f} {p - bar:+17.2f} dB")


def frame_pair(width: int, height: int, data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    scene = data_dir / "interp" / "middlebury_others" / "input" / "Urban2"
    return tuple(
        cv2.resize(read_rgb(scene / name), (width, height), interpolation=cv2.INTER_CUBIC)
        for name in ("frame10.png", "frame11.png")
    )


def best_of(method, a: np.ndarray, b: np.ndarray, repeats: int) -> float:
    method(a, b)  # warm-up: session start, allocations, thread pools
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        method(a, b)
        times.append(time.perf_counter() - start)
    return min(times)


def interleaved_best(methods: list, a: np.ndarray, b: np.ndarray, repeats: int) -> list[float]:
    """Best-of seconds per method, the methods taking turns, so a busy spell on the machine hits them alike."""
    for method in methods:
        method(a, b)  # warm-up: session start, allocations, thread pools
    times: list[list[float]] = [[] for _ in methods]
    for _ in range(repeats):
        for method, spent in zip(methods, times, strict=True):
            start = time.perf_counter()
            method(a, b)
            spent.append(time.perf_counter() - start)
    return [min(spent) for spent in times]


def speed(data_dir: Path, repeats: int) -> None:
    print(f"\nseconds per in-between (network + warp), {THREADS} threads, best of {repeats}, runtimes taking turns")
    print(f"{'size':<10} {'model':<10} {'torch eager':>12} {'onnxruntime':>12} {'torch/ort':>10}  provider")
    for width, height in ((960, 540), (2048, 1080)):
        a, b = frame_pair(width, height, data_dir)
        for model in ("rife-hdv3", "rife-v4"):
            ort = learned(model, runtime="onnx")
            torch_s, ort_s = interleaved_best([learned(model, runtime="torch"), ort], a, b, repeats)
            ratio = torch_s / ort_s
            print(f"{width}x{height:<5} {model:<10} {torch_s:12.3f} {ort_s:12.3f} {ratio:9.2f}x  {ort.provider}")


def gpu_speed(data_dir: Path, repeats: int) -> None:
    """Network-only frames per second at 1920x1088 on each GPU provider the installed onnxruntime offers.

    CUDA runs the fp16 graph; TensorRT runs the fp32 graph with its own fp16 engines (built once, cached). The
    published anchor is RIFE 4.x at 1080p fp16: about 54 fps with ONNX Runtime CUDA, 71 fps with TensorRT, RTX 3090.
    """
    import onnxruntime

    from dreamplate.interp.rife import ensure_onnx
    from dreamplate.runtime.onnx import make_session
    from dreamplate.runtime.weights import pinned

    offered = [
        p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider") if p in onnxruntime.get_available_providers()
    ]
    print("\nGPU: network-only fps at 1920x1088, batch 1")
    if not offered:
        print(f"onnxruntime {onnxruntime.__version__} offers no GPU provider here: GPU figures still to be taken")
        return
    a, b = (np.ascontiguousarray(x.transpose(2, 0, 1)[None]) for x in frame_pair(1920, 1088, data_dir))
    for model in ("rife-hdv3", "rife-v4"):
        for provider in offered:
            path = ensure_onnx(pinned(model), fp16=provider == "CUDAExecutionProvider")
            session = make_session(path, providers=(provider,), cache_dir=path.parent / "trt-cache")
            seconds = best_of(lambda x, y, s=session: s.run(x, y, 0.5), a, b, max(repeats, 10))
            print(f"{model:<10} {session.provider:<28} {1.0 / seconds:8.1f} fps  ({path.name})")


def memory(data_dir: Path) -> None:
    """Peak RSS of one learned in-between per plate size, each in a fresh process (auto scale)."""
    print(f"\npeak RSS of one learned in-between ({DEFAULT_LEARNED}, onnx, --scale auto), fresh process each")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent at fork, VmHWM starts anew with exec.
    child = (
        "import sys, json, re; sys.path.insert(0, 'benchmarks'); sys.path.insert(0, 'core');"
        "from bench_learned import learned, frame_pair; from pathlib import Path;"
        "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1));"
        "w, h = int(sys.argv[1]), int(sys.argv[2]); a, b = frame_pair(w, h, Path(sys.argv[3]));"
        f"base = hwm(); learned('{DEFAULT_LEARNED}')(a, b); print(json.dumps([base, hwm()]))"
    )
    root = Path(__file__).resolve().parents[1]
    for width, height in ((2048, 1080), (4096, 2160)):
        out = subprocess.run(
            [sys.executable, "-c", child, str(width), str(height), str(data_dir)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        before, peak = json.loads(out.stdout.strip().splitlines()[-1])
        scale = choose_scale(width, height)
        print(f"{width}x{height} (scale {scale}): peak RSS {peak / 2**20:.2f} GB (inputs: {before / 2**20:.2f} GB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["middlebury_others", "ucf101"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--memory", action="store_true", help="also peak RSS at 2K and 4K")
    parser.add_argument("--gpu", action="store_true", help="also fps on each GPU provider (CUDA fp16, TensorRT)")
    args = parser.parse_args()
    cv2.setNumThreads(THREADS)
    if not args.no_quality:
        quality(args.data, args.sets)
    if not args.no_speed:
        speed(args.data, args.repeats)
    if args.gpu:
        gpu_speed(args.data, args.repeats)
    if args.memory:
        memory(args.data)


if __name__ == "__main__":
    main()
