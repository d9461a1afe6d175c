"""Subject mattes (U2-Netp through `dreamplate matte`'s own path), side by side with their baselines.

    .venv/bin/python benchmarks/bench_matte.py

1. IoU (matte > 0.5 against alpha > 0.5) and soft IoU (sum min / sum max) against the alpha channel of every shared
   EXR sample whose alpha is not constant, dreamplate's picture and output (video model space, raw probability)
   next to rembg's recipe (the clipped sRGB view, each picture divided by its own maximum, each output stretched by
   its own minimum and maximum).
2. Flicker, the mean frame-to-frame matte change, on a still subject (CandleGlass's candle and glass, with their
   alpha) composited over a background panning 8 px a frame (MtTamWest): without the temporal filter, with it (r 2
   and 4), and a plain temporal mean (r 2) for contrast. Then the candle alone (opaque) moving 8 px a frame over a
   still background: IoU against the true alpha, and the ghost a lagging filter leaves (the mean matte where the
   candle was within two frames but is not now, and where the frame's own unfiltered matte is 0).
3. Seconds per frame of the whole matte path (picture, network, filter, resize, levels) at 2K and 4K, 2 threads.
Needs the weights: `dreamplate models pull u2netp`.
"""

import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from common import DEFAULT_DATA  # noqa: E402

from dreamplate.analyse.matte import MatteSettings, SubjectMattes, levels  # noqa: E402
from dreamplate.analyse.plate import plate_picture  # noqa: E402
from dreamplate.analyse.temporal import neighbours, steady_matte  # noqa: E402
from dreamplate.analyse.u2net import MEAN, SIZE, STD, load_matte_net  # noqa: E402
from dreamplate.color.ocio import convert, srgb_encoded_space  # noqa: E402
from dreamplate.io.exr import ExrImage, read_exr, read_info  # noqa: E402

THREADS = 2
FRAMES = 16


def iou(matte: np.ndarray, alpha: np.ndarray) -> tuple[float, float]:
    a, b = matte > 0.5, alpha > 0.5
    hard = float((a & b).sum() / max(1, (a | b).sum()))
    soft = float(np.minimum(matte, alpha).sum() / max(1e-9, np.maximum(matte, alpha).sum()))
    return hard, soft


def alpha_samples(exr_root: Path) -> list[Path]:
    """Readable flat samples whose alpha is neither all 0 nor all 1 (a subject to find)."""
    found = []
    for path in sorted(exr_root.rglob("*.exr")):
        if "Damaged" in path.parts:
            continue
        try:
            info = read_info(path)[0]
            if info.storage.startswith("deep") or "A" not in {c.name for c in info.channels}:
                continue
            alpha = np.nan_to_num(read_exr(path).channels["A"].astype(np.float32))
        except Exception:  # the corpus holds broken files on purpose; they are not what is measured here
            continue
        if 0.02 < float((alpha > 0.5).mean()) < 0.98 and np.isfinite(alpha).all() and alpha.max() <= 1.0:
            found.append(path)
    return found


def rembg_matte(net, image: ExrImage, picture) -> np.ndarray:
    """rembg's recipe on the clipped sRGB view of the plate: picture / its max, output stretched by its min/max."""
    rgb = np.stack([np.nan_to_num(image.channels[c].astype(np.float32)) for c in "RGB"], axis=-1)
    srgb = np.clip(convert(picture.cfg, rgb, picture.space.name, srgb_encoded_space(picture.cfg)), 0.0, 1.0)
    small = cv2.resize(srgb, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    small = small / max(float(small.max()), 1e-6)
    x = ((small - MEAN) / STD).transpose(2, 0, 1)[None].astype(np.float32)
    out = net.session.run([net.output_name], {net.input_name: x})[0][0, 0]
    out = (out - out.min()) / max(float(out.max() - out.min()), 1e-9)
    height, width = rgb.shape[:2]
    return cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)


def part_1(exr_root: Path) -> None:
    print("1. IoU against the samples' alpha (hard IoU at 0.5 / soft IoU)")
    net = load_matte_net(THREADS)
    print(f"{'sample':<40} {'dreamplate':>16} {'rembg recipe':>16}")
    for path in alpha_samples(exr_root):
        image = read_exr(path)
        picture = plate_picture(None, image.attributes, None)
        mattes = SubjectMattes(lambda _f, image=image: image, picture, [0], MatteSettings(temporal=0))
        ours = iou(mattes.matte(0), image.channels["A"].astype(np.float32))
        base = iou(rembg_matte(net, image, picture), image.channels["A"].astype(np.float32))
        name = str(path.relative_to(exr_root))
        print(f"{name:<40} {ours[0]:>7.3f} / {ours[1]:.3f} {base[0]:>7.3f} / {base[1]:.3f}")


def composite_sequence(data: Path, moving: bool) -> tuple[list[ExrImage], list[np.ndarray]]:
    """CandleGlass (premultiplied RGBA) over MtTamWest at 500 x 405: background pans, or the candle moves."""
    fg = read_exr(data / "exr" / "ScanLines" / "CandleGlass.exr")
    bg = read_exr(data / "exr" / "ScanLines" / "MtTamWest.exr")
    size = (500, 405)
    f_rgb = cv2.resize(
        np.stack([fg.channels[c] for c in "RGB"], -1).astype(np.float32), size, interpolation=cv2.INTER_AREA
    )
    f_a = np.clip(cv2.resize(fg.channels["A"].astype(np.float32), size, interpolation=cv2.INTER_AREA), 0, 1)
    b_full = np.stack([bg.channels[c] for c in "RGB"], -1).astype(np.float32)
    b_full = cv2.resize(
        b_full, (int(b_full.shape[1] * size[1] / b_full.shape[0]), size[1]), interpolation=cv2.INTER_AREA
    )
    if moving:  # the candle alone: opaque, so the truth is unambiguous and any trail behind it shows
        f_rgb, f_a = f_rgb.copy(), f_a.copy()
        f_rgb[:, int(size[0] * 0.46) :] = 0.0
        f_a[:, int(size[0] * 0.46) :] = 0.0
    images, alphas = [], []
    for t in range(FRAMES):
        shift = 8 * t
        background = b_full[:, (0 if moving else shift) : (0 if moving else shift) + size[0]]
        rgb_f, a_f = f_rgb, f_a
        if moving:  # the subject slides right over the still background
            m = np.float32([[1, 0, shift - 60], [0, 1, 0]])
            rgb_f = cv2.warpAffine(f_rgb, m, size)
            a_f = cv2.warpAffine(f_a, m, size)
        rgb = rgb_f + (1 - a_f[..., None]) * background
        box = (0, 0, size[0] - 1, size[1] - 1)
        images.append(ExrImage({c: rgb[..., i] for i, c in enumerate("RGB")}, {}, box, box, dict(bg.attributes)))
        alphas.append(a_f)
    return images, alphas


def plain_mean(raw: SubjectMattes, frame: int, radius: int) -> np.ndarray:
    """A temporal mean that ignores motion (every neighbour weighs 1), for contrast."""
    window = neighbours(frame, list(range(FRAMES)), radius)
    entries = {f: raw._raw(f) for f in window}
    small = steady_matte(frame, {f: e[2] for f, e in entries.items()}, {f: e[1] for f, e in entries.items()},
                         window, tolerance=1e9)  # fmt: skip
    height, width = entries[frame][1].shape[:2]
    box = entries[frame][0].data_window
    full = cv2.resize(small, (box[2] - box[0] + 1, box[3] - box[1] + 1), interpolation=cv2.INTER_LINEAR)
    return levels(full, 0.05, 0.95)


def part_2(data: Path) -> None:
    filters = {"off (r 0)": (0, None), "motion-aware r 2 (default)": (2, None), "motion-aware r 4": (4, None),
               "plain mean r 2": (2, "plain")}  # fmt: skip
    for moving in (False, True):
        images, alphas = composite_sequence(data, moving)
        picture = plate_picture(None, images[0].attributes, None)
        what = "moving candle (8 px/frame), still background" if moving else "still subject, background panning"
        print(f"\n2. {what}, {FRAMES} frames of 500x405")
        print(f"{'filter':<28} {'flicker':>9} {'in subject':>11} {'IoU mean':>9} {'IoU min':>8} {'ghost':>7}")
        unfiltered = None
        for name, (radius, kind) in filters.items():
            raw = SubjectMattes(images.__getitem__, picture, list(range(FRAMES)), MatteSettings(temporal=radius))
            mattes = np.stack([plain_mean(raw, t, radius) if kind else raw.matte(t) for t in range(FRAMES)])
            unfiltered = mattes if unfiltered is None else unfiltered
            steps = np.abs(np.diff(mattes, axis=0))
            subject = np.stack(alphas[1:]) > 0.5
            flicker, inside = float(steps.mean()), float(steps[subject].mean())
            ious = [iou(m, a)[0] for m, a in zip(mattes, alphas, strict=True)]
            # Ghost: the mean matte where the subject was within two frames but is not now, and where the frame's
            # own unfiltered matte is 0: what a filter that lags drags behind a moving subject.
            ghosts = []
            for t in range(FRAMES):
                near = np.max([alphas[j] for j in neighbours(t, list(range(FRAMES)), 2)], axis=0) > 0.5
                band = near & (alphas[t] < 0.5) & (unfiltered[t] < 0.5)
                if band.any():
                    ghosts.append(float(mattes[t][band].mean()))
            ghost = f"{np.mean(ghosts):.3f}" if ghosts else "-"
            print(f"{name:<28} {flicker:>9.5f} {inside:>11.5f} {np.mean(ious):>9.3f} {np.min(ious):>8.3f} {ghost:>7}")


def part_3() -> None:
    print("\n3. seconds per frame, whole matte path, 2 threads")
    picture = plate_picture(None, {}, "ACEScg")
    rng = np.random.default_rng(0)
    for label, (width, height) in (("2K 2048x1080", (2048, 1080)), ("4K 4096x2160", (4096, 2160))):
        rgb = rng.random((height, width, 3), dtype=np.float32)
        box = (0, 0, width - 1, height - 1)
        image = ExrImage({c: rgb[..., i] for i, c in enumerate("RGB")}, {}, box, box)
        mattes = SubjectMattes(lambda _f, image=image: image, picture, list(range(6)), MatteSettings(), THREADS)
        mattes.matte(0)  # warm: session and first frames
        start = time.perf_counter()
        for frame in range(1, 6):
            mattes.matte(frame)
        per = (time.perf_counter() - start) / 5
        net = load_matte_net(THREADS)
        small = np.zeros((SIZE, SIZE, 3), np.float32)
        start = time.perf_counter()
        for _ in range(5):
            net.run(small)
        print(f"{label:<14} {per:.3f} s/frame (network alone {(time.perf_counter() - start) / 5:.3f} s) "
              f"on {net.runtime}")  # fmt: skip


def main() -> None:
    data = DEFAULT_DATA
    part_1(data / "exr")
    part_2(data)
    part_3()


if __name__ == "__main__":
    main()
