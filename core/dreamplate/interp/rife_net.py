"""RIFE-class intermediate-flow networks (IFNet) in torch, written from the published architecture.

Two variants whose parameter names match the published MIT weights, so `load_rife` loads them with strict=True:

- ``"hdv3"``: RIFE HDv3 (ECCV 2022 release, ``train_log/IFNet_HDv3.py``): three IFBlocks at scales 4, 2, 1, each run
  forward and time-reversed and averaged; PReLU activations; trained for t = 0.5 only.
- ``"v4"``: RIFE 4.x (5 blocks at scales 16, 8, 4, 2, 1, a 4-channel feature Head, residual convs with a learned
  per-channel scale, LeakyReLU, PixelShuffle output) with the time step as an input plane.

`RifeFlowNet` returns only what the lead needs to interpolate scene-linear HDR pixels outside the net: the two
backward-warp flows (pixels) and the blend mask after the sigmoid. No merged image, no clamping.

torch is imported by this module: import it only where a torch model is wanted (`import dreamplate` stays light).
"""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dreamplate.errors import ModelError

log = logging.getLogger(__name__)

VARIANTS = ("hdv3", "v4")

SCALE_LISTS: dict[str, tuple[int, ...]] = {"hdv3": (4, 2, 1), "v4": (16, 8, 4, 2, 1)}
"""The published default downscale factor of each block (the `scale_list` at the published `scale=1`)."""

_BLOCK_STRIDE = 4
"""Each IFBlock downsamples its (already rescaled) input by two stride-2 convs and upsamples back by 4."""

PAD_MULTIPLE: dict[str, int] = {v: max(s) * _BLOCK_STRIDE for v, s in SCALE_LISTS.items()}
"""Frame height and width must be multiples of this so every block's resize and stride round-trips exactly:
the largest block scale times the block stride (hdv3: 4 * 4 = 16, v4: 16 * 4 = 64; the v4 Head's single stride 2
divides both). The published HDv3 scripts pad to 32, which is also a multiple of 16."""

_PREFIX = "module."
"""Published HDv3 weights were saved from a DistributedDataParallel wrapper; the prefix is stripped on load."""


# --- shared pieces ------------------------------------------------------------------------------------------------


class BackwardWarp(nn.Module):
    """Sample `img` at (x, y) + flow: bilinear, border padding, align_corners=True, as the published nets train with.

    The pixel grid is built from the input itself (a cumulative sum of ones) rather than from Python shape
    arithmetic or a shape-keyed cache, so an exported ONNX graph keeps height and width dynamic. Kept as a module so
    exported nodes sit under a `warp` scope, which the fp16 conversion keeps in fp32 (a normalised fp16 grid is off
    by about a pixel at 2K).
    """

    def forward(self, img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
        ones = torch.ones_like(flow[:, :1])
        xs = torch.cumsum(ones, dim=3) - 1.0  # 0 .. W-1 along each row
        ys = torch.cumsum(ones, dim=2) - 1.0  # 0 .. H-1 down each column
        half_w = torch.amax(xs, dim=(2, 3), keepdim=True) / 2.0  # (W - 1) / 2, as a tensor
        half_h = torch.amax(ys, dim=(2, 3), keepdim=True) / 2.0
        gx = (xs + flow[:, 0:1]) / half_w - 1.0
        gy = (ys + flow[:, 1:2]) / half_h - 1.0
        grid = torch.cat((gx, gy), dim=1).permute(0, 2, 3, 1)
        return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear resize by `factor` (align_corners=False, as published); a factor of 1 is the identity and skipped."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


# --- hdv3 --------------------------------------------------------------------------------------------------------


def _conv_prelu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + per-channel PReLU: the HDv3 unit (its parameter names are `0.weight`, `0.bias`, `1.weight`)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.PReLU(c_out))


def _hd_upsampler(c: int, c_out: int) -> nn.Sequential:
    """Two stride-2 transposed convs back to the block's input resolution."""
    return nn.Sequential(
        nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.PReLU(c // 2), nn.ConvTranspose2d(c // 2, c_out, 4, 2, 1)
    )


class HDBlock(nn.Module):
    """One HDv3 IFBlock: (frames, mask, flow) at 1/scale -> flow residual (pixels) and mask-logit residual."""

    def __init__(self, c_in: int, c: int = 90) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_prelu(c_in, c // 2, 2), _conv_prelu(c // 2, c, 2))
        # Four residual pairs, named as published.
        self.convblock0 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock1 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock2 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.convblock3 = nn.Sequential(_conv_prelu(c, c), _conv_prelu(c, c))
        self.conv1 = _hd_upsampler(c, 4)
        self.conv2 = _hd_upsampler(c, 1)

    def forward(self, x: torch.Tensor, flow: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = _resize(x, 1.0 / scale)
        flow = _resize(flow, 1.0 / scale) / scale  # flows are in pixels: they shrink with the image
        feat = self.conv0(torch.cat((x, flow), 1))
        for stage in (self.convblock0, self.convblock1, self.convblock2, self.convblock3):
            feat = stage(feat) + feat
        flow = _resize(self.conv1(feat), scale) * scale
        mask = _resize(self.conv2(feat), scale)
        return flow, mask


class IFNetHDv3(nn.Module):
    """RIFE HDv3: flows and mask logit at t = 0.5, refined coarse to fine, each block averaged with its mirror run."""

    def __init__(self) -> None:
        super().__init__()
        self.block0 = HDBlock(7 + 4)
        self.block1 = HDBlock(7 + 4)
        self.block2 = HDBlock(7 + 4)
        # Training-only teacher (it also sees the ground-truth frame); present so the published file loads strictly.
        self.block_tea = HDBlock(10 + 4)
        self.warp = BackwardWarp()

    def forward(self, img0: torch.Tensor, img1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow (N x 4, pixels) and mask logit (N x 1) at t = 0.5."""
        zero = torch.zeros_like(img0[:, :1])
        flow = torch.cat((zero, zero, zero, zero), 1)
        mask = zero
        warped0, warped1 = img0, img1
        for block, scale in zip((self.block0, self.block1, self.block2), SCALE_LISTS["hdv3"], strict=True):
            f0, m0 = block(torch.cat((warped0, warped1, mask), 1), flow, scale)
            # The same block run with the frames swapped; its flows swap back and its mask changes sign.
            f1, m1 = block(torch.cat((warped1, warped0, -mask), 1), torch.cat((flow[:, 2:4], flow[:, :2]), 1), scale)
            flow = flow + (f0 + torch.cat((f1[:, 2:4], f1[:, :2]), 1)) / 2
            mask = mask + (m0 - m1) / 2
            warped0 = self.warp(img0, flow[:, :2])
            warped1 = self.warp(img1, flow[:, 2:4])
        return flow, mask


# --- v4 ----------------------------------------------------------------------------------------------------------


def _conv_lrelu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv + LeakyReLU(0.2): the 4.x unit (parameter names `0.weight`, `0.bias`)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.LeakyReLU(0.2))


class Head(nn.Module):
    """The 4.x feature encoder: 3 -> 4 channels at full resolution (one stride-2 conv, one stride-2 deconv)."""

    def __init__(self) -> None:
        super().__init__()
        self.cnn0 = nn.Conv2d(3, 16, 3, 2, 1)
        self.cnn1 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.cnn3 = nn.ConvTranspose2d(16, 4, 4, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.cnn0(x), 0.2)
        x = F.leaky_relu(self.cnn1(x), 0.2)
        x = F.leaky_relu(self.cnn2(x), 0.2)
        return self.cnn3(x)


class ResConv(nn.Module):
    """Residual 3x3 conv whose branch is scaled by a learned per-channel `beta`, then LeakyReLU(0.2)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones((1, c, 1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.conv(x) * self.beta + x, 0.2)


class V4Block(nn.Module):
    """One 4.x IFBlock: inputs at 1/scale -> 13 planes at full size: flow (4, pixels), mask logit (1), features (8)."""

    def __init__(self, c_in: int, c: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv_lrelu(c_in, c // 2, 2), _conv_lrelu(c // 2, c, 2))
        self.convblock = nn.Sequential(*(ResConv(c) for _ in range(8)))
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * 13, 4, 2, 1), nn.PixelShuffle(2))

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _resize(x, 1.0 / scale)
        if flow is not None:
            x = torch.cat((x, _resize(flow, 1.0 / scale) / scale), 1)
        out = _resize(self.lastconv(self.convblock(self.conv0(x))), scale)
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]


class IFNetV4(nn.Module):
    """RIFE 4.x (5 blocks, feature Head): flows and mask logit at any t in [0, 1], refined coarse to fine."""

    def __init__(self) -> None:
        super().__init__()
        self.block0 = V4Block(7 + 8, c=192)  # both frames, both Head features, t
        self.block1 = V4Block(8 + 4 + 8 + 8, c=128)  # + flow, mask, block features
        self.block2 = V4Block(8 + 4 + 8 + 8, c=96)
        self.block3 = V4Block(8 + 4 + 8 + 8, c=64)
        self.block4 = V4Block(8 + 4 + 8 + 8, c=32)
        self.encode = Head()
        # Training-only parts of the published checkpoint (a teacher block that sees the ground truth and a time
        # estimator); never run, present so the published file loads strictly.
        self.teacher = V4Block(8 + 4 + 8 + 3 + 8, c=64)
        self.caltime = nn.Sequential(
            nn.Conv2d(17, 32, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(32, 64, 3, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 64, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 64, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 1, 3, 1, 1),
        )
        self.warp = BackwardWarp()

    def forward(
        self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flow (N x 4, pixels) and mask logit (N x 1) at `timestep` (N x 1 x 1 x 1)."""
        t_plane = torch.ones_like(img0[:, :1]) * timestep
        feat0 = self.encode(img0)
        feat1 = self.encode(img1)
        blocks = (self.block0, self.block1, self.block2, self.block3, self.block4)
        scales = SCALE_LISTS["v4"]
        flow, mask, feat = blocks[0](torch.cat((img0, img1, feat0, feat1, t_plane), 1), None, scales[0])
        # Each frame and its features are warped in one call: the same samples, half the grid work.
        source0 = torch.cat((img0, feat0), 1)
        source1 = torch.cat((img1, feat1), 1)
        for block, scale in zip(blocks[1:], scales[1:], strict=True):
            warped0 = self.warp(source0, flow[:, :2])
            warped1 = self.warp(source1, flow[:, 2:4])
            x = torch.cat((warped0[:, :3], warped1[:, :3], warped0[:, 3:], warped1[:, 3:], t_plane, mask, feat), 1)
            d_flow, mask, feat = block(x, flow, scale)
            flow = flow + d_flow
        return flow, mask


# --- the wrapper the engine uses ---------------------------------------------------------------------------------

_T_EPS = 1e-6
"""hdv3's time prior is log((1 - t) / t): t is kept this far inside (0, 1) so t = 0 or 1 gives a finite logit."""


class RifeFlowNet(nn.Module):
    """One RIFE variant behind the interface the interpolation op uses.

    forward(img0, img1, timestep): img0, img1 float32 N x 3 x H x W in [0, 1], H and W multiples of
    `PAD_MULTIPLE[variant]`; timestep N x 1 x 1 x 1 in [0, 1]. Returns (flow, mask): flow N x 4 x H x W in pixels,
    channels 0-1 the backward-warp offset from time t to frame 0, channels 2-3 from t to frame 1; mask N x 1 x H x W
    in (0, 1), the weight of warped frame 0 (frame 1 gets 1 - mask).

    hdv3 was trained for t = 0.5 only. For other t it is run at 0.5 and adapted, an approximation that assumes
    linear motion: flow_t->0 = 2t * f0, flow_t->1 = 2(1 - t) * f1, and the mask logit is shifted by
    log((1 - t) / t), i.e. the occlusion weights are time-weighted as in Super SloMo (weight0 proportional to
    (1 - t) * m, weight1 to t * (1 - m)), so each frame takes over as t approaches it. At t = 0.5 both
    adaptations are the identity and the output is the published net's. v4 takes t natively.
    """

    def __init__(self, variant: str) -> None:
        super().__init__()
        self.variant = check_variant(variant)
        self.ifnet: nn.Module = IFNetHDv3() if variant == "hdv3" else IFNetV4()

    @property
    def pad_multiple(self) -> int:
        """Height and width of the frames must be multiples of this."""
        return PAD_MULTIPLE[self.variant]

    def forward(
        self, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.variant == "v4":
            flow, logit = self.ifnet(img0, img1, timestep)
            return flow, torch.sigmoid(logit)
        flow, logit = self.ifnet(img0, img1)
        flow = torch.cat((flow[:, :2] * (2.0 * timestep), flow[:, 2:4] * (2.0 * (1.0 - timestep))), 1)
        t = timestep.clamp(_T_EPS, 1.0 - _T_EPS)
        return flow, torch.sigmoid(logit + torch.log((1.0 - t) / t))


def load_rife(variant: str, path: Path) -> RifeFlowNet:
    """Load published RIFE weights (a torch state dict, `module.` prefixes allowed) strictly, in eval mode.

    Raises ModelError naming the file when it cannot be read or its keys or shapes do not match the variant.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        # weights_only refuses pickles holding code; a truncated or foreign file fails here too.
        raise ModelError(f"{path}: cannot load RIFE {variant} weights: {str(exc).splitlines()[0]}") from exc
    if not isinstance(state, dict):
        raise ModelError(f"{path}: not a RIFE {variant} state dict (a {type(state).__name__})")
    state = {(k[len(_PREFIX) :] if k.startswith(_PREFIX) else k): v for k, v in state.items()}
    net = RifeFlowNet(variant)
    _check_keys(net.ifnet, state, path, variant)
    try:
        net.ifnet.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # shape mismatches: the keys matched but a tensor's size did not
        first = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc))
        raise ModelError(f"{path}: RIFE {variant} weights do not match: {first}") from exc
    log.info("RIFE %s: loaded %d tensors from %s", variant, len(state), path)
    return net.eval()


def _check_keys(module: nn.Module, state: dict[str, torch.Tensor], path: Path, variant: str) -> None:
    """Raise ModelError in one line listing the first missing and unexpected keys, if any."""
    expected = set(module.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if not missing and not unexpected:
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
    if unexpected:
        more = ", ..." if len(unexpected) > 3 else ""
        parts.append(f"{len(unexpected)} unexpected ({', '.join(unexpected[:3])}{more})")
    raise ModelError(f"{path}: not RIFE {variant} weights: {'; '.join(parts)} keys")


def build_random(variant: str, seed: int = 0) -> RifeFlowNet:
    """A randomly initialised net (torch's default init under `seed`), in eval mode: for tests, no weights needed."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        net = RifeFlowNet(variant)
    finally:
        torch.random.set_rng_state(generator_state)
    return net.eval()


def check_variant(variant: str) -> str:
    """`variant` if it names a RIFE variant, else ModelError."""
    if variant not in VARIANTS:
        raise ModelError(f"RIFE: unknown variant {variant!r}, expected one of {', '.join(VARIANTS)}")
    return variant
