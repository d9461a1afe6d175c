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
