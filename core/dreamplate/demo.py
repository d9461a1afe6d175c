"""`dreamplate demo`: a synthetic scene-linear HDR plate, retimed 2x by the same code path a real shot takes."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from dreamplate.interp.retime import run_interpolate
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.io.exr import ExrImage, write_exr
from dreamplate.ops.plate.progress import ProgressCallback
from dreamplate.ops.plate.result import PlateResult

DEMO_SPACE = "ACEScg"
FIRST_FRAME = 1001
_PAN_PX_PER_FRAME = 3


@dataclass
class DemoResult:
    """Where the demo put its plate and its retime, for the closing message."""

    plate: str
    retime: PlateResult
    frames: int
    size: tuple[int, int]
    peak: float

    def summary(self) -> str:
        written = len(self.retime.written)
        skipped = len(self.retime.skipped)
        return (
            f"demo plate:  {self.plate}  ({self.frames} frames, {self.size[0]}x{self.size[1]}, {DEMO_SPACE}, "
            f"peak {self.peak:.1f})\n"
            f"retimed 2x:  {self.retime.output}  ({written} written, {skipped} already there; {self.retime.method})\n"
            f"half-float scene-linear EXRs; inspect with: dreamplate info {self.retime.output.replace('####', '1002')}"
        )


@lru_cache(maxsize=2)
def _ground_texture(width: int, height: int) -> np.ndarray:
    """Fixed-seed multi-octave noise, wider than the frame so the camera can pan across it.

    Not a repeating pattern: periodic texture is ambiguous for any motion estimator, and real plates are not periodic.
    """
    rng = np.random.default_rng(2024)
    pan_width = width + _PAN_PX_PER_FRAME * 256
    texture = np.zeros((height, pan_width), np.float32)
    for octave, amplitude in ((8, 0.5), (24, 0.3), (72, 0.2)):
        coarse = rng.random((max(2, height * octave // 360), max(2, pan_width * octave // 360)), dtype=np.float32)
        texture += amplitude * cv2.resize(coarse, (pan_width, height), interpolation=cv2.INTER_CUBIC)
    return texture


def render_plate_frame(index: int, frames: int, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """One frame of the demo shot: a panning textured ground, a rolling disc, and highlights far above 1.0.

    Returns float32 H x W channels R, G, B, A and Z (depth, to show that AOVs ride along with the warp).
    """
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = index / max(frames - 1, 1)
    pan = _PAN_PX_PER_FRAME * (index % 256)
    texture = _ground_texture(width, height)[:, pan : pan + width]
    ground = (0.03 + 0.2 * y / height) * (0.4 + texture)
    rgb = np.stack([ground * 0.9, ground, ground * 1.15], axis=-1)
    depth = np.full((height, width), 100.0, np.float32) - 50.0 * (y / height)
    # A disc rolling across part of the frame, with its own pattern (about 20 px a frame at 640 wide).
    travel = min(0.6, 0.03 * (frames - 1))
    cx = width * (0.3 + travel * phase)
    cy = height * (0.6 + 0.05 * np.sin(phase * np.pi))
    radius = min(width, height) * 0.14
    disc = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
    # The disc carries its own patch of texture (taken from far along the ground strip) so it moves as one object.
    rows = np.clip(np.rint(y - cy + height / 2), 0, height - 1).astype(np.intp)
    cols = np.clip(np.rint(x - cx + width / 2), 0, width - 1).astype(np.intp)
    pattern = _ground_texture(width, height)[rows, cols - 1 - width + _ground_texture(width, height).shape[1]]
    disc_rgb = np.stack([0.2 + 0.5 * pattern, 0.07 + 0.2 * pattern, 0.03 + 0.08 * pattern], axis=-1)
    rgb[disc] = disc_rgb[disc]
    depth[disc] = 20.0
    # Specular highlights: small blobs peaking at 20-60, well above display white, drifting a few pixels a frame.
    for k, peak in enumerate((60.0, 24.0, 40.0)):
        hx = width * (0.15 + 0.3 * k + 0.02 * index)
        hy = height * (0.25 + 0.03 * np.cos(0.4 * index + k))
        blob = peak * np.exp(-((x - hx) ** 2 + (y - hy) ** 2) / (2.0 * (2.5 + k) ** 2))
        rgb += np.stack([blob, blob * 0.85, blob * 0.6], axis=-1)
    return {
        "R": rgb[..., 0].astype(np.float32),
        "G": rgb[..., 1].astype(np.float32),
        "B": rgb[..., 2].astype(np.float32),
        "A": np.ones((height, width), np.float32),
        "Z": depth.astype(np.float32),
    }


def run_demo(
    out_dir: Path,
    frames: int = 6,
    size: tuple[int, int] = (640, 360),
    progress: ProgressCallback | None = None,
) -> DemoResult:
    """Write the demo plate under `out_dir/plate`, retime it 2x into `out_dir/retime`; re-runs skip finished frames."""
    from dreamplate.color.ocio import load_config, output_attributes

    cfg = load_config()
    tags = output_attributes(cfg, DEMO_SPACE, {})
    plate_dir = out_dir / "plate"
    peak = 0.0
    for index in range(frames):
        channels = render_plate_frame(index, frames, size)
        peak = max(peak, float(channels["R"].max()))
        path = plate_dir / f"plate.{FIRST_FRAME + index:04d}.exr"
        if path.is_file():
            continue  # the plate is deterministic: a re-run keeps the frames it already has
        image = ExrImage(
            channels=channels,
            pixel_types=dict.fromkeys(channels, "half"),
            data_window=(0, 0, size[0] - 1, size[1] - 1),
            display_window=(0, 0, size[0] - 1, size[1] - 1),
            attributes={**tags, "framesPerSecond": Fraction(24), "owner": "dreamplate demo"},
        )
        plate_dir.mkdir(parents=True, exist_ok=True)
        write_exr(path, image)
    plate = str(plate_dir / "plate.####.exr")
    spec = InterpolateSpec(inputs=[plate], output=str(out_dir / "retime" / "retime.####.exr"), factor=2)
    result = run_interpolate(spec, progress=progress)
    return DemoResult(plate=plate, retime=result, frames=frames, size=size, peak=peak)
