"""Data loading and image-quality metrics shared by the benchmarks.

PSNR and SSIM are computed the way the interpolation papers report them: on 8-bit RGB over the whole
image, so the figures compare directly with published ones.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"


def read_rgb(path: Path) -> np.ndarray:
    """Read an 8-bit image as float32 H x W x 3 RGB in [0, 1]; a missing file raises FileNotFoundError."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: cannot read image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def triplets(data_dir: Path, set_name: str) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (name, first, middle ground truth, last) for each triplet of one interpolation set."""
    root = data_dir / "interp" / set_name
    if set_name == "middlebury_others":
        for gt_dir in sorted((root / "gt").iterdir()):
            scene = root / "input" / gt_dir.name
            yield (
                gt_dir.name,
                read_rgb(scene / "frame10.png"),
                read_rgb(gt_dir / "frame10i11.png"),
                read_rgb(scene / "frame11.png"),
            )
    elif set_name == "ucf101":
        for item in sorted(root.iterdir(), key=lambda p: int(p.name)):
            frames = [read_rgb(item / f"frame{i}.png") for i in range(3)]
            yield item.name, frames[0], frames[1], frames[2]
    else:
        raise ValueError(f"unknown interpolation set {set_name!r}")


Triplet = tuple[str, np.ndarray, np.ndarray, np.ndarray]
"""(name, first frame, the true middle, last frame)."""


def with_pan(set_name: str, data: list[Triplet]) -> tuple[str, list[Triplet]]:
    """The set with a camera pan added, named: every frame cropped so the picture moves 2k px left and k px up across
    the pair, partly new picture at the borders; k is a 26th of the width (24 px middlebury, 12 px ucf101)."""
    k = max(data[0][1].shape[1] // 26, 1)
    ky = k // 2
    out = []
    for name, a, gt, b in data:
        h, w = a.shape[:2]
        out.append((name, a[: h - 2 * ky, : w - 2 * k], gt[ky : h - ky, k : w - k], b[2 * ky :, 2 * k :]))
    return f"{set_name}+pan{2 * k}", out


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Quantise a [0, 1] float image to 8 bits the way an image writer would (round, clip)."""
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """PSNR in dB between two [0, 1] float images, measured after quantising both to 8 bits."""
    diff = to_uint8(pred).astype(np.float64) - to_uint8(gt).astype(np.float64)
    mse = float(np.mean(diff * diff))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian, sigma 1.5, K1 0.01, K2 0.03) over channels, on 0..255."""
    x = to_uint8(pred).astype(np.float64)
    y = to_uint8(gt).astype(np.float64)
    c1 = (0.01 * 255.0) ** 2
    c2 = (0.03 * 255.0) ** 2

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return float(np.mean(num / den))


def evaluate(method: Callable[[np.ndarray, np.ndarray], np.ndarray], data) -> tuple[float, float, float]:
    """Mean PSNR, mean SSIM and seconds per in-between of a method over a set of (name, a, gt, b) triplets."""
    psnrs, ssims, seconds = evaluate_items(method, data)
    return float(np.mean(psnrs)), float(np.mean(ssims)), seconds


def evaluate_items(
    method: Callable[[np.ndarray, np.ndarray], np.ndarray], data
) -> tuple[list[float], list[float], float]:
    """PSNR and SSIM of each triplet, in order, and the seconds per in-between: for comparing methods item by item."""
    psnrs, ssims = [], []
    seconds = 0.0
    for _, a, gt, b in data:
        start = time.perf_counter()
        out = method(a, b)
        seconds += time.perf_counter() - start
        psnrs.append(psnr(out, gt))
        ssims.append(ssim(out, gt))
    return psnrs, ssims, seconds / len(data)
