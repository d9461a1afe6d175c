"""Salient-subject mattes of a plate, steady over time, written so `--mask` takes them as they are.

Steps, in order (nothing is written before step 3, the network loads with the first frame to write):
1. check the spec, the plate's headers, the colour space, the outputs and the pinned U2-Netp weights;
2. per frame, the network sees the plate's data window through the display-like video model space
   (`analyse.plate`), resized to its 320 x 320, and returns a raw matte there;
3. the raw mattes of frames t - r .. t + r are averaged where the picture is still (`analyse.temporal`), the result
   is resized back to the plate's data window, levelled (`clip_black` -> 0, `clip_white` -> 1, so the outside is
   exactly 0 and the core exactly 1), inverted for `--invert`, and written as a half EXR with the matte in A (what
   `--mask` and a comp's mask inputs read) and in Y (what a viewer shows), on the plate's windows, no colour tags.

`subject_mattes` makes the same mattes frame by frame for the generative ops' `--mask subject` / `background`.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Unpack

import cv2
import numpy as np

from dreamplate.analyse.plate import (
    PlatePicture,
    data_image,
    installed,
    plate_picture,
    plate_sequence,
    prepare_analysis,
)
from dreamplate.analyse.spec import MatteSpec
from dreamplate.analyse.temporal import neighbours, steady_matte
from dreamplate.analyse.u2net import MODEL, SIZE, load_matte_net
from dreamplate.io.exr import ExrImage, choose_part, read_info, window_size
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.provenance import spec_parameters
from dreamplate.ops.plate.reading import read_source
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import part_arg
from dreamplate.runtime.weights import pinned

log = logging.getLogger(__name__)

SETTINGS = (
    "invert",
    "temporal",
    "motion_tolerance",
    "clip_black",
    "clip_white",
    "frames",
    "colorspace",
    "part",
    "view",
)
"""Spec fields that decide a matte's pixels: recorded in provenance and compared on resume."""


@dataclass(frozen=True)
class MatteSettings:
    """How raw network mattes become the written matte; defaults are MatteSpec's."""

    temporal: int = 2
    motion_tolerance: float = 0.05
    clip_black: float = 0.05
    clip_white: float = 0.95
    invert: bool = False

    @classmethod
    def of(cls, spec: MatteSpec) -> MatteSettings:
        return cls(spec.temporal, spec.motion_tolerance, spec.clip_black, spec.clip_white, spec.invert)


def levels(matte: np.ndarray, clip_black: float, clip_white: float) -> np.ndarray:
    """`clip_black` and below -> 0, `clip_white` and above -> 1, linear between: a clean outside and a solid core."""
    return np.clip((matte - np.float32(clip_black)) / np.float32(clip_white - clip_black), 0.0, 1.0)


class SubjectMattes:
    """Steady subject mattes of one plate sequence, made frame by frame in any order.

    Reads each plate frame once for its network picture; keeps the pictures and raw mattes of the last few frames
    (what a temporal window needs), never a whole shot. The network loads on the first frame asked for.
    """

    def __init__(
        self,
        read: Callable[[int], ExrImage],
        picture: PlatePicture,
        sequence: Sequence[int],
        settings: MatteSettings,
        threads: int | None = None,
    ) -> None:
        self.read, self.picture, self.sequence = read, picture, list(sequence)
        self.settings, self.threads = settings, threads
        self.net = None
        self._cache: OrderedDict[int, tuple[ExrImage, np.ndarray, np.ndarray]] = OrderedDict()

    @property
    def runtime(self) -> str | None:
        """What ran the network, once it has run."""
        return None if self.net is None else self.net.runtime

    def window(self, frame: int) -> list[int]:
        """The frames frame `frame`'s matte is made from."""
        return neighbours(frame, self.sequence, self.settings.temporal)

    def image(self, frame: int) -> ExrImage:
        """The matte of `frame` to write: in A and Y, on the plate frame's windows and header, no colour tags."""
        shell, _, _ = self._raw(frame)
        matte = self.matte(frame)
        return data_image({"Y": matte, "A": matte}, shell)

    def matte(self, frame: int) -> np.ndarray:
        """The matte of `frame` on its data window: float32 H x W in [0, 1] (inverted for `invert`)."""
        window = self.window(frame)
        entries = {f: self._raw(f) for f in window}
        small = steady_matte(
            frame,
            {f: e[2] for f, e in entries.items()},
            {f: e[1] for f, e in entries.items()},
            window,
            self.settings.motion_tolerance,
        )
        width, height = window_size(entries[frame][0].data_window)
        full = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
        matte = levels(full, self.settings.clip_black, self.settings.clip_white)
        return np.float32(1.0) - matte if self.settings.invert else matte

    def _raw(self, frame: int) -> tuple[ExrImage, np.ndarray, np.ndarray]:
        """(header-only frame, network picture, raw matte) of a plate frame, from the cache or made now."""
        if frame in self._cache:
            self._cache.move_to_end(frame)
            return self._cache[frame]
        if self.net is None:
            self.net = load_matte_net(self.threads)
        image = self.read(frame)
        small = self.picture.picture(image, (SIZE, SIZE))  # stretched to the square, as the net was trained
        entry = (replace(image, channels={}, pixel_types={}), small, self.net.run(small))
        self._cache[frame] = entry
        while len(self._cache) > 2 * self.settings.temporal + 2:
            self._cache.popitem(last=False)
        return entry


def run_matte(spec: MatteSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the subject mattes `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError before any output exists when something is wrong, Cancelled between
    frames when `cancelled()` turns true (finished frames stay, none is half written).
    """
    # 1. Check everything, the pinned weights included, before the network loads.
    run = prepare_analysis(spec, "matte", options)
    entry = installed(pinned(MODEL))
    mattes = SubjectMattes(run.read, run.picture, run.sequence, MatteSettings.of(spec), spec.threads)
    params = spec_parameters(spec, SETTINGS)

    def provenance(frame: int) -> Provenance:
        return Provenance(
            operation="matte",
            method=MODEL,
            parameters=params,
            sources=[str(run.paths[f]) for f in mattes.window(frame)],
            source_frames=[float(frame)],
            model=entry.name,
            weights_sha256=entry.sha256,
            colorspace=run.picture.space.name,
            runtime=mattes.runtime,
        )

    # 2-3. Frames in order: each written as soon as its window's raw mattes exist.
    def write(frame: int, out_path: Path, frame_provenance: Provenance) -> None:
        image = mattes.image(frame)
        frame_provenance.runtime = mattes.runtime
        run.writer.write(out_path, image, frame_provenance)

    frames = run.frame_run(provenance)
    result = frames.write(run.frames, frames.pending(run.frames, options.get("force", False)), write)
    result.method = f"{MODEL} on {mattes.runtime}" if mattes.runtime else MODEL
    return result


def matte_frames(spec: MatteSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the plate's frames), for chunking."""
    return plate_sequence(spec.inputs[0], spec.frames)[0]


def subject_mattes(
    paths: dict[int, Path],
    *,
    part: str | None = None,
    view: str | None = None,
    colorspace: str | None = None,
    ocio: str | None = None,
    invert: bool = False,
    threads: int | None = None,
) -> Callable[[int], ExrImage]:
    """Mattes made on the fly for a plate (frame -> path): `frame -> ExrImage` with the matte in A on its windows.

    What the generative ops' `--mask subject` (invert False) and `--mask background` (True) call, by import string,
    with MatteSpec's default settings. The weights are checked now (ModelError before anything is written); the
    network loads with the first frame asked for.
    """
    installed(pinned(MODEL))
    first = paths[min(paths)]
    picture = plate_picture(ocio, choose_part(first, read_info(first), part_arg(part), view).attributes, colorspace)
    mattes = SubjectMattes(
        lambda frame: read_source(paths[frame], part, view),
        picture,
        sorted(paths),
        MatteSettings(invert=invert),
        threads,
    )
    return mattes.image
