"""Motion blur, motion vectors and matte-separated retimes, side by side with their baselines, in one run.

    .venv/bin/python benchmarks/bench_motion_blur.py [--method flow|learned|auto] [--size 480x270]

The plate is synthetic so that every figure has an exact answer: a textured subject carrying a 4x4 px highlight of
50.0 (scene-linear) crosses a textured background that pans (tests/moving_plates.py), 5 frames, retimed 2x slower.

1. Motion blur (`--shutter 180`): each output frame against a reference made by averaging 64 finely interpolated sub-
   frames (64 in-betweens made one by one through a retime map, not through the shutter code), and against the exact
   blur (64 true sub-frames, known analytically). PSNR on a Reinhard view x / (1 + x) of the scene-linear pixels, so
   highlights count without swamping the rest; highlight energy kept (sum over 1.0, against the sharp frame's);
   seconds per output frame. Baselines: no blur at all, and a cross-fade "blur" (the shutter's source frames averaged
   without motion).
2. Vectors (`dreamplate vectors`): frame A warped by frame B's written `backward` vectors onto B (Nuke's reading of
   them), its error against B next to the error of the same warp by the flow's own raw B->A field (DIS, float, before
   the occlusion handling gives covered and uncovered pixels their background's motion), and both fields' end-point
   error against the true motion.
3. Matte retime (`--matte`): in-between PSNR against the exact frames, plain retime against matte-separated, and
   the error in a band around the subject where a dragged background shows; seconds per in-between. Once with a hard
   matte and once feathered (FEATHER), whose edge pixels hold both layers.
Machine figures are printed with the settings used; nothing is asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from common import psnr  # noqa: E402
from moving_plates import layers_at, write_moving_plate  # noqa: E402

from dreamplate.interp.retime import run_interpolate, run_vectors  # noqa: E402
from dreamplate.interp.spec import InterpolateSpec  # noqa: E402
from dreamplate.interp.vectors import VectorsSpec, rows_down  # noqa: E402
from dreamplate.io.exr import read_exr  # noqa: E402

FRAMES = 5
REFERENCE_SAMPLES = 64
SHUTTER = 180.0
BOX = 48  # the subject's side, px


def _view(rgb: np.ndarray) -> np.ndarray:
    """Scene-linear to [0, 1] for PSNR: Reinhard's x / (1 + x); a highlight of 50 reads 0.98, grey 0.18 reads 0.15."""
    rgb = np.maximum(rgb, 0.0)
    return rgb / (1.0 + rgb)


def _rgb(path: Path) -> np.ndarray:
    channels = read_exr(path).channels
    return np.dstack([channels[n] for n in ("R", "G", "B")]).astype(np.float32)


def _retime(plate: str, out: Path, method: str, **settings) -> tuple[list[np.ndarray], float]:
    """factor 2; the RGB of every output frame and the seconds per output frame (originals included)."""
    spec = InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), factor=2, method=method, **settings)
    count = 2 * FRAMES - 1
    start = time.perf_counter()
    run_interpolate(spec)
    seconds = (time.perf_counter() - start) / count
    return [_rgb(out / f"o.{f:04d}.exr") for f in range(1, count + 1)], seconds


def _shutter_times(source: float) -> list[float]:
    """64 sub-frame times (source frames from the first, 0-based) over the centred 180-degree shutter at half speed."""
    length = 0.5 * SHUTTER / 360.0
    times = [source - length / 2 + length * (k + 0.5) / REFERENCE_SAMPLES for k in range(REFERENCE_SAMPLES)]
    return [min(max(t, 0.0), FRAMES - 1.0) for t in times]


def _fine_reference(plate: str, out: Path, method: str, count: int) -> tuple[list[np.ndarray], float]:
    """Each output frame as the mean of 64 in-betweens, each made on its own at its sub-frame time (a retime map),
    independent of the shutter code; seconds per output frame."""
    lines = []
    for index in range(count):
        for k, t in enumerate(_shutter_times(0.5 * index)):
            lines.append(f"{index * REFERENCE_SAMPLES + k + 1} {1.0 + t!r}")
    (out / "map.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "map.txt").write_text("\n".join(lines) + "\n")
    spec = InterpolateSpec(inputs=[plate], output=str(out / "f.####.exr"), retime=str(out / "map.txt"), method=method)
    start = time.perf_counter()
    run_interpolate(spec)
    seconds = (time.perf_counter() - start) / count
    frames = []
    for index in range(count):
        subs = [_rgb(out / f"f.{index * REFERENCE_SAMPLES + k + 1:04d}.exr") for k in range(REFERENCE_SAMPLES)]
        frames.append(np.mean(subs, axis=0, dtype=np.float64).astype(np.float32))
    return frames, seconds


def _energy(rgb: np.ndarray) -> float:
    return float(np.clip(rgb[..., 0] - 1.0, 0.0, None).sum())


def _exact_blur(source: float, size, subject, pan) -> np.ndarray:
    """The true exposure of output frame at `source`: 64 exact sub-frames over the centred 180-degree shutter."""
    return np.mean([layers_at(t, size, subject, pan, BOX)[0] for t in _shutter_times(source)], axis=0)


def _cross_fade(source: float, size, subject, pan) -> np.ndarray:
    """The blur a frame blend gives: the shutter's source frames averaged, each weighted by time, with no motion."""
    frames = {f: layers_at(float(f), size, subject, pan, BOX)[0] for f in range(FRAMES)}
    total = np.zeros_like(frames[0])
    for t in _shutter_times(source):
        a = int(np.floor(t)) if t < FRAMES - 1 else FRAMES - 2
        w = t - a
        total += (1.0 - w) * frames[a] + w * frames[a + 1]
    return total / REFERENCE_SAMPLES


def motion_blur(folder: Path, method: str, size, subject, pan) -> None:
    plate, _ = write_moving_plate(folder / "in", range(1, FRAMES + 1), size, subject, pan, BOX)
    _retime(plate, folder / "warm-up", method)  # loads the network (learned) once, outside every timing
    sharp, sharp_s = _retime(plate, folder / "sharp", method)
    reference, ref_s = _fine_reference(plate, folder / "ref", method, len(sharp))
    sources = [0.5 * i for i in range(len(sharp))]
    exact = [_exact_blur(s, size, subject, pan) for s in sources]
    fades = [_cross_fade(s, size, subject, pan) for s in sources]
    print(f"\n1. motion blur, shutter {SHUTTER:g} centred, {size[0]}x{size[1]}, {len(sharp)} output frames ({method})")
    print(f"   {'variant':<26} {'PSNR vs 64 interp':>18} {'PSNR vs exact':>14} {'energy kept':>12} {'s/frame':>8}")

    def row(name: str, frames: list[np.ndarray], seconds: float | None) -> None:
        vs_ref = np.mean([psnr(_view(f), _view(r)) for f, r in zip(frames, reference, strict=True)])
        vs_exact = np.mean([psnr(_view(f), _view(e)) for f, e in zip(frames, exact, strict=True)])
        kept = np.mean([_energy(f) / _energy(s) for f, s in zip(frames, sharp, strict=True)])
        timing = f"{seconds:8.3f}" if seconds is not None else f"{'-':>8}"
        print(f"   {name:<26} {vs_ref:18.2f} {vs_exact:14.2f} {kept:12.3f} {timing}")

    row("no blur", sharp, sharp_s)
    row("cross-fade (no motion)", fades, None)
    timings = {}
    for samples in (2, 4, 8, 16):
        frames, timings[samples] = _retime(
            plate, folder / f"s{samples}", method, shutter=SHUTTER, shutter_samples=samples
        )
        row(f"--shutter-samples {samples}", frames, timings[samples])
    row(f"reference ({REFERENCE_SAMPLES} in-betweens)", reference, ref_s)
    row("exact blur (truth)", exact, None)
    ratios = ", ".join(f"{n} samples x{timings[n] / sharp_s:.1f}" for n in timings)
    print(f"   seconds per output frame against no blur: {ratios}")


def vectors(folder: Path, method: str, size, subject, pan) -> None:
    from dreamplate.interp.flow import estimate_flow
    from dreamplate.interp.retime import linear_motion_signal

    plate, _ = write_moving_plate(folder / "vin", range(1, FRAMES + 1), size, subject, pan, BOX)
    start = time.perf_counter()
    run_vectors(VectorsSpec(inputs=[plate], output=str(folder / "v" / "v.####.exr"), method=method))
    seconds = (time.perf_counter() - start) / FRAMES
    grid = np.dstack(np.meshgrid(np.arange(size[0]), np.arange(size[1]))).astype(np.float32)
    written_err, own_err, epe = [], [], []
    for frame in range(2, FRAMES + 1):
        a = _rgb(folder / "vin" / f"plate.{frame - 1:04d}.exr")
        b = _rgb(folder / "vin" / f"plate.{frame:04d}.exr")
        channels = read_exr(folder / "v" / f"v.{frame:04d}.exr").channels
        written = rows_down(channels["backward.u"].astype(np.float32), channels["backward.v"].astype(np.float32))
        signal = [linear_motion_signal(x) for x in (a, b)]
        own = estimate_flow(signal[0], signal[1]).backward  # B -> A, float, rows down

        inner = (slice(16, -16), slice(16, -16))
        for errors, move in ((written_err, written), (own_err, own)):
            warped = cv2.remap(a, grid + move, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            errors.append(float(np.abs(_view(warped) - _view(b))[inner].mean()))
        _, matte = layers_at(frame - 1.0, size, subject, pan, BOX)
        truth = np.where(matte[..., None] > 0.5, -np.float32(subject), -np.float32(pan))
        epe.append([float(np.linalg.norm(m - truth, axis=-1)[inner].mean()) for m in (written, own)])
    print(f"\n2. vectors ({method}), frame A warped by frame B's written backward vectors onto B, {size[0]}x{size[1]}")
    print(f"   mean |warp - B|, Reinhard view: written {np.mean(written_err):.5f}, flow's own {np.mean(own_err):.5f}")
    epe_written, epe_own = np.mean(epe, axis=0)
    print(f"   end-point error against the true motion: written {epe_written:.3f} px, flow's own {epe_own:.3f} px")
    print(f"   {seconds:.3f} s per frame (the written ones give occluded pixels their background's motion)")


FEATHER = 3.0
"""The soft-edged matte's feather (Gaussian sigma, px): a feathered roto, whose edge pixels mix both layers."""


def matte(folder: Path, method: str, size, subject, pan) -> None:
    print(f"\n3. matte retime ({method}), subject {subject[0]:g} px/frame over a {pan[0]:g} px/frame pan")
    print(f"   {'variant':<24} {'PSNR':>7} {'band err':>9} {'s/in-between':>13}")
    for feather in (0.0, FEATHER):
        kind = f"feathered {feather:g} px" if feather else "hard"
        plate, matte_pattern = write_moving_plate(
            folder / f"min{feather:g}", range(1, FRAMES + 1), size, subject, pan, BOX, feather
        )
        for name, settings in (("plain", {}), ("--matte", {"matte": matte_pattern})):
            frames, seconds = _retime(plate, folder / f"m{name}{feather:g}", method, **settings)
            scores, bands = [], []
            for index in range(1, len(frames), 2):
                truth, cover = layers_at(index / 2.0, size, subject, pan, BOX, feather)
                band = (cv2.dilate((cover > 0.01).astype(np.uint8), np.ones((25, 25), np.uint8)) > 0) & (cover < 0.5)
                scores.append(psnr(_view(frames[index]), _view(truth)))
                bands.append(float(np.abs(_view(frames[index]) - _view(truth))[band].mean()))
            per_inbetween = seconds * (2 * FRAMES - 1) / (FRAMES - 1)  # the originals pass through for nothing
            label = f"{name}, {kind}" if name == "plain" else f"{name} ({kind})"
            print(f"   {label:<24} {np.mean(scores):7.2f} {np.mean(bands):9.5f} {per_inbetween:13.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="flow", choices=("flow", "learned", "auto"))
    parser.add_argument("--size", default="480x270")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    size, subject, pan = (width, height), (16.0, 0.0), (-6.0, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        motion_blur(folder, args.method, size, subject, pan)
        vectors(folder, args.method, size, subject, pan)
        matte(folder, args.method, size, subject, pan)


if __name__ == "__main__":
    main()
