"""Quality and speed of the `flow` in-between method against plain OpenCV DIS warping.

Plain DIS is the reference the issue quotes (34.17 dB middlebury_others, 33.44 dB ucf101): DIS `medium`
on luma both ways, each frame backward-warped to t with the other direction's flow read at the target
pixel, then averaged. This reproduces those figures to within 0.05 dB (`ultrafast` and `fast` land
0.5-0.8 dB lower).

    .venv/bin/python benchmarks/bench_interp_quality.py --sets middlebury_others ucf101 --hard

`--hard` adds variants that stand in for footage harder than the shared sets: a pan added (the first frame
cropped one way, the last the other, the middle in between: +2k px across the pair, partly new picture at
the borders) and an exposure change (the last frame 10% darker, the ground truth 5%).
"""

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from common import DEFAULT_DATA, Triplet, evaluate, read_rgb, triplets, with_pan  # noqa: E402

from dreamplate.interp.flow import estimate_flow, interpolate_frame  # noqa: E402

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]
THREADS = 2


def plain_dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The baseline middle frame: DIS medium both ways, backward warp with half the flow, average."""
    gray_a, gray_b = (cv2.cvtColor(np.rint(x * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY) for x in (a, b))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward = dis.calc(gray_a, gray_b, None)
    backward = dis.calc(gray_b, gray_a, None)
    h, w = gray_a.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))

    def warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
        return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return 0.5 * warp(a, 0.5 * backward) + 0.5 * warp(b, 0.5 * forward)


def ours(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The `flow` method through its public API, the sRGB image serving as motion signal and pixels."""
    return interpolate_frame(estimate_flow(a, b, threads=THREADS), a, b, 0.5)


def dimmed(data: list[Triplet]) -> list[Triplet]:
    """The triplets with the last frame 10% darker: the middle frame is then 5% darker."""
    return [(name, a, gt * np.float32(0.95), b * np.float32(0.9)) for name, a, gt, b in data]


def hard_variants(set_name: str, data: list[Triplet]) -> list[tuple[str, list[Triplet]]]:
    """Named harder variants of one set: a pan added (`common.with_pan`) and an exposure change."""
    return [with_pan(set_name, data), (f"{set_name}+dim10", dimmed(data))]


def report(name: str, data: list[Triplet]) -> None:
    """Print ours and plain DIS on one set, and their ratio."""
    flow_scores = evaluate(ours, data)
    dis_scores = evaluate(plain_dis, data)
    for label, (p, s, sec) in (("flow", flow_scores), ("plain DIS", dis_scores)):
        print(f"{name:<24} {label:<10} {p:8.2f} {s:7.4f} {sec:8.3f}")
    print(
        f"{name:<24} {'ours/DIS':<10} {flow_scores[0] / dis_scores[0]:8.4f} "
        f"{flow_scores[1] / dis_scores[1]:7.4f} {flow_scores[2] / dis_scores[2]:8.2f}"
        f"   ({flow_scores[0] - dis_scores[0]:+.2f} dB, n={len(data)})"
    )


def timing_960(data_dir: Path, repeats: int = 3) -> tuple[float, float]:
    """Best-of seconds per 960x540 in-between (flow estimation + one synthesis): ours, plain DIS."""
    scene = data_dir / "interp" / "middlebury_others" / "input" / "Urban2"
    a, b = (
        cv2.resize(read_rgb(scene / name), (960, 540), interpolation=cv2.INTER_CUBIC)
        for name in ("frame10.png", "frame11.png")
    )
    best = []
    for method in (ours, plain_dis):
        method(a, b)  # warm-up: first calls pay for allocation and thread start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            method(a, b)
            times.append(time.perf_counter() - start)
        best.append(min(times))
    return best[0], best[1]


def main() -> None:
    """Print the quality table per set and the 960x540 timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["middlebury_others", "ucf101"])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--hard", action="store_true", help="also score panned and exposure-changed variants")
    args = parser.parse_args()
    cv2.setNumThreads(THREADS)

    print(f"{'set':<24} {'method':<10} {'PSNR dB':>8} {'SSIM':>7} {'s/frame':>8}")
    sets = {name: list(triplets(args.data, name)) for name in args.sets}
    for name, data in sets.items():
        report(name, data)
    if args.hard:
        print("harder variants (stand-ins for footage with more motion and exposure change):")
        for set_name, data in sets.items():
            for name, variant in hard_variants(set_name, data):
                report(name, variant)
    ours_s, dis_s = timing_960(args.data)
    print(f"960x540, {THREADS} threads: flow {ours_s:.3f} s/frame, plain DIS {dis_s:.3f} s/frame")


if __name__ == "__main__":
    main()
