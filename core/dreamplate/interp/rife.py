"""Learned in-betweens: a RIFE-class network estimates motion; dreamplate moves the scene-linear pixels itself.

The network sees an encoded, [0, 1] picture of the plate (the same invertible log signal flow uses) at a working
scale chosen from the resolution, padded to the size its strides need. It returns two backward flows (from time t to
each frame) and a blend mask; both are brought back to the plate's size and applied to the scene-linear pixels of
every channel with the same warp and blend as the flow method. Values far above 1.0 are therefore only resampled and
convexly blended, never clipped or re-encoded, and AOVs, depth and IDs move with the picture.

Runtimes: ONNX Runtime (TensorRT > CUDA > CPU, whichever is installed; the network is exported once and cached next
to its weights, keyed by their hash), torch eager in fp32 (`--runtime torch`) or in bf16 (`--runtime torch-bf16`).
`auto` takes ONNX Runtime on a GPU, torch bf16 for the variants in BF16_VARIANTS on a CPU with native bf16, ONNX
Runtime elsewhere. Only the motion estimate is bf16: the pixels are warped and blended in float32 outside the network
either way. Sessions stay warm in the model cache.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dreamplate.errors import ModelError
from dreamplate.interp.translations import shifted
from dreamplate.interp.warp import blend_warped, one_side_alone, outside, photo_cost, static_pixels
from dreamplate.runtime.cpu_features import native_bf16
from dreamplate.runtime.model_cache import cached_model
from dreamplate.runtime.weights import PinnedWeights, pinned, verified_weights

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "onnx", "torch", "torch-bf16")
RUNTIME_MODULES = {
    "auto": ("onnxruntime", "torch"),
    "onnx": ("onnxruntime",),
    "torch": ("torch",),
    "torch-bf16": ("torch",),
}
"""The packages each runtime needs (any one of them for auto)."""
BF16_VARIANTS = ("hdv3",)
"""Variants `auto` runs in bf16 on a CPU with native bf16. HDv3: 0.6 s instead of ONNX Runtime's 1.2 s per 960x540
pass on 2 Zen 4 cores, within 0.01 dB on the shared sets. Not v4: in bf16 it lost 1.8 dB on middlebury_others
(benchmarks/bench_retime_quality.py)."""
SCALES = (1.0, 0.5, 0.25)
AUTO_MAX_PIXELS = 2048 * 1152
"""`--scale auto` picks the largest scale whose working picture has at most this many pixels: 2K and 1080p plates
run at full scale, UHD/4K at 0.5, 8K at 0.25. It bounds the network's memory whatever the plate's size (the
published guidance is scale 0.5 for 4K), while the warp itself runs on the full-resolution pixels."""
ONNX_OPSET = 17
NET_FORMAT = 1
"""Bumped when rife_net's graph changes, so cached ONNX files from an older graph are not reused."""


@dataclass(frozen=True)
class LearnedMotion:
    """Where each in-between pixel comes from: float32 H x W x 2 offsets to A and to B, and B's weight H x W."""

    to_a: np.ndarray
    to_b: np.ndarray
    weight_b: np.ndarray


def choose_scale(width: int, height: int, scale: float | str = "auto") -> float:
    """The working scale: as given, or for "auto" the largest of SCALES that keeps within AUTO_MAX_PIXELS."""
    if scale != "auto":
        return float(scale)
    for candidate in SCALES:
        if width * candidate * height * candidate <= AUTO_MAX_PIXELS:
            return candidate
    return SCALES[-1]


def working_size(width: int, height: int, scale: float | str = "auto") -> tuple[int, int]:
    """(width, height) the network runs at for a frame of this size (`choose_scale`)."""
    factor = choose_scale(width, height, scale)
    return max(1, round(width * factor)), max(1, round(height * factor))


def onnx_path(entry: PinnedWeights, weights: Path, fp16: bool) -> Path:
    """Where the exported graph is cached: beside the weights, named by format, opset and precision."""
    precision = "fp16" if fp16 else "fp32"
    return weights.parent / f"{entry.variant}-net{NET_FORMAT}-opset{ONNX_OPSET}-{precision}.onnx"


def ensure_onnx(entry: PinnedWeights, fp16: bool = False) -> Path:
    """The cached ONNX graph of `entry`, exported from its verified weights the first time (needs torch then)."""
    weights = verified_weights(entry)
    path = onnx_path(entry, weights, fp16)
    if path.is_file():
        return path
    try:
        import torch  # noqa: F401 - only to give a clear message before the export imports it
    except ImportError:
        raise ModelError(
            f"{path}: not exported yet and torch is not installed to export it; run install/setup.sh "
            f"(or: pip install torch, then dreamplate models pull {entry.name})"
        ) from None
    from dreamplate.interp.rife_net import load_rife
    from dreamplate.runtime.onnx import export_onnx

    log.info("%s: converting to ONNX once (cached at %s)", entry.name, path)
    export_onnx(load_rife(entry.variant, weights), path, opset=ONNX_OPSET, fp16=fp16)
    return path


class _TorchNet:
    """The network in torch eager, with the same call as an ONNX Runtime session; `bf16` runs it under autocast.

    In bf16 the activations are channels-last, the layout oneDNN's bf16 convolutions run fastest in; the weights stay
    float32 (autocast casts them per call) and so do the outputs.
    """

    def __init__(self, entry: PinnedWeights, threads: int | None, bf16: bool = False) -> None:
        import torch

        from dreamplate.interp.rife_net import load_rife

        self.torch = torch
        self.threads, self.bf16 = threads, bf16
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        net = load_rife(entry.variant, verified_weights(entry)).to(self.device).eval()
        self.net = net.to(memory_format=torch.channels_last) if bf16 else net
        self.provider = f"torch {torch.__version__} {self.device}" + (" bf16" if bf16 else "")

    def run(self, img0: np.ndarray, img1: np.ndarray, timestep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        torch = self.torch
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode(), torch.autocast(self.device, torch.bfloat16, enabled=self.bf16):
                args = [torch.from_numpy(x).to(self.device) for x in (img0, img1, timestep)]
                if self.bf16:
                    args[:2] = [x.to(memory_format=torch.channels_last) for x in args[:2]]
                flow, mask = self.net(*args)
            return flow.float().cpu().numpy(), mask.float().cpu().numpy()
        finally:
            torch.set_num_threads(previous)


def uses_fp16() -> bool:
    """True where ONNX Runtime can run on CUDA: the graph then runs in fp16 (I/O stays float32)."""
    import onnxruntime

    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


def runtime_installed(runtime: str) -> bool:
    """True when a package `runtime` needs is installed (without importing it)."""
    return any(importlib.util.find_spec(module) is not None for module in RUNTIME_MODULES[runtime])


def resolve_runtime(runtime: str, variant: str = "hdv3") -> str:
    """The runtime `auto` stands for here, for a net of `variant`: ONNX Runtime on a GPU (fp16, TensorRT), torch bf16
    on a CPU that computes bf16 natively (BF16_VARIANTS only), else ONNX Runtime (fp32), else torch where only torch
    is installed. Others are returned as given.
    """
    if runtime not in RUNTIMES:
        raise ModelError(f"--runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        return runtime
    onnx = runtime_installed("onnx")
    if onnx and uses_fp16():
        return "onnx"
    if variant in BF16_VARIANTS and native_bf16() and runtime_installed("torch"):
        return "torch-bf16"
    return "onnx" if onnx else "torch"


def load_network(model: str, runtime: str, threads: int | None):
    """The network for `model` on `runtime` (`auto` resolved), kept warm in the model cache; has `.run(img0, img1, t)`
    and `.provider`."""
    entry = pinned(model)
    runtime = resolve_runtime(runtime, entry.variant)
    if runtime.startswith("torch"):
        bf16 = runtime == "torch-bf16"
        key = ("rife", entry.name, entry.sha256, runtime, threads)
        return cached_model(key, lambda: _TorchNet(entry, threads, bf16))
    try:
        fp16 = uses_fp16()
    except ImportError:
        raise ModelError(
            "--runtime onnx: onnxruntime is not installed; run install/setup.sh (or pip install 'dreamplate[onnx]'),"
            " or use --runtime torch"
        ) from None
    path = ensure_onnx(entry, fp16=fp16)

    def load():
        from dreamplate.runtime.onnx import make_session

        session = make_session(path, threads=threads, cache_dir=path.parent / "trt-cache")
        log.info("%s: ONNX Runtime on %s", entry.name, session.provider)
        return session

    return cached_model(("rife", entry.name, entry.sha256, str(path), threads), load)


def _pad(img: np.ndarray, multiple: int) -> np.ndarray:
    """Pad H x W x C on the bottom and right to a multiple of `multiple`, repeating the edge pixels."""
    h, w = img.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return img
    return cv2.copyMakeBorder(img, 0, ph, 0, pw, cv2.BORDER_REPLICATE).reshape(h + ph, w + pw, img.shape[2])


def _nchw(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)


class LearnedEstimator:
    """Estimates learned motion for a frame pair at a time t, at a working scale, with optional test-time passes."""

    def __init__(
        self,
        model: str,
        runtime: str = "auto",
        scale: float | str = "auto",
        tta: bool = False,
        threads=None,
        coarse_motion: float | None = None,
    ) -> None:
        """`coarse_motion`: with `scale` "auto", a pair whose motion reaches this many pixels also gets a pass at half
        the working size (`_with_coarse`; COARSE_MOTION, or COARSE_MOTION_FUSED where the flow method's motion is
        fused in after); None, the network runs as published (the benchmarks' plain RIFE HDv3)."""
        from dreamplate.interp.rife_net import PAD_MULTIPLE

        self.entry = pinned(model)
        self.multiple = PAD_MULTIPLE[self.entry.variant]
        self.scale, self.tta, self.runtime = scale, tta, resolve_runtime(runtime, self.entry.variant)
        coarse = scale == "auto" and self.entry.variant in COARSE_VARIANTS
        self.coarse_motion = coarse_motion if coarse else None
        self.net = load_network(model, self.runtime, threads)

    @property
    def provider(self) -> str:
        """What runs the network, for logs and provenance: "onnxruntime 1.x CUDAExecutionProvider", "torch 2.x cpu"."""
        if self.runtime.startswith("torch"):
            return self.net.provider
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__} {self.net.provider}"

    @property
    def time_free(self) -> bool:
        """True when one network run serves every time of a pair (`estimate_pair`, then `at_time`)."""
        return self.entry.variant in TIME_FREE_VARIANTS

    def estimate(
        self, signal_a: np.ndarray, signal_b: np.ndarray, t: float, shift: np.ndarray | None = None
    ) -> LearnedMotion:
        """Motion for the in-between at t from two [0, 1] signals (H x W x 3), at the plate's full size.

        `shift` (whole pixels (dx, dy), A -> B, or None) is a motion the whole pair shares, taken out of B before the
        network runs and added back to its motion (`_without_shift`).
        """
        if self.time_free:
            return at_time(self.estimate_pair(signal_a, signal_b, shift), t)
        return self._estimate(signal_a, signal_b, t, shift)

    def estimate_pair(
        self, signal_a: np.ndarray, signal_b: np.ndarray, shift: np.ndarray | None = None
    ) -> LearnedMotion:
        """The motion at t = 0.5 that `at_time` makes every other time from (`time_free` variants)."""
        return self._estimate(signal_a, signal_b, 0.5, shift)

    def _estimate(
        self, signal_a: np.ndarray, signal_b: np.ndarray, t: float, shift: np.ndarray | None = None
    ) -> LearnedMotion:
        if shift is not None:
            signal_b = _taken_back(signal_a, signal_b, shift)
        height, width = signal_a.shape[:2]
        size = working_size(width, height, self.scale)
        a, b = (_work(s, size) for s in (signal_a, signal_b))
        passes = [self._pass(a, b, t)]
        if self.tta:
            # Mirrored and time-reversed passes see the same motion from other sides; their mean cancels some of
            # the network's left/right and forward/backward bias.
            flipped = self._pass(a[:, ::-1], b[:, ::-1], t)
            passes.append((_unflip(flipped[0]), flipped[1][:, ::-1]))
            reverse = self._pass(b, a, 1.0 - t)
            passes.append((np.concatenate([reverse[0][..., 2:], reverse[0][..., :2]], axis=-1), 1.0 - reverse[1]))
        flow = np.mean([p[0] for p in passes], axis=0)
        mask = np.mean([p[1] for p in passes], axis=0)
        if self.coarse_motion is not None:
            shared = (
                None
                if shift is None
                else np.asarray(shift, np.float32) * np.float32(size) / np.float32([width, height])
            )
            flow, mask = self._with_coarse(a, b, t, flow, mask, shared)
        # Back to the plate's size: offsets scale with the picture, per axis (rounding makes the ratios differ).
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0::2] *= width / size[0]
        flow[..., 1::2] *= height / size[1]
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        motion = LearnedMotion(
            to_a=np.ascontiguousarray(flow[..., :2]),
            to_b=np.ascontiguousarray(flow[..., 2:]),
            weight_b=np.clip(1.0 - mask, 0.0, 1.0),
        )
        return motion if shift is None else _without_shift(motion, shift, t)

    def _with_coarse(
        self, a: np.ndarray, b: np.ndarray, t: float, flow: np.ndarray, mask: np.ndarray, shared: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The working-size estimate with, where the pair moves far, the network's motion at half that size taken on
        the pixels it explains clearly better.

        At half size each block of the network sees twice as far: a CG ball moving 80 px between the frames of a
        pair and spinning fast is followed at half size (the net alone 22.43 dB against 20.48), while footage with
        less motion loses detail there (middlebury_others 33.32 dB against 35.19 with the whole pair at half
        size). A pixel takes the half-size motion where the two are over COARSE_APART px apart and its photo cost
        is at most COARSE_ADVANTAGE times the working size's, and only in pairs whose motion reaches `coarse_motion`.
        That is the pair's whole motion: with a shared shift taken out (`shared`, at the working size) the net sees
        only what is left, yet issue 19's ball, followed at 80 px, still gains from the pass (22.44 dB against 22.30).
        """
        height, width = a.shape[:2]
        motion = flow[::4, ::4, 2:] - flow[::4, ::4, :2]  # a percentile needs no more than every 16th pixel
        if shared is not None:
            motion = motion + shared
        if np.percentile(np.hypot(motion[..., 0], motion[..., 1]), 99) < self.coarse_motion:
            return flow, mask
        half = (width // 2, height // 2)
        if min(half) < COARSE_MIN_SIDE:
            return flow, mask
        small_flow, small_mask = self._pass(_work(a, half), _work(b, half), t)
        coarse = cv2.resize(small_flow, (width, height), interpolation=cv2.INTER_LINEAR)
        coarse[..., 0::2] *= width / half[0]
        coarse[..., 1::2] *= height / half[1]
        coarse_mask = cv2.resize(small_mask, (width, height), interpolation=cv2.INTER_LINEAR)
        apart = np.sum((coarse - flow) ** 2, axis=-1)

        def cost(offsets: np.ndarray) -> np.ndarray:
            return photo_cost(a, offsets[..., :2], b, offsets[..., 2:], COARSE_WINDOW)

        take = (apart > COARSE_APART * COARSE_APART) & (cost(coarse) < np.float32(COARSE_ADVANTAGE) * cost(flow))
        return np.where(take[..., None], coarse, flow), np.where(take, coarse_mask, mask)

    def _pass(self, a: np.ndarray, b: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        """One network run: flow H x W x 4 and mask H x W at the working size (padding cropped off)."""
        h, w = a.shape[:2]
        timestep = np.full((1, 1, 1, 1), t, np.float32)
        flow, mask = self.net.run(_nchw(_pad(a, self.multiple)), _nchw(_pad(b, self.multiple)), timestep)
        return flow[0, :, :h, :w].transpose(1, 2, 0), mask[0, 0, :h, :w]


COARSE_VARIANTS = ("hdv3",)
"""Variants `LearnedEstimator(coarse_motion=...)` adds a half-size pass to, where the motion is large: measured on
HDv3."""
COARSE_MOTION = 40.0
"""Pixels (the 99th percentile of the A to B motion at the working size) from which a pair also gets the half-size
pass, for the network's motion used alone (`--no-fusion`). Measured on middlebury_others enlarged 1.5x and 2x and on
the CG balls rebuilt across 1 to 2 frames: below 40 px no pair gained more than 0.03 dB (Urban2 at 1.5x, 33 px),
from 40 px some did (Urban2 at 2x, 44 px, +0.11; a slowly spinning ball, 46 px, +0.37). The pass costs about 1.3x the
network's time, and the benchmarks' 960x540 pair (Urban2 enlarged, 33 px) would pay it for 0.03 dB. The shared sets
reach 22 px at most."""
COARSE_MOTION_FUSED = 64.0
"""The same, where the flow method's motion is fused in after (the default): DIS follows the mid-sized motions the
pass would add. Fused, no pair below 64 px gained more than 0.03 dB (the 46 px ball lost 0.02); the issue's ball
(80 to 100 px, spinning fast) gains 0.9 dB. Measured as COARSE_MOTION is."""
COARSE_ADVANTAGE = 0.5
"""The half-size motion's photo cost must be at most this share of the working size's. Fused with the flow method,
on issue 19's ball (80 px a pair, spinning 0.21 rad a frame) and four more (benchmarks/bench_retime_quality.py):
without the pass 21.58 / 31.57 / 35.15 / 29.11 / 13.81 dB; 0.4 22.35 / 31.57 / 35.15 / 29.11 / 13.81; 0.5 22.48 /
31.58 / 35.14 / 29.11 / 13.81; 0.7 22.60 / 31.58 / 35.10 / 29.11 / 13.81, one frame of the third ball then more than
0.1 dB below the flow method. With no motion gate at 0.5, the shared sets moved by 0.01 dB at most."""
COARSE_APART = 2.0
"""Pixels apart (both offsets together) the two motions must be for the half-size one to be considered."""
COARSE_WINDOW = 15
"""Side (pixels) of the box a photo cost is averaged over, the fusion's window."""
COARSE_MIN_SIDE = 32
"""A half-size picture smaller than this on a side gives the network too little to work on: no pass."""

TIME_FREE_VARIANTS = ("hdv3",)
"""Variants trained for t = 0.5 only, other times adapted from it (`rife_net.RifeFlowNet`): the network's run at 0.5
serves every time of a pair, so a 4x slow-down runs it once per pair instead of three times."""
_T_MARGIN = 1e-6
"""t is kept this far inside (0, 1), as `rife_net` keeps it, so t = 0 or 1 gives finite weights."""


def at_time(half: LearnedMotion, t: float) -> LearnedMotion:
    """HDv3's motion at t from its motion at 0.5, as `rife_net.RifeFlowNet` adapts it (linear motion): the offsets
    scale to 2t and 2(1 - t), and A's weight m becomes m(1 - t) / (m(1 - t) + (1 - m)t), its logit shifted by
    log((1 - t) / t), so each frame takes over as t nears it. At t = 0.5 it is `half` itself."""
    if t == 0.5:
        return half
    t = min(max(t, _T_MARGIN), 1.0 - _T_MARGIN)
    weight_a = 1.0 - half.weight_b
    weight_a = weight_a * (1.0 - t) / np.maximum(weight_a * (1.0 - t) + half.weight_b * t, np.float32(1e-12))
    return LearnedMotion(
        to_a=half.to_a * np.float32(2.0 * t),
        to_b=half.to_b * np.float32(2.0 * (1.0 - t)),
        weight_b=np.clip(1.0 - weight_a, 0.0, 1.0).astype(np.float32),
    )


def _taken_back(signal_a: np.ndarray, signal_b: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """B moved back by a whole-pixel `shift` (B(x + shift) at x), A's own pixels where that falls outside B.

    There the pan brings in picture B does not have; with A's there the network sees it still, and the picture
    there is taken along the pan, instead of matched against B's edge smeared across the strip.
    """
    height, width = signal_b.shape[:2]
    moved = shifted(signal_b, shift)
    dx, dy = (int(round(float(v))) for v in shift)
    beyond_x = (np.arange(width) + dx < 0) | (np.arange(width) + dx > width - 1)
    beyond_y = (np.arange(height) + dy < 0) | (np.arange(height) + dy > height - 1)
    beyond = beyond_y[:, None] | beyond_x[None, :]
    moved[beyond] = signal_a[beyond]
    return moved


def _without_shift(motion: LearnedMotion, shift: np.ndarray, t: float) -> LearnedMotion:
    """The motion of a pair from the motion estimated with B taken back by `shift` (B(x + shift) in B's place).

    That pair's in-between at t sits t * shift behind the real one: each field is read t * shift back, and the
    shift's share added to each offset, -t * shift toward A and (1 - t) * shift toward B.
    """
    shift = np.asarray(shift, np.float32)

    def back(field: np.ndarray) -> np.ndarray:
        return shifted(field, -t * shift)

    return LearnedMotion(
        to_a=back(motion.to_a) - np.float32(t) * shift,
        to_b=back(motion.to_b) + np.float32(1.0 - t) * shift,
        weight_b=back(motion.weight_b),
    )


def _work(signal: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The network's input: RGB in [0, 1] at the working size (area-averaged when smaller)."""
    img = np.clip(np.asarray(signal, np.float32), 0.0, 1.0)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    if (img.shape[1], img.shape[0]) != size:
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


def _unflip(flow: np.ndarray) -> np.ndarray:
    """A flow estimated on mirrored frames, mirrored back: columns reversed and x offsets negated."""
    out = flow[:, ::-1].copy()
    out[..., 0::2] *= -1.0
    return out


AGREE_SPREAD = 0.3
"""How far apart the two warped motion signals must be (|A - B| summed over the channels, over AGREE_WINDOW) for the
net's blend mask to count in full; closer, B's weight moves toward t in proportion. The net alone against its mask as
it is, middlebury_others (sRGB / through the retimer), ucf101 (the same), issue 19's ball: 0.4 +0.40 / +0.43, +0.05
/ +0.08, -0.01 dB; 0.6 +0.44 / +0.46, +0.07 / +0.09, -0.05; 0.8 +0.45 / +0.46, +0.08 / +0.08, -0.15; 1.5 +0.47 /
+0.44, +0.09 / +0.06, -0.58. On the ball the mask picks the frame that sees it, and t everywhere (no mask) loses 1.2
dB. Fused, 0.6 was 0.07 / 0.04 dB above 0.3 on middlebury_others, but on a small textured subject over texture (the
benchmark's dim squares) it pulled the edges the mask had right toward t: 0.2 to 0.5 dB below the net's own mask,
against within 0.05 at 0.3 (0.15: the squares the same, middlebury_others 0.11 lower again)."""
AGREE_WINDOW = 3
"""Side (pixels) of the box the warped signals' difference is averaged over: 1, 3 and 7 are within 0.04 dB."""


def blend_by_agreement(motion: LearnedMotion, signal_a: np.ndarray, signal_b: np.ndarray, t: float) -> LearnedMotion:
    """The motion with B's weight taken toward t wherever A and B, sampled along it, show the same picture.

    The net's mask says which frame sees each pixel, and it leans on one side even where both do. There the two
    samples are the same surface: blending them by t averages away their noise and a sub-pixel misregistration
    instead of keeping one frame's. Only where they differ (an occlusion) does the mask decide in full. A sample
    that falls outside its frame (a pan bringing in new picture) is taken from the other frame alone, as the flow
    method does, instead of the border pixel smeared in: a real EXR panned 3 px a frame (Desk, from the OpenEXR
    samples) went from 68.0 to 76.0 dB, the shared sets with a pan added gained 0.1 to 0.4 dB, and without a pan
    they moved by 0.01 dB. The signals are the [0, 1] motion signals (H x W x C) the motion was estimated on.
    """
    difference = photo_cost(signal_a, motion.to_a, signal_b, motion.to_b, AGREE_WINDOW)
    trust = np.clip(difference / np.float32(AGREE_SPREAD), 0.0, 1.0)
    weight_b = np.float32(t) + trust * (motion.weight_b - np.float32(t))
    weight_b = one_side_alone(weight_b, outside(motion.to_a), outside(motion.to_b))
    return LearnedMotion(to_a=motion.to_a, to_b=motion.to_b, weight_b=weight_b.astype(np.float32))


def interpolate_learned(
    motion: LearnedMotion,
    a: np.ndarray,
    b: np.ndarray,
    *,
    nearest: Sequence[bool] | None = None,
    resample: str = "bilinear",
) -> np.ndarray:
    """The in-between of scene-linear frames A and B (H x W x C, any range, NaN-free) along learned motion, sampled
    as `resample` says (`warp.RESAMPLES`)."""
    if a.shape != b.shape or a.shape[:2] != motion.to_a.shape[:2]:
        raise ValueError(f"frames {a.shape} / {b.shape} do not match the motion {motion.to_a.shape}")
    a3 = a.reshape(a.shape[0], a.shape[1], -1)
    b3 = b.reshape(a3.shape)
    flags = np.zeros(a3.shape[2], bool) if nearest is None else np.asarray(nearest, bool)
    to_a, to_b = motion.to_a.copy(), motion.to_b.copy()
    out = blend_warped(a3, b3, to_a, to_b, motion.weight_b, flags, static_pixels(a3, b3), resample)
    return out.reshape(a.shape)
