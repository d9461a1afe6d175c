"""Peak memory (RSS) while retiming a 10-frame and a 100-frame 2K sequence: it must not grow with length.

Each run is a fresh child process, so its peak RSS is its own. Frames are streamed (at most a few decoded at once),
so both runs should peak at the same figure. Usage:

    .venv/bin/python benchmarks/bench_retime_memory.py [--frames 10 100] [--size 2048x1080] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(plate_dir: Path, count: int, out_dir: Path) -> None:
    """Retime the first `count` frames 2x in this process and print peak RSS (MiB) and seconds."""
    from dreamplate.interp.retime import run_interpolate
    from dreamplate.interp.spec import InterpolateSpec

    start = time.perf_counter()
    spec = InterpolateSpec(
        inputs=[str(plate_dir / "plate.####.exr")],
        output=str(out_dir / "out.####.exr"),
        frames=f"1001-{1000 + count}",
        factor=2,
    )
    result = run_interpolate(spec)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{peak_mib:.1f} {seconds:.2f} {len(result.written)}")


def _make_plate(plate_dir: Path, count: int, size: tuple[int, int]) -> None:
    from dreamplate.color.ocio import load_config, output_attributes
    from dreamplate.demo import render_plate_frame
    from dreamplate.io.exr import ExrImage, write_exr

    tags = output_attributes(load_config(), "ACEScg", {})
    plate_dir.mkdir(parents=True, exist_ok=True)
    window = (0, 0, size[0] - 1, size[1] - 1)
    for index in range(count):
        path = plate_dir / f"plate.{1001 + index:04d}.exr"
        if path.exists():
            continue
        channels = render_plate_frame(index, count, size)
        write_exr(path, ExrImage(channels, dict.fromkeys(channels, "half"), window, window, dict(tags)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--size", default="2048x1080")
    parser.add_argument("--keep", type=Path, help="folder for the plate (kept between runs)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(Path(args.child[0]), int(args.child[1]), Path(args.child[2]))
        return
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        plate = root / "plate"
        _make_plate(plate, max(args.frames), (width, height))
        rows = []
        for count in args.frames:
            out = Path(tmp) / f"out{count}"
            run = subprocess.run(
                [sys.executable, __file__, "--child", str(plate), str(count), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            peak, seconds, written = run.stdout.split()
            rows.append((count, float(peak), float(seconds), int(written)))
    base = rows[0][1]
    print(f"retime 2x at {width}x{height}, half RGBA+Z, flow")
    print(f"{'source frames':>14} {'written':>8} {'peak RSS MiB':>13} {'vs first':>9} {'s/output frame':>15}")
    for count, peak, seconds, written in rows:
        print(f"{count:>14} {written:>8} {peak:>13.1f} {peak / base:>8.2f}x {seconds / written:>15.3f}")


if __name__ == "__main__":
    main()
