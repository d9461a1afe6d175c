"""The plate <-> model boundary: size, colour and mattes between scene-linear plates and a video model's frames.

A video model wants display-like [0, 1] frames at a size that is a multiple of 16 or 32; a plate is scene-linear,
any size, and brighter than 1.0. `to_model` encodes (the video model space) and resizes/pads; `from_model` undoes
both and puts back what the model could not see: the plate's highlights above the space's white, and the plate's
fine detail where the model returned the plate. `composite_with_matte` then limits the change to a matte, and
`onto_plate` puts the result back on the plate's own data window.
Pure numpy/OpenCV: no torch here, so all of it is tested in milliseconds.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dreamplate.color.model_space import VideoModelSpace
from dreamplate.errors import InputError, JobError
from dreamplate.io.exr import Box, ExrImage, read_exr, window_size
from dreamplate.io.raster import read_raster
from dreamplate.ops.plate.reading import place_on_window
from dreamplate.ops.plate.sources import is_raster

log = logging.getLogger(__name__)

_PAD_MODES = {"edge": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT_101}
DETAIL_TOLERANCE = 0.1
"""Encoded difference (max over channels) at which the plate's detail is no longer added back (0.05: half of it)."""
HIGHLIGHT_KNEE = 0.9
"""Encoded model output from which a saturated plate's highlight starts coming back (fully at 1.0)."""
_SATURATED = 1.0 - 1e-4  # float32 sums that should give 1.0 land within a few ulps of it


@dataclass(frozen=True)
class ModelGeometry:
    """How a plate's display window maps onto a model frame: resize to `content_size`, then pad to `model_size`.

    Sizes are (width, height). The content sits at `offset` (x, y) inside the model frame, centred; the padding
    around it repeats the edge (`pad_mode` "edge") or mirrors it ("reflect"), so the model sees no hard border.
    `to_model_frames` and `from_model_frames` are each other's inverse up to the resampling: with
    content_size == plate_size they are exact (pad, then crop).
    """

    plate_size: tuple[int, int]
    content_size: tuple[int, int]
    model_size: tuple[int, int]
    offset: tuple[int, int]
    pad_mode: str = "edge"

    def __post_init__(self) -> None:
        if self.pad_mode not in _PAD_MODES:
            raise JobError(f"pad_mode must be one of {', '.join(_PAD_MODES)}, got {self.pad_mode!r}")
        (cw, ch), (mw, mh), (ox, oy) = self.content_size, self.model_size, self.offset
        if min(ox, oy) < 0 or ox + cw > mw or oy + ch > mh:
            raise ValueError(f"content {cw}x{ch} at {ox},{oy} does not fit the model frame {mw}x{mh}")

    @property
    def scale(self) -> float:
        """Model pixels per plate pixel (horizontal; the vertical scale differs only by rounding)."""
        return self.content_size[0] / self.plate_size[0]

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) pixels of padding around the content."""
        (cw, ch), (mw, mh), (ox, oy) = self.content_size, self.model_size, self.offset
        return ox, oy, mw - cw - ox, mh - ch - oy

    def to_model_frames(self, frames: np.ndarray) -> np.ndarray:
        """(T, H, W, C) frames at plate size -> (T, h, w, C) at model size: resize (area when shrinking), pad."""
        left, top, right, bottom = self.padding
        border = _PAD_MODES[self.pad_mode]
        out = [cv2.copyMakeBorder(self.shrink(f), top, bottom, left, right, border) for f in frames]
        return _restack(out, frames)

    def from_model_frames(self, frames: np.ndarray) -> np.ndarray:
        """(T, h, w, C) frames at model size -> (T, H, W, C) at plate size: crop the padding, resize back."""
        return _restack([self.grow(self.crop(f)) for f in frames], frames)

    def shrink(self, frame: np.ndarray) -> np.ndarray:
        """One (H, W, C) plate-size frame resized to the content size (no padding)."""
        return _resize(frame, self.content_size)

    def crop(self, frame: np.ndarray) -> np.ndarray:
        """One (h, w, C) model-size frame cut down to its content."""
        (cw, ch), (ox, oy) = self.content_size, self.offset
        return frame[oy : oy + ch, ox : ox + cw]

    def grow(self, frame: np.ndarray) -> np.ndarray:
        """One (h', w', C) content-size frame resized back to the plate size."""
        return _resize(frame, self.plate_size)


def fit_geometry(
    plate_size: tuple[int, int],
    spatial_multiple: int,
    target_size: tuple[int, int] | None = None,
    max_area: int | None = None,
    *,
    pad_mode: str = "edge",
) -> ModelGeometry:
    """The model geometry for a plate of `plate_size` (width, height of its display window).

    `target_size` (width, height; each rounded down to the multiple): the plate is scaled to fit inside it, aspect
    kept, and padded up to multiples of `spatial_multiple` (a 1920x1080 plate into 832x480 is 832x468 + 12 rows).
    `max_area`: the plate is scaled so the padded model frame holds at most that many pixels, whatever its aspect
    (the right choice for portrait plates and models that take any aspect, like Wan's 480*832). Both: the smaller
    scale wins. Neither: the plate keeps its size and is only padded. Small plates are scaled up to the target,
    since models generate poorly far below their trained size. Raises JobError for sizes that cannot work.
    """
    width, height = plate_size
    if width < 1 or height < 1:
        raise JobError(f"plate size must be positive, got {width}x{height}")
    if spatial_multiple < 1:
        raise JobError(f"spatial_multiple must be 1 or more, got {spatial_multiple}")
    m = spatial_multiple
    scale = math.inf
    limit_w = limit_h = None
    if target_size is not None:
        limit_w, limit_h = (target_size[0] // m) * m, (target_size[1] // m) * m
        if limit_w < m or limit_h < m:
            raise JobError(f"target_size {target_size[0]}x{target_size[1]} is smaller than one {m}-pixel block")
        scale = min(limit_w / width, limit_h / height)
    if max_area is not None:
        if max_area < m * m:
            raise JobError(f"max_area {max_area} is smaller than one {m}x{m} block")
        scale = min(scale, math.sqrt(max_area / (width * height)))
    if math.isinf(scale):
        scale = 1.0
    # Rounding up to the multiple can push the padded frame over max_area: shrink a little until it fits.
    for _ in range(1000):
        content = (max(1, round(width * scale)), max(1, round(height * scale)))
        if limit_w is not None:
            content = (min(content[0], limit_w), min(content[1], limit_h))
        model = (-(-content[0] // m) * m, -(-content[1] // m) * m)
        if max_area is None or model[0] * model[1] <= max_area:
            break
        scale *= 0.995
    offset = ((model[0] - content[0]) // 2, (model[1] - content[1]) // 2)
    geometry = ModelGeometry((width, height), content, model, offset, pad_mode)
    log.debug("model geometry: plate %dx%d -> %dx%d padded to %dx%d", width, height, *content, *model)
    return geometry


def to_model(linear_rgb: np.ndarray, geometry: ModelGeometry, space: VideoModelSpace) -> np.ndarray:
    """Scene-linear plate frames (T, H, W, 3) float32 -> the model's frames (T, h, w, 3) float32 in [0, 1].

    Encoded with `space` at plate size (values over its white saturate at 1.0, negatives clip to 0), then resized and
    padded in the encoded signal, as display video would be. NaN/Inf pixels are treated as 0, so they never spread.
    """
    _check_frames(linear_rgb, "linear_rgb")
    out = [np.clip(geometry.shrink(_encode_plate(frame, space)[0]), 0.0, 1.0) for frame in linear_rgb]
    left, top, right, bottom = geometry.padding
    border = _PAD_MODES[geometry.pad_mode]
    return _restack([cv2.copyMakeBorder(f, top, bottom, left, right, border) for f in out], linear_rgb)


def from_model(
    model_rgb: np.ndarray,
    geometry: ModelGeometry,
    space: VideoModelSpace,
    plate_linear: np.ndarray,
    *,
    detail_tolerance: float | None = DETAIL_TOLERANCE,
    highlight_knee: float = HIGHLIGHT_KNEE,
) -> np.ndarray:
    """The model's frames (T, h, w, 3) in [0, 1] -> scene-linear (T, H, W, 3) float32 at plate size.

    Steps per frame, all per channel:
    1. crop and resize back to plate size (values clipped to [0, 1], as models clamp);
    2. detail: the model ran at a lower resolution, so the plate's own high frequencies (its encoded signal minus
       what the model was given, brought back up the same way) are added back, weighted by how close the model's
       output is to its input: fully where they match, not at all from `detail_tolerance` on (None: off). Where the
       model returned its input unchanged this gives back the plate itself, negatives included, within half
       precision; where it changed the picture nothing of the plate leaks through;
    3. decode with `space`;
    4. highlights: where a plate channel is above the space's white (its encoded value hit 1.0) and the output is
       near 1.0 too, the output is multiplied by that channel's ratio plate / white, so a 500.0 sun the model kept
       comes back at 500.0, not at white. The weight rises smoothly from `highlight_knee` to 1.0 (encoded output),
       so a highlight the model darkened stays as the model made it, and a new highlight the model made where the
       plate had none stops at white: nothing is invented.
    NaN/Inf plate pixels: treated as 0 and given no detail or highlight, so the output is finite and holds the model's
    value there; a matte composite (`composite_with_matte`) returns them untouched outside the matte.
    """
    _check_frames(model_rgb, "model_rgb")
    _check_frames(plate_linear, "plate_linear")
    if len(model_rgb) != len(plate_linear):
        raise ValueError(f"from_model: {len(model_rgb)} model frames for {len(plate_linear)} plate frames")
    expected = (geometry.model_size[1], geometry.model_size[0])
    if model_rgb.shape[1:3] != expected:
        raise ValueError(
            f"from_model: model frames are {model_rgb.shape[2]}x{model_rgb.shape[1]}, geometry says "
            f"{expected[1]}x{expected[0]}"
        )
    white = np.float32(space.white)
    out = np.empty(plate_linear.shape, np.float32)
    for index, (frame, plate) in enumerate(zip(model_rgb, plate_linear, strict=True)):
        result = np.clip(geometry.grow(np.clip(geometry.crop(frame.astype(np.float32, copy=False)), 0, 1)), 0, 1)
        encoded, finite, plate0 = _encode_plate(plate, space)
        if detail_tolerance is not None:
            given = np.clip(geometry.grow(np.clip(geometry.shrink(encoded), 0, 1)), 0, 1)
            closeness = np.abs(result - given).max(axis=-1)
            weight = _smoothstep(1.0 - closeness / np.float32(detail_tolerance))
            weight[~finite] = 0.0
            result += weight[..., None] * (encoded - given)
            np.minimum(result, np.float32(1.0), out=result)
        linear = space.decode(result)
        over = plate0 > white
        if over.any():
            restore = _smoothstep((result - np.float32(highlight_knee)) / np.float32(_SATURATED - highlight_knee))
            restore[~over] = 0.0
            ratio = np.where(over, plate0 / white, np.float32(1.0))
            linear *= np.float32(1.0) + restore * (ratio - np.float32(1.0))
        out[index] = linear
    return out


def feather_alpha(matte: np.ndarray, feather_px: float, temporal_radius: int = 0) -> np.ndarray:
    """The blend alpha for a matte (T, H, W) in [0, 1]: zero wherever the matte is zero, a soft ramp inside its edge.

    alpha = matte' * smoothstep(distance / feather_px), where distance is each pixel's Euclidean distance to the
    nearest pixel whose matte is 0 in the same frame (the frame border does not count as an edge), so the ramp lies
    wholly inside the matte and the outside stays exactly the plate. Each frame's ramp depends on that frame's matte
    alone: deterministic, and two identical mattes give identical edges. matte' is the matte itself, or with
    `temporal_radius` r > 0 its mean over frames t-r..t+r (clamped at the ends), which calms a chattering roto
    inside the edge; the ramp still comes from frame t's own matte, so the outside stays exact.
    """
    if matte.ndim != 3:
        raise ValueError(f"matte must be (T, H, W), got shape {matte.shape}")
    if feather_px < 0 or temporal_radius < 0:
        raise JobError(f"feather must be >= 0 pixels and temporal radius >= 0, got {feather_px}, {temporal_radius}")
    matte = np.clip(np.nan_to_num(matte.astype(np.float32, copy=False), nan=0.0), 0.0, 1.0)
    smoothed = matte
    if temporal_radius > 0:
        csum = np.concatenate([np.zeros_like(matte[:1]), np.cumsum(matte, axis=0, dtype=np.float64)])
        count = len(matte)
        lo = np.clip(np.arange(count) - temporal_radius, 0, count)
        hi = np.clip(np.arange(count) + temporal_radius + 1, 0, count)
        smoothed = ((csum[hi] - csum[lo]) / (hi - lo)[:, None, None]).astype(np.float32)
    alpha = np.empty_like(matte)
    for index, frame in enumerate(matte):
        inside = (frame > 0).astype(np.uint8)
        if feather_px == 0:
            ramp = inside.astype(np.float32)
        else:
            distance = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            ramp = _smoothstep(distance / np.float32(feather_px))
        alpha[index] = smoothed[index] * ramp
    return alpha


def composite_with_matte(
    generated: np.ndarray, plate: np.ndarray, matte: np.ndarray, feather_px: float, temporal_radius: int = 0
) -> np.ndarray:
    """Generated frames inside the matte, the plate outside: (T, H, W, C) float32 from two (T, H, W, C) inputs.

    The alpha comes from `feather_alpha`. Where it is 0 the result IS the plate's values (NaN/Inf included, bit for
    bit), where it is 1 it is the generated values, and in between generated * a + plate * (1 - a); a non-finite
    plate pixel inside the matte takes the generated value rather than spreading NaN into the blend.
    """
    if generated.shape != plate.shape or matte.shape != plate.shape[:3]:
        raise ValueError(f"composite: generated {generated.shape}, plate {plate.shape}, matte {matte.shape} differ")
    alpha = feather_alpha(matte, feather_px, temporal_radius)[..., None]
    plate32 = plate.astype(np.float32, copy=False)
    gen32 = generated.astype(np.float32, copy=False)
    under = np.where(np.isfinite(plate32), plate32, gen32)
    blended = gen32 * alpha + under * (np.float32(1.0) - alpha)
    out = np.where(alpha >= 1.0, gen32, blended)
    return np.where(alpha <= 0.0, plate32, out)


def read_matte(source: Path | ExrImage, display_window: Box, channel: str | None = None) -> np.ndarray:
    """A matte (H, W) float32 in [0, 1] on the plate's display window, from a file or an already read plate.

    `channel`: a channel name (`A`, `mask.R`, ...); by default the alpha if there is one, else the first colour
    channel (R or Y), else the first channel by name. The matte's data window is placed on its own display window
    (zero outside, as EXR defines); if that differs in size from the plate's `display_window` it is resized to it
    (linear) with an INFO line. PNG/TIFF/JPEG mattes take their alpha or first channel. NaN becomes 0, values are
    clipped to [0, 1]. Raises InputError for a missing file or channel.
    """
    if isinstance(source, ExrImage):
        image, name = source, source.path or "plate"
    elif is_raster(Path(source)):
        pixels = read_raster(Path(source)).pixels
        names = ["R", "G", "B", "A"][: pixels.shape[2]]
        height, width = pixels.shape[:2]
        box = (0, 0, width - 1, height - 1)
        image = ExrImage({n: pixels[..., i] for i, n in enumerate(names)}, {}, box, box, path=Path(source))
        name = source
    else:
        image, name = read_exr(Path(source)), source
    chosen = channel or _default_matte_channel(image.channels)
    if chosen not in image.channels:
        have = ", ".join(sorted(image.channels)) or "none"
        raise InputError(f"{name}: no channel {chosen!r} for the matte (channels: {have})")
    matte = place_on_window(image.channels[chosen].astype(np.float32), image.data_window, image.display_window)
    target = window_size(display_window)
    if (matte.shape[1], matte.shape[0]) != target:
        log.info("%s: matte %dx%d resized to the plate's %dx%d", name, matte.shape[1], matte.shape[0], *target)
        matte = cv2.resize(matte, target, interpolation=cv2.INTER_LINEAR)
    return np.clip(np.nan_to_num(matte, nan=0.0), 0.0, 1.0)


def onto_plate(plate: ExrImage, rgb: np.ndarray) -> ExrImage:
    """A generated frame ready to write: `rgb` (H, W, 3) on the display window, put on the plate's data window.

    Outside the display window (overscan) the plate's own pixels stay, since the model never saw them; the plate's
    alpha passes through (the structure is the plate's). Other channels (depth, IDs, AOVs) are left out: they
    describe the old picture. Y-only plates come back as R, G, B. Half channels; the plate's header attributes.
    """
    (dx0, dy0, dx1, dy1), (cx0, cy0, cx1, cy1) = plate.data_window, plate.display_window
    height, width = dy1 - dy0 + 1, dx1 - dx0 + 1
    channels: dict[str, np.ndarray] = {}
    x0, y0, x1, y1 = max(dx0, cx0), max(dy0, cy0), min(dx1, cx1) + 1, min(dy1, cy1) + 1
    for i, name in enumerate(("R", "G", "B")):
        base = plate.channels.get(name, plate.channels.get("Y"))
        out = np.zeros((height, width), np.float32) if base is None else base.astype(np.float32, copy=True)
        if x0 < x1 and y0 < y1:
            out[y0 - dy0 : y1 - dy0, x0 - dx0 : x1 - dx0] = rgb[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0, i]
        channels[name] = out
    if "A" in plate.channels:
        channels["A"] = plate.channels["A"]
    return ExrImage(
        channels=channels,
        pixel_types=dict.fromkeys(channels, "half"),
        data_window=plate.data_window,
        display_window=plate.display_window,
        attributes=plate.attributes,
    )


# --- helpers ---------------------------------------------------------------------------------------------------------


def _encode_plate(frame: np.ndarray, space: VideoModelSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A plate frame encoded with non-finite pixels as 0; also the per-pixel finite mask and the repaired plate."""
    frame = frame.astype(np.float32, copy=False)
    finite_values = np.isfinite(frame)
    finite = finite_values.all(axis=-1)
    repaired = frame if finite.all() else np.where(finite[..., None], frame, np.float32(0.0))
    if not finite.all():
        log.debug("%d plate pixels hold NaN/Inf: treated as 0 for the model", int((~finite).sum()))
    return space.encode(repaired), finite, repaired


def _resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W, C) to size (width, height): area averaging when shrinking, cubic when growing, copy when equal."""
    height, width = frame.shape[:2]
    if (width, height) == size:
        return frame.copy()
    shrinking = size[0] < width and size[1] < height
    out = cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return out if out.ndim == frame.ndim else out[..., None]


def _restack(frames: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    out = np.stack(frames) if frames else np.empty((0, 0, 0, like.shape[-1]), np.float32)
    return out if out.ndim == like.ndim else out[..., None]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, 3x^2 - 2x^3 between: a ramp with no kink at either end."""
    x = np.clip(x, 0.0, 1.0).astype(np.float32, copy=False)
    return x * x * (np.float32(3.0) - np.float32(2.0) * x)


def _check_frames(frames: np.ndarray, what: str) -> None:
    if frames.ndim != 4:
        raise ValueError(f"{what} must be (T, H, W, C), got shape {frames.shape}")


def _default_matte_channel(channels: dict[str, np.ndarray]) -> str:
    for name in ("A", "R", "Y"):
        if name in channels:
            return name
    return sorted(channels)[0] if channels else "A"
