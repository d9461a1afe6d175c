"""Motion strokes drawn over a still, and the layout control video that moves each stroke's region along it.

The strokes file (`dreamplate.strokes/1`, JSON) is what the hosts write (Nuke from Roto shapes, Blender from Grease
Pencil or annotation strokes) and what an artist may write by hand:

    {"schema": "dreamplate.strokes/1", "origin": "top-left",
     "strokes": [{"points": [[x, y], ...], "frames": [0, 12.5, ...], "matte": "car_matte.exr"}]}

- `points`: the polyline over the still's display window; `origin` "top-left" (EXR, y down, the default) or
  "bottom-left" (Nuke and Blender, y up), `units` "pixels" (the default) or "normalized" (0..1 across the frame, as
  Blender's camera view and Image Editor give them), so a host writes its own coordinates as they are.
- `frames` (optional, one per point, non-decreasing): when the region is at that point, as shot frame offsets
  (0 is the still). Without them the region moves at constant speed along the stroke over the whole shot.
- `matte` (optional): the region the stroke moves, a matte file next to the strokes file (a relative path inside its
  folder, so a server's path check of the strokes file covers it); without one, the region under the stroke's start.
Pure numpy/OpenCV: no torch here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from dreamplate.errors import InputError

SCHEMA = "dreamplate.strokes/1"
ORIGINS = ("top-left", "bottom-left")
UNITS = ("pixels", "normalized")
REGION_TOLERANCE = 0.08
"""Encoded colour difference (max over channels) within which a pixel belongs to the region under a stroke's start."""
MIN_REGION_SHARE = 0.05
"""A colour-filled region smaller than this share of its disc is taken as noise: the disc itself is the region."""


@dataclass(frozen=True)
class Stroke:
    """One stroke: points (N, 2) float64 in top-left pixel coordinates, their shot frame offsets, its matte file."""

    points: np.ndarray
    frames: np.ndarray | None
    matte: Path | None

    def position(self, offset: float, last: float) -> np.ndarray:
        """Where the stroke's region is at shot frame offset `offset` (0 .. `last`): (x, y) on the polyline."""
        if len(self.points) == 1:
            return self.points[0].copy()
        if self.frames is not None:
            times = self.frames
        else:
            steps = np.linalg.norm(np.diff(self.points, axis=0), axis=1)
            along = np.concatenate([[0.0], np.cumsum(steps)])
            times = along / along[-1] * last if along[-1] > 0 else np.linspace(0.0, last, len(self.points))
        x = np.interp(offset, times, self.points[:, 0])
        y = np.interp(offset, times, self.points[:, 1])
        return np.array([x, y])


def read_strokes(path: Path, size: tuple[int, int], frames: int) -> list[Stroke]:
    """The strokes of `path` for a still of `size` (width, height) and a shot of `frames` frames.

    InputError naming `--path`, the stroke and the value for anything that does not fit: bad JSON, a point outside
    the frame, timing out of order or past the shot, a matte outside the strokes file's folder or missing.
    """
    where = f"--path {path}"
    if not path.is_file():
        raise InputError(f"{where}: no such file")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{where}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema", SCHEMA) != SCHEMA:
        raise InputError(f"{where}: expected a {SCHEMA} object")
    origin = data.get("origin", "top-left")
    if origin not in ORIGINS:
        raise InputError(f"{where}: origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
    units = data.get("units", "pixels")
    if units not in UNITS:
        raise InputError(f"{where}: units must be one of {', '.join(UNITS)}, got {units!r}")
    entries = data.get("strokes")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{where}: no strokes")
    return [_stroke(entry, i, path, where, (origin, units), size, frames) for i, entry in enumerate(entries, start=1)]


def _stroke(
    entry: Any, number: int, path: Path, where: str, space: tuple[str, str], size: tuple[int, int], frames: int
) -> Stroke:
    what = f"{where}: stroke {number}"
    if not isinstance(entry, dict):
        raise InputError(f"{what}: expected an object with points")
    try:
        points = np.asarray(entry.get("points"), dtype=np.float64)
    except (TypeError, ValueError):
        points = np.empty(0)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 1 or not np.isfinite(points).all():
        raise InputError(f"{what}: points must be [[x, y], ...] numbers")
    width, height = size
    origin, units = space
    if units == "normalized":
        points = points * np.array([width, height], np.float64)
    if origin == "bottom-left":
        points = np.stack([points[:, 0], height - points[:, 1]], axis=1)
    for index, (x, y) in enumerate(points, start=1):
        if not (0.0 <= x <= width and 0.0 <= y <= height):
            shown = entry["points"][index - 1]
            raise InputError(f"{what} point {index} ({shown[0]:g}, {shown[1]:g}) is outside the {width}x{height} frame")
    times = entry.get("frames")
    timing = None
    if times is not None:
        try:
            timing = np.asarray(times, dtype=np.float64)
        except (TypeError, ValueError):
            timing = np.empty(0)
        if timing.shape != (len(points),) or not np.isfinite(timing).all():
            raise InputError(f"{what}: frames must be one number per point ({len(points)})")
        if (np.diff(timing) < 0).any() or timing[0] < 0 or timing[-1] > frames - 1:
            raise InputError(f"{what}: frames must rise from 0 to at most {frames - 1} (the shot), got {list(times)}")
    matte = None
    if entry.get("matte") is not None:
        relative = PurePosixPath(str(entry["matte"]))
        if relative.is_absolute() or ".." in relative.parts:
            raise InputError(f"{what}: matte {entry['matte']!r} must be a file beside {path.name} (a relative path)")
        matte = path.parent / relative
        if not matte.is_file():
            raise InputError(f"{what}: matte {matte}: no such file")
    return Stroke(points, timing, matte)


def start_region(encoded: np.ndarray, point: np.ndarray, radius: float) -> np.ndarray:
    """The region under a stroke's start: (H, W) float32 in {0, 1}.

    The pixels connected to `point` whose encoded colour (`encoded`, (H, W, 3) in the video model space) is within
    REGION_TOLERANCE of it, inside a disc of `radius` pixels; the disc itself when that is a speck (flat colour is
    rare, a noisy plate may give almost nothing).
    """
    height, width = encoded.shape[:2]
    x, y = min(int(point[0]), width - 1), min(int(point[1]), height - 1)
    disc = np.zeros((height, width), np.uint8)
    cv2.circle(disc, (x, y), max(1, round(radius)), 1, thickness=-1)
    similar = (np.abs(encoded - encoded[y, x]).max(axis=-1) <= REGION_TOLERANCE) & (disc > 0)
    _count, labels = cv2.connectedComponents(similar.astype(np.uint8), connectivity=8)
    region = (labels == labels[y, x]) & similar
    if region.sum() < MIN_REGION_SHARE * disc.sum():
        region = disc > 0
    return region.astype(np.float32)


def layout_video(
    encoded: np.ndarray, regions: list[np.ndarray], strokes: list[Stroke], frames: int, grey: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """The layout control video and the moved region masks, at the still's size.

    `encoded` (H, W, 3) is the still in the video model space; `regions[i]` (H, W) in [0, 1] the region stroke i
    moves. Frame t is the still with each region cut out (grey: VACE's "nothing here") and pasted shifted by its
    stroke's travel position(t) - position(0), sub-pixel (bilinear), later strokes over earlier ones, so each moved
    region's centroid follows its stroke exactly (up to the frame's edge). Frame 0 is the still itself.
    Returns (video (T, H, W, 3) float32, masks (T, len(strokes), H, W) float32).
    """
    height, width = encoded.shape[:2]
    last = float(frames - 1)
    video = np.empty((frames, height, width, 3), np.float32)
    masks = np.zeros((frames, len(strokes), height, width), np.float32)
    vacated = np.clip(np.sum(regions, axis=0), 0.0, 1.0)[..., None]
    for t in range(frames):
        frame = encoded * (1.0 - vacated) + np.float32(grey) * vacated if t else encoded.copy()
        for i, (stroke, region) in enumerate(zip(strokes, regions, strict=True)):
            dx, dy = stroke.position(float(t), last) - stroke.position(0.0, last)
            shift = np.float32([[1, 0, dx], [0, 1, dy]])
            moved = cv2.warpAffine(region, shift, (width, height), flags=cv2.INTER_LINEAR, borderValue=0.0)
            masks[t, i] = moved
            if t:
                pixels = cv2.warpAffine(encoded, shift, (width, height), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                frame = frame * (1.0 - moved[..., None]) + pixels * moved[..., None]
        video[t] = frame
    return video, masks


def centroid(mask: np.ndarray) -> np.ndarray:
    """The (x, y) centroid of a mask (H, W) in pixel coordinates (pixel centres at integer + 0.5); NaN when empty."""
    total = float(mask.sum())
    if total <= 0.0:
        return np.array([math.nan, math.nan])
    ys, xs = np.indices(mask.shape)
    return np.array([(mask * (xs + 0.5)).sum() / total, (mask * (ys + 0.5)).sum() / total])
