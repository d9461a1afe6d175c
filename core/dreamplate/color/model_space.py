"""The signal a method works in: encode scene-linear pixels into it, decode results back, exactly.

Every op declares a `ModelSpace`. Networks and flow estimators want a perceptual, nominally [0, 1]
signal; a display view would give them one but clips and cannot be undone, so dreamplate uses a log
curve with headroom instead. The curve runs per channel in the input's own colour space: a gamut
matrix before it cannot be undone exactly once the encoded signal is float32 (rounding of 65504 in R
leaks into a near-zero G by more than a half step), and a per-channel curve has no such coupling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import PyOpenColorIO as ocio

HALF_MAX = 65504.0


@runtime_checkable
class ModelSpace(Protocol):
    """What an op declares: a name for provenance and an exactly invertible encode/decode pair."""

    @property
    def name(self) -> str: ...

    def encode(self, linear: np.ndarray) -> np.ndarray:
        """Scene-linear (float32, any shape, channels last, input's colour space) -> encoded float32."""
        ...

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Encoded float32 -> scene-linear float32 in the input's colour space."""
        ...


@dataclass(frozen=True)
class LogModelSpace:
    """ACEScct-style log curve with a linear toe through zero, scaled so that `peak` encodes to 1.0.

    For x >= toe_break: y = slope * (log2(x / toe_break) + 1 / ln 2); below it: y = x * toe_slope.
    The two meet with equal value and slope at toe_break, so black encodes to 0, noise and small
    negatives stay linear (no log of zero), and denormals keep their spacing. The toe continues
    linearly for large negatives, as ACEScct and OCIO's LogCameraTransform do.

    Defaults (peak 65504, toe_break 2^-7): 0 -> 0, 0.18 -> 0.244, 1.0 -> 0.345, 65504 -> 1.0, so
    every finite non-negative half lands in [0, 1] and nothing a network clamps at 1 is lost;
    -65504 -> -494,898 (finite). +-Inf stay +-Inf and NaN stays NaN, both ways.
    decode(encode(x)) rounded to half equals x for every finite half value; for float32 inputs that
    are not halves the relative round-trip error is about 1e-6.
    """

    peak: float = HALF_MAX
    toe_break: float = 2.0**-7

    def __post_init__(self) -> None:
        if not 0.0 < self.toe_break < self.peak:
            raise ValueError(f"log model space: need 0 < toe_break < peak, got {self.toe_break}, {self.peak}")

    @property
    def name(self) -> str:
        if (self.peak, self.toe_break) == (HALF_MAX, 2.0**-7):
            return "dreamplate_log"
        return f"dreamplate_log(peak={self.peak:g},toe_break={self.toe_break:g})"

    @property
    def slope(self) -> float:
        """Encoded units per stop above the toe."""
        return 1.0 / (math.log2(self.peak / self.toe_break) + 1.0 / math.log(2.0))

    @property
    def offset(self) -> float:
        """The log segment's constant: y = slope * log2(x) + offset."""
        return self.slope * (1.0 / math.log(2.0) - math.log2(self.toe_break))

    @property
    def toe_slope(self) -> float:
        """Slope of the linear toe, equal to the log segment's slope at toe_break (C1 join)."""
        return self.slope / (self.toe_break * math.log(2.0))

    @property
    def encoded_break(self) -> float:
        """The encoded value of toe_break, where decode switches from the toe to the log."""
        return self.slope / math.log(2.0)

    def encode(self, linear: np.ndarray) -> np.ndarray:
        """Scene-linear float32 (any shape, input's colour space) -> encoded float32, nominal [0, 1]."""
        x = np.asarray(linear, dtype=np.float32)
        # In-place passes keep a 2K RGB frame to a handful of sweeps over memory.
        out = np.maximum(x, np.float32(self.toe_break))
        np.log2(out, out=out)
        out *= np.float32(self.slope)
        out += np.float32(self.offset)
        # NaN compares false, so it keeps the log branch's NaN; -Inf takes the toe and stays -Inf.
        # Float inputs beyond the half range may overflow the toe to -Inf: the faithful answer, not worth a warning.
        with np.errstate(over="ignore"):
            np.copyto(out, x * np.float32(self.toe_slope), where=x < np.float32(self.toe_break))
        return out

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Encoded float32 -> scene-linear float32 in the input's colour space."""
        y = np.asarray(encoded, dtype=np.float32)
        out = np.maximum(y, np.float32(self.encoded_break))
        out -= np.float32(self.offset)
        out *= np.float32(1.0 / self.slope)
        np.exp2(out, out=out)
        np.copyto(out, y / np.float32(self.toe_slope), where=y < np.float32(self.encoded_break))
        return out

    def ocio_transform(self) -> ocio.LogCameraTransform:
        """The same curve as an OCIO transform (forward = encode), for configs and viewing in a comp."""
        return ocio.LogCameraTransform(
            base=2.0,
            logSideSlope=[self.slope] * 3,
            logSideOffset=[self.offset] * 3,
            linSideSlope=[1.0] * 3,
            linSideOffset=[0.0] * 3,
            linSideBreak=[self.toe_break] * 3,
        )


def log_model_space(peak: float = HALF_MAX, toe_break: float = 2.0**-7) -> LogModelSpace:
    """The log encoding used by flow estimators and networks; `peak` is the linear value sent to 1.0."""
    return LogModelSpace(peak=peak, toe_break=toe_break)


# --- the video model space -------------------------------------------------------------------------------------------
# Video models (Wan, LTX) were trained on display-referred 8-bit video: they expect a [0, 1] signal whose mid grey sits
# near 0.45 and whose highlights roll off, not the log curve above (0.18 -> 0.24 would look two stops dark to them).

VIDEO_WHITE = 16.0
"""Default white of the video model space: 4 stops over display white, the same headroom the flow estimator sees."""
VIDEO_WHITE_MAX = 1024.0
"""The largest white for which every half in [0, white] still round-trips exactly in float32."""

# sRGB-style transfer with the break chosen so value and slope meet (OCIO's ExponentWithLinearTransform, gamma 2.4,
# offset 0.055): the published 0.0031308/12.92 pair leaves a 1e-7 jump, which would make decode non-monotone there.
_SRGB_GAMMA = 2.4
_SRGB_OFFSET = 0.055
_SRGB_BREAK = (_SRGB_OFFSET / ((1.0 + _SRGB_OFFSET) * (1.0 - 1.0 / _SRGB_GAMMA))) ** _SRGB_GAMMA  # 0.0030399
_SRGB_SLOPE = (1.0 + _SRGB_OFFSET) / _SRGB_GAMMA * _SRGB_BREAK ** (1.0 / _SRGB_GAMMA - 1.0)  # 12.923
_SRGB_ENCODED_BREAK = _SRGB_SLOPE * _SRGB_BREAK  # 0.039286


@dataclass(frozen=True)
class VideoModelSpace:
    """Extended-Reinhard tone curve with white point `white`, then an sRGB-style transfer: display-like, invertible.

    Tone: t = x * (1 + x / white^2) / (1 + x) for 0 <= x <= white (white -> 1.0, slope 1 at 0), t = x below 0 (a linear
    toe through zero, C1 with the curve). Transfer: y = 1.055 * t^(1/2.4) - 0.055 above a break of 0.00304, y = 12.923 t
    below (negatives included). Per channel, in the input's own colour space, like the log space.

    Defaults (white 16): 0 -> 0, 0.18 -> 0.427 (sRGB puts it at 0.461), 1.0 -> 0.737, 4.0 -> 0.913, 16 -> 1.0, so the
    four stops over display white keep a quarter of the code range. decode(encode(x)) rounded to half equals x for every
    half in [-65504, white] (white in [1, 1024]). Above white, encode saturates at exactly 1.0 and decode(1.0) == white
    (to float32 rounding; exactly for powers of two, the default included): what is over white
    is not in the signal, and `dreamplate.gen.plate.from_model` carries it over from the plate (highlight restore).
    NaN stays NaN both ways; +Inf encodes to 1.0, -Inf to -Inf.
    """

    white: float = VIDEO_WHITE

    def __post_init__(self) -> None:
        # Above 1024 the curve's top is so flat that float32 no longer tells neighbouring halves apart.
        if not 1.0 <= self.white <= VIDEO_WHITE_MAX:
            raise ValueError(f"video model space: white must be in [1, {VIDEO_WHITE_MAX:g}], got {self.white}")

    @property
    def name(self) -> str:
        if self.white == VIDEO_WHITE:
            return "dreamplate_video"
        return f"dreamplate_video(white={self.white:g})"

    def encode(self, linear: np.ndarray) -> np.ndarray:
        """Scene-linear float32 (any shape, input's colour space) -> encoded float32; [0, white] lands in [0, 1]."""
        x = np.asarray(linear, dtype=np.float32)
        inv_w2 = np.float32(1.0 / (self.white * self.white))
        # Clamping first keeps x^2 finite and sends everything over white (and +Inf) to exactly 1.0.
        c = np.minimum(x, np.float32(self.white))
        positive = np.maximum(c, np.float32(0.0))
        tone = positive * (np.float32(1.0) + positive * inv_w2) / (np.float32(1.0) + positive)
        np.copyto(tone, c, where=~(c > 0))  # the linear toe; -0 stays -0 and NaN (compares false) stays NaN
        out = np.maximum(tone, np.float32(_SRGB_BREAK))
        np.power(out, np.float32(1.0 / _SRGB_GAMMA), out=out)
        out *= np.float32(1.0 + _SRGB_OFFSET)
        out -= np.float32(_SRGB_OFFSET)
        np.copyto(out, tone * np.float32(_SRGB_SLOPE), where=~(tone >= np.float32(_SRGB_BREAK)))
        np.copyto(out, np.float32(1.0), where=c >= np.float32(self.white))
        return out

    def decode(self, encoded: np.ndarray) -> np.ndarray:
        """Encoded float32 -> scene-linear float32; [0, 1] lands in [0, white] (values over 1 decode above white)."""
        y = np.asarray(encoded, dtype=np.float32)
        tone = np.maximum(y, np.float32(_SRGB_ENCODED_BREAK))
        tone += np.float32(_SRGB_OFFSET)
        tone /= np.float32(1.0 + _SRGB_OFFSET)  # a division, so 1.0 decodes to exactly white
        np.power(tone, np.float32(_SRGB_GAMMA), out=tone)
        np.copyto(tone, y / np.float32(_SRGB_SLOPE), where=~(y >= np.float32(_SRGB_ENCODED_BREAK)))
        # Inverse of the tone curve, the quadratic's positive root in the form without cancellation near 0.
        positive = np.maximum(tone, np.float32(0.0))
        one_minus = np.float32(1.0) - positive
        root = np.sqrt(one_minus * one_minus + positive * np.float32(4.0 / (self.white * self.white)))
        out = np.float32(2.0) * positive / (one_minus + root)
        np.copyto(out, tone, where=~(tone > 0))
        return out


def video_model_space(white: float = VIDEO_WHITE) -> VideoModelSpace:
    """The display-like space video models see; `white` (scene-linear) is sent to 1.0 and everything above saturates."""
    return VideoModelSpace(white=white)
