"""Cost of dreamplate's EXR wrapper over the raw OpenEXR binding, on a synthetic 2K RGBA half frame.

dreamplate's side includes what the wrapper adds on top of the codec: float32 <-> half conversion, header
validation, the raw chlist scan, stderr capture and the atomic rename. Target: write+read within 1.2x of raw.
Usage:

    .venv/bin/python benchmarks/bench_exr_io.py [--repeats 9] [--compressions zip piz]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import OpenEXR

from dreamplate.io.exr import ExrImage, read_exr, write_exr

WIDTH, HEIGHT = 2048, 1080
RAW_COMPRESSION = {"zip": OpenEXR.ZIP_COMPRESSION, "piz": OpenEXR.PIZ_COMPRESSION}


def synthetic_frame(seed: int = 7) -> dict[str, np.ndarray]:
    """Float32 RGBA with plate-like structure: smooth HDR gradients, a few hot spots, a little grain."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    sky = 0.18 * np.exp(1.5 * np.sin(x / 311.0) * np.cos(y / 173.0))
    hot = sum(
        40.0 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * 25.0**2))
        for cx, cy in rng.uniform((0, 0), (WIDTH, HEIGHT), (6, 2))
    )
    grain = rng.normal(0.0, 0.01, (3, HEIGHT, WIDTH)).astype(np.float32)
    luma = sky + hot
    rgb = [luma * gain + g for gain, g in zip((1.1, 1.0, 0.8), grain, strict=True)]
    alpha = np.clip((x / WIDTH) * 1.5, 0.0, 1.0)
    return {"R": rgb[0], "G": rgb[1], "B": rgb[2], "A": alpha.astype(np.float32)}


def paired_medians(raw: Callable[[], object], ours: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, run alternately so that load from other processes hits both alike."""
    raw(), ours()  # warm caches and the allocator
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for action, bucket in ((raw, timings[0]), (ours, timings[1])):
            start = time.perf_counter()
            action()
            bucket.append(time.perf_counter() - start)
    return statistics.median(timings[0]), statistics.median(timings[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--compressions", nargs="+", default=["zip", "piz"], choices=sorted(RAW_COMPRESSION))
    args = parser.parse_args()

    frame = synthetic_frame()
    half = {name: pixels.astype(np.float16) for name, pixels in frame.items()}
    image = ExrImage(
        channels=frame,
        pixel_types=dict.fromkeys(frame, "half"),
        data_window=(0, 0, WIDTH - 1, HEIGHT - 1),
        display_window=(0, 0, WIDTH - 1, HEIGHT - 1),
    )
    print(f"{WIDTH}x{HEIGHT} RGBA half, median of {args.repeats} runs (seconds)")
    print(f"{'codec':6} {'step':6} {'raw':>8} {'dreamplate':>11} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        raw_path, ours_path = Path(tmp) / "raw.exr", Path(tmp) / "ours.exr"
        for compression in args.compressions:
            header = {"compression": RAW_COMPRESSION[compression], "type": OpenEXR.scanlineimage}
            raw, ours = {}, {}
            raw["write"], ours["write"] = paired_medians(
                lambda h=header: OpenEXR.File(h, half).write(str(raw_path)),
                lambda c=compression: write_exr(ours_path, image, compression=c),
                args.repeats,
            )
            raw["read"], ours["read"] = paired_medians(
                lambda: OpenEXR.File(str(raw_path), separate_channels=True),
                lambda: read_exr(ours_path),
                args.repeats,
            )
            raw["total"], ours["total"] = raw["write"] + raw["read"], ours["write"] + ours["read"]
            for step in ("write", "read", "total"):
                ratio = ours[step] / raw[step]
                print(f"{compression:6} {step:6} {raw[step]:8.4f} {ours[step]:11.4f} {ratio:6.2f}")
            raw_mib, ours_mib = (p.stat().st_size / 2**20 for p in (raw_path, ours_path))
            print(f"{compression:6} MiB    {raw_mib:8.1f} {ours_mib:11.1f}")


if __name__ == "__main__":
    main()
