"""HED line art on ONNX Runtime: the pinned Keras weights converted once to ONNX, the session, and the line finish.

The BSDS500 weights ship as a Keras `.weights.h5`; `ensure_onnx` builds the torch network (`analyse.hed_net`), loads
every array into it and exports it once beside the weights, named by format and opset, so a later run only opens
the ONNX file (no torch, no h5py). The graph takes display RGB in [0, 1] of any size (N x 3 x H x W) and returns the
fused edge probability (N x 1 x H x W). It stays fp32 on every provider: VGG16's activations on Caffe-scaled input
run into the thousands, too close to half's range to convert blindly, and the net is small enough not to need it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from dreamplate.analyse.plate import installed
from dreamplate.errors import ModelError
from dreamplate.runtime.model_cache import cached_model
from dreamplate.runtime.weights import PinnedWeights, pinned, verified_weights

log = logging.getLogger(__name__)

MODEL = "hed-bsds500"
ONNX_OPSET = 17
NET_FORMAT = 1
"""Bumped when hed_net's graph changes, so a cached ONNX file from an older graph is not reused."""
INPUT_NAME, OUTPUT_NAME = "image", "edges"
BORDER_PAD = 16
"""Pixels of mirrored picture around the frame while HED runs, so the frame's border is not drawn as a line."""
THIN_BLUR = 2.0
"""Gaussian sigma (output pixels) over which gradients are pooled to find each line's direction for thinning."""


def onnx_path(weights: Path) -> Path:
    """Where the exported graph is cached: beside the weights, named by format and opset."""
    return weights.parent / f"hed-net{NET_FORMAT}-opset{ONNX_OPSET}-fp32.onnx"


def ensure_onnx(entry: PinnedWeights, fp16: bool = False) -> Path:
    """The cached ONNX graph of HED, exported from the verified weights the first time (needs torch and h5py then).

    `fp16` is accepted for the pinned-weights interface and ignored: the graph stays fp32 (see the module doc).
    """
    weights = verified_weights(entry)
    path = onnx_path(weights)
    if path.is_file():
        return path
    try:
        import h5py  # noqa: F401 - only for a clear message before the conversion imports it
        import torch
    except ImportError as exc:
        raise ModelError(
            f"{path}: not converted yet and {exc.name} is not installed to convert it; run install/setup.sh "
            f"(or: pip install 'dreamplate[learned]', then dreamplate models pull {entry.name})"
        ) from None
    from dreamplate.analyse.hed_net import load_hed
    from dreamplate.runtime.onnx import export_checked

    log.info("%s: converting to ONNX once (cached at %s)", entry.name, path)
    net = load_hed(weights)
    example = (torch.rand((1, 3, 96, 160), generator=torch.Generator().manual_seed(0)),)
    axes = {INPUT_NAME: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}}
    return export_checked(net, example, path, (INPUT_NAME,), (OUTPUT_NAME,), axes, ONNX_OPSET)


class EdgeNet:
    """The HED session: `run(picture)` gives the edge probability of one picture at its own size."""

    def __init__(self, path: Path, threads: int | None) -> None:
        from dreamplate.runtime.onnx import open_session

        self.path = path
        self.session, self.provider, _ = open_session(path, threads=threads, cache_dir=path.parent / "trt-cache")

    @property
    def runtime(self) -> str:
        """What runs the net, for provenance: "onnxruntime 1.x CPUExecutionProvider"."""
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__} {self.provider}"

    def run(self, picture: np.ndarray) -> np.ndarray:
        """Edge probability (H x W float32 in [0, 1]) of a picture (H x W x 3 float32 in [0, 1], display RGB)."""
        x = np.ascontiguousarray(picture.transpose(2, 0, 1)[None], np.float32)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0][0, 0]


def load_edge_net(threads: int | None = None) -> EdgeNet:
    """The HED session (converting the weights the first time), kept warm in the model cache."""
    entry = installed(pinned(MODEL))
    try:
        import onnxruntime  # noqa: F401 - only for a clear message
    except ImportError:
        raise ModelError(
            "edges: onnxruntime is not installed; run install/setup.sh (or pip install 'dreamplate[onnx]')"
        ) from None
    path = ensure_onnx(entry)
    return cached_model(("hed", entry.sha256, str(path), threads), lambda: EdgeNet(path, threads))


def working_size(width: int, height: int, resolution: int | None) -> tuple[int, int]:
    """(width, height) HED runs at: the long side brought down to `resolution` (never up); None keeps the size."""
    if resolution is None or max(width, height) <= resolution:
        return width, height
    scale = resolution / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def line_art(
    net: EdgeNet,
    small: np.ndarray,
    size: tuple[int, int],
    *,
    thin: bool = False,
    threshold: float = 0.0,
) -> np.ndarray:
    """Edge strength of a picture (h x w x 3 in [0, 1], HED's working size) at `size` (width, height).

    H x W float32 in [0, 1], lines bright. HED runs on the picture mirrored out by BORDER_PAD pixels; its map is
    resized to `size` (linear), then `thin` keeps only each line's crest and `threshold` > 0 makes the lines binary.
    """
    width, height = size
    size = (small.shape[1], small.shape[0])
    # VGG's zero padding reads the frame's border as an edge: mirror the picture out and crop the answer.
    pad = min(BORDER_PAD, size[0] - 1, size[1] - 1)
    padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_REFLECT_101) if pad > 0 else small
    edges = net.run(np.ascontiguousarray(padded, np.float32))[pad : pad + size[1], pad : pad + size[0]]
    if size != (width, height):
        edges = cv2.resize(edges, (width, height), interpolation=cv2.INTER_LINEAR)
    edges = np.clip(edges, 0.0, 1.0).astype(np.float32, copy=False)
    if thin:
        edges = thin_lines(edges)
    if threshold > 0:
        edges = (edges >= np.float32(threshold)).astype(np.float32)
    return edges


def thin_lines(edges: np.ndarray) -> np.ndarray:
    """Non-maximum suppression across each line: a pixel stays only where it is the crest of its line, else 0.

    A line's across direction is the dominant gradient orientation around each pixel (the structure tensor of the
    edge map, which a crest shares with its flanks although its own gradient vanishes), quantised to 0, 45, 90 or
    135 degrees; a pixel is kept when it is at least both neighbours that way.
    """
    gx = cv2.Sobel(edges, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(edges, cv2.CV_32F, 0, 1, ksize=3)
    jxx = cv2.GaussianBlur(gx * gx, (0, 0), THIN_BLUR)
    jyy = cv2.GaussianBlur(gy * gy, (0, 0), THIN_BLUR)
    jxy = cv2.GaussianBlur(gx * gy, (0, 0), THIN_BLUR)
    across = 0.5 * np.arctan2(2.0 * jxy, jxx - jyy)
    sector = np.round(across / (np.pi / 4)).astype(np.int64) % 4
    height, width = edges.shape
    padded = np.pad(edges, 1, mode="edge")
    keep = np.zeros(edges.shape, bool)
    for index, (dy, dx) in enumerate(((0, 1), (1, 1), (1, 0), (1, -1))):  # (y, x) steps at 0, 45, 90, 135 degrees
        ahead = padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        behind = padded[1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]
        keep |= (sector == index) & (edges >= ahead) & (edges >= behind)
    return np.where(keep, edges, np.float32(0.0))


def control_frames(frames: np.ndarray, threads: int | None = None) -> np.ndarray:
    """Line art of display-referred frames (T x H x W x 3 in [0, 1]) as a control video: same shape, lines white.

    What `dreamplate sketch --control edges` calls, by import string, on the frames it would otherwise give the
    model as its control video. HED runs at the frames' own (model) size; lines stay soft, as HED makes them.
    """
    net = load_edge_net(threads)
    out = np.empty(frames.shape, np.float32)
    for index, frame in enumerate(frames):
        small = np.ascontiguousarray(np.clip(frame, 0.0, 1.0), np.float32)
        out[index] = line_art(net, small, (frame.shape[1], frame.shape[0]))[..., None]
    return out
