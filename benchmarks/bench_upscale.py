"""Learned upscaling (`dreamplate upscale`'s own path) against bicubic and Lanczos, side by side in one run.

    .venv/bin/python benchmarks/bench_upscale.py           # quality, speed, memory + docs/images/upscale_contact.png
    .venv/bin/python benchmarks/bench_upscale.py --quick   # quality on two pictures of each kind, no memory runs

Quality: shared pictures (scene-linear EXR plates from the OpenEXR samples, and display-referred Middlebury frames),
centre-cropped to 384 x 288 (the ground truth), reduced 2x and 4x by area averaging in their own space (linear for
the plates, sRGB for the frames), then brought back up by each method and compared with the ground truth:
- PSNR and SSIM in display space: 8-bit sRGB of the linear values clipped to [0, 1] (the frames: their own values);
- gradient energy: the mean Sobel magnitude of the result over the ground truth's (1.0: as sharp as the truth;
  bicubic's blur gives less, a perceptual net gives back more);
- PSNR in scene-linear: the linear values themselves, peak the ground truth's maximum, highlights included.
Bicubic and Lanczos resample in the picture's own space, as a comp does (linear plates, display frames). The learned
rows are the operation's path: the video model space in, its inverse out, values over its white from the plate;
"x4plus --white 16" shows the net the video models' space instead of the sRGB curve (the default, white 1).
Speed: seconds per 1920x1080 -> 3840x2160 frame on CPU (2 threads), x4plus extrapolated from the tiles it ran.
Memory: peak RSS of a fresh process upscaling an RGBA frame to 4K and to 8K (tiled: flat in the net).
Needs the weights: `dreamplate models pull realesrgan-x4plus realesr-animevideov3`.
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

from common import DEFAULT_DATA, REPO_ROOT, psnr, read_rgb, ssim  # noqa: E402

from dreamplate.color.model_space import video_model_space  # noqa: E402
from dreamplate.enhance.sr_model import load_upscaler, plan_tiles, upscale_colour  # noqa: E402
from dreamplate.io.exr import read_exr  # noqa: E402

THREADS = 2
SIZE = (384, 288)  # ground truth (width, height): a multiple of 4, one network tile after a 2x reduction
PLATES = ("Desk", "Cannon", "MtTamWest", "StillLife", "Tree", "CandleGlass")
FRAMES = ("Beanbags", "DogDance", "Grove3", "MiniCooper", "Urban2", "Walking")
CONTACT = REPO_ROOT / "docs" / "images" / "upscale_contact.png"


def srgb(linear: np.ndarray) -> np.ndarray:
    """sRGB encoding of linear values clipped to [0, 1]: the display picture."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055).astype(np.float32)


def linear_of(display: np.ndarray) -> np.ndarray:
    x = np.clip(display, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4)).astype(np.float32)


def centre_crop(img: np.ndarray) -> np.ndarray:
    height, width = img.shape[:2]
    y, x = (height - SIZE[1]) // 2, (width - SIZE[0]) // 2
    return np.ascontiguousarray(img[y : y + SIZE[1], x : x + SIZE[0], :3])


def pictures(data: Path, quick: bool) -> list[tuple[str, str, np.ndarray]]:
    """(kind, name, linear ground truth) for the plates and the frames."""
    plates, frames = (PLATES[:2], FRAMES[:2]) if quick else (PLATES, FRAMES)
    out = []
    for name in plates:
        image = read_exr(data / "exr" / "ScanLines" / f"{name}.exr")
        rgb = np.stack([image.channels[c] for c in "RGB"], -1).astype(np.float32)
        out.append(("plate", name, centre_crop(np.nan_to_num(rgb))))
    for name in frames:
        out.append(
            (
                "frame",
                name,
                linear_of(
                    centre_crop(read_rgb(data / "interp" / "middlebury_others" / "gt" / name / "frame10i11.png"))
                ),
            )
        )
    return out


def gradient_energy(display: np.ndarray) -> float:
    grey = display.mean(axis=-1)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(np.hypot(gx, gy)))


def classical(kind: str, small: np.ndarray, scale: int, interpolation: int) -> np.ndarray:
    """Resampled in the picture's own space: linear for a plate, display for a frame; returned linear."""
    size = (small.shape[1] * scale, small.shape[0] * scale)
    if kind == "plate":
        return cv2.resize(small, size, interpolation=interpolation)
    return linear_of(cv2.resize(srgb(small), size, interpolation=interpolation))


def reduce(kind: str, truth: np.ndarray, scale: int) -> np.ndarray:
    size = (truth.shape[1] // scale, truth.shape[0] // scale)
    if kind == "plate":
        return cv2.resize(truth, size, interpolation=cv2.INTER_AREA)
    return linear_of(cv2.resize(srgb(truth), size, interpolation=cv2.INTER_AREA))


def quality(data: Path, quick: bool) -> dict:
    nets = {name: load_upscaler(name, "onnx", THREADS) for name in ("x4plus", "animevideov3")}
    white16 = video_model_space(16.0)
    methods = {
        "bicubic": lambda kind, small, s: classical(kind, small, s, cv2.INTER_CUBIC),
        "lanczos": lambda kind, small, s: classical(kind, small, s, cv2.INTER_LANCZOS4),
        "animevideov3": lambda kind, small, s: upscale_colour(small, s, nets["animevideov3"].run),
        "x4plus": lambda kind, small, s: upscale_colour(small, s, nets["x4plus"].run),
        "x4plus --white 16": lambda kind, small, s: upscale_colour(small, s, nets["x4plus"].run, space=white16),
    }
    rows: dict = {}
    contact: dict = {}
    for kind, name, truth in pictures(data, quick):
        truth_display = srgb(truth)
        for scale in (2, 4):
            small = reduce(kind, truth, scale)
            for method, run in methods.items():
                start = time.perf_counter()
                result = run(kind, small, scale)
                seconds = time.perf_counter() - start
                display = srgb(result)
                figures = {
                    "psnr": psnr(display, truth_display),
                    "ssim": ssim(display, truth_display),
                    "gradient": gradient_energy(display) / gradient_energy(truth_display),
                    "psnr_linear": float(10 * np.log10(truth.max() ** 2 / max(np.mean((result - truth) ** 2), 1e-12))),
                    "seconds": seconds,
                }
                rows.setdefault((kind, scale, method), []).append(figures)
                if name in ("StillLife", "Grove3", PLATES[0], FRAMES[0]) and scale == 4:
                    contact.setdefault(name, {"truth": truth_display})[method] = display
        print(f"  {kind} {name}: done", flush=True)
    print_quality(rows)
    write_contact(contact)
    return {f"{k[0]} x{k[1]} {k[2]}": {m: float(np.mean([r[m] for r in v])) for m in v[0]} for k, v in rows.items()}


def print_quality(rows: dict) -> None:
    print(f"\n{'pictures':<8} {'scale':>5}  {'method':<26} {'PSNR dB':>8} {'SSIM':>6} {'gradient':>8} {'PSNR lin':>9}")
    for (kind, scale, method), values in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        mean = {key: np.mean([v[key] for v in values]) for key in values[0]}
        print(
            f"{kind + 's':<8} {'x' + str(scale):>5}  {method:<26} {mean['psnr']:>8.2f} {mean['ssim']:>6.3f} "
            f"{mean['gradient']:>8.2f} {mean['psnr_linear']:>9.2f}"
        )


def write_contact(contact: dict) -> None:
    """One row per picture: truth, bicubic, Lanczos, animevideov3, x4plus at 4x, a 144 x 144 crop each, 2x enlarged."""
    order = ["truth", "bicubic", "lanczos", "animevideov3", "x4plus"]
    rows = []
    for name, panels in sorted(contact.items()):
        y, x = SIZE[1] // 2 - 72, SIZE[0] // 2 - 72
        tiles = []
        for method in order:
            crop = (np.clip(panels[method][y : y + 144, x : x + 144], 0, 1) * 255).astype(np.uint8)
            crop = cv2.resize(crop, (288, 288), interpolation=cv2.INTER_NEAREST)
            cv2.putText(crop, f"{name} {method}", (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
            tiles.append(crop)
        rows.append(np.concatenate(tiles, axis=1))
    CONTACT.parent.mkdir(parents=True, exist_ok=True)
    sheet = cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(CONTACT), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"\ncontact sheet (4x, crops enlarged 2x with nearest): {CONTACT}")


def speed() -> dict:
    """Seconds per 1920x1080 -> 3840x2160 frame (scale 2, default tiles): animevideov3 whole, x4plus from 2 tiles."""
    rng = np.random.default_rng(0)
    frame = cv2.resize(rng.uniform(0, 2, (135, 240, 3)).astype(np.float32), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    tiles = plan_tiles(1920, 1080, 384, 32)
    out = {}
    print(
        f"\nspeed: 1920x1080 -> 3840x2160, {THREADS} threads, {len(tiles)} tiles of {tiles[0].box[2]}x{tiles[0].box[3]}"
    )
    for name in ("animevideov3", "x4plus"):
        net = load_upscaler(name, "onnx", THREADS)
        x0, y0, x1, y1 = tiles[0].box
        net.run(np.clip(frame[y0:y1, x0:x1], 0, 1))  # warm
        if name == "animevideov3":
            start = time.perf_counter()
            upscale_colour(frame, 2, net.run)
            seconds = time.perf_counter() - start
            how = "whole frame"
        else:
            start = time.perf_counter()
            for t in tiles[:2]:
                x0, y0, x1, y1 = t.box
                net.run(np.clip(frame[y0:y1, x0:x1], 0, 1))
            seconds = (time.perf_counter() - start) / 2 * len(tiles)
            how = "2 tiles timed, x tile count"
        print(f"  {name:<13} {seconds:8.1f} s per frame ({how}), {net.runtime}")
        out[name] = seconds
    return out


def seams(data: Path) -> dict:
    """Tiled against untiled: x4plus at 4x on a 400 x 300 crop of Desk.exr, 256-pixel tiles, pad 16 and 32."""
    image = read_exr(data / "exr" / "ScanLines" / "Desk.exr")
    rgb = np.stack([image.channels[c][250:550, 100:500] for c in "RGB"], -1).astype(np.float32)
    net = load_upscaler("x4plus", "onnx", THREADS)
    space = video_model_space(1.0)
    whole = np.clip(space.encode(upscale_colour(rgb, 4, net.run, tile=4096)), 0, 1)
    out = {}
    print("\nseams: x4plus 4x, Desk.exr 400x300 crop, tiled vs untiled, |difference| of the display-encoded signal")
    for pad in (16, 32):
        tiled = np.clip(space.encode(upscale_colour(rgb, 4, net.run, tile=256, pad=pad)), 0, 1)
        d = np.abs(tiled - whole)
        out[f"pad {pad}"] = {"max": float(d.max()), "mean": float(d.mean()), "p999": float(np.quantile(d, 0.999))}
        print(f"  tile 256, pad {pad:>2}: max {d.max():.4f}  99.9% {np.quantile(d, 0.999):.4f}  mean {d.mean():.6f}")
    return out


MEMORY_CODE = """
import json, sys
import numpy as np, cv2
sys.path.insert(0, {core!r})
from dreamplate.enhance.sr_model import load_upscaler
from dreamplate.enhance.upscale import upscale_image
from dreamplate.io.exr import ExrImage
name, width, height, real_tiles = {name!r}, {width}, {height}, {real_tiles}
net = load_upscaler(name, "onnx", 2)
def hwm():  # VmHWM: this process's peak RSS in KiB (ru_maxrss would carry the parent's over the exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
net.run(np.zeros((64, 64, 3), np.float32))
base = hwm()
rng = np.random.default_rng(0)
small = rng.uniform(0, 2, (height // 8, width // 8, 4)).astype(np.float32)
pixels = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
box = (0, 0, width - 1, height - 1)
image = ExrImage({{c: pixels[..., i] for i, c in enumerate("RGBA")}}, dict.fromkeys("RGBA", "half"), box, box, {{}})
count = [0]
def run(signal):
    count[0] += 1
    if count[0] <= real_tiles:
        return net.run(signal)
    return np.repeat(np.repeat(signal, 4, 0), 4, 1)  # the rest pass through: the frame buffers are the same
upscale_image(image, 2, run)
print(json.dumps([base, hwm(), count[0]]))
"""


def memory() -> dict:
    """Peak RSS of a fresh process making a 4K and an 8K RGBA frame (scale 2): the net's tiles and the frame buffers."""
    core = str(REPO_ROOT / "core")
    out = {}
    print("\npeak memory, fresh process per row (RGBA frame, scale 2, default tiles; MiB):")
    print(f"  {'model':<13} {'output':<10} {'after load':>10} {'peak':>8} {'tiles':>6}")
    for name, real_tiles in (("animevideov3", 6), ("x4plus", 2)):
        for label, (width, height) in (("3840x2160", (1920, 1080)), ("7680x4320", (3840, 2160))):
            code = MEMORY_CODE.format(core=core, name=name, width=width, height=height, real_tiles=real_tiles)
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            base, peak, tiles = json.loads(done.stdout.strip().splitlines()[-1])
            ran = "all" if real_tiles >= tiles else f"{real_tiles}/{tiles}"
            print(f"  {name:<13} {label:<10} {base / 1024:>10.0f} {peak / 1024:>8.0f} {ran:>6}", flush=True)
            out[f"{name} {label}"] = {"after_load_mib": base / 1024, "peak_mib": peak / 1024}
    print("  (the network ran on the first tiles, the rest passed through; every tile has one shape, so")
    print("   the network's working memory is the same for each)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--quick", action="store_true", help="two pictures of each kind, no speed or memory runs")
    parser.add_argument("--only", choices=("quality", "seams", "speed", "memory"), help="run one part")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures to this JSON file")
    args = parser.parse_args()
    import cv2 as _cv2

    _cv2.setNumThreads(THREADS)
    figures = {}
    if args.only in (None, "quality"):
        figures["quality"] = quality(args.data, args.quick)
    if not args.quick and args.only in (None, "seams"):
        figures["seams"] = seams(args.data)
    if not args.quick and args.only in (None, "speed"):
        figures["speed"] = speed()
    if not args.quick and args.only in (None, "memory"):
        figures["memory"] = memory()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
