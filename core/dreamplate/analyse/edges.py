"""Line art of a plate or a rough CG render, per frame (HED), as a control video for sketch-to-shot.

Steps, in order (nothing is written before step 3; the network loads, converting once, with the first frame):
1. check the spec, the plate's headers, the colour space, the outputs and the pinned HED weights;
2. per frame, HED sees the plate's data window through the display-like video model space (`analyse.plate`), with
   its long side brought down to `--resolution`, and its fused edge map is brought back to the data window;
3. the map is thinned (`--thin`) and made binary (`--threshold`) when asked, and written as a half EXR, R = G = B,
   on the plate's windows and header without colour tags: white lines on black, the polarity edge-control
   conditioning is trained on (HED's own output, ControlNet's soft-edge/scribble inputs), `--invert` for the reverse.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.analyse.hed import MODEL, line_art, load_edge_net, working_size
from dreamplate.analyse.plate import data_image, installed, plate_sequence, prepare_analysis
from dreamplate.analyse.spec import EdgesSpec
from dreamplate.io.exr import window_size
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.provenance import spec_parameters
from dreamplate.ops.plate.result import PlateResult
from dreamplate.runtime.weights import pinned

log = logging.getLogger(__name__)

SETTINGS = ("resolution", "thin", "threshold", "invert", "frames", "colorspace", "part", "view")
"""Spec fields that decide the line art's pixels: recorded in provenance and compared on resume."""


def run_edges(spec: EdgesSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the line art `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError/ModelError before any output exists when something is wrong, Cancelled between
    frames when `cancelled()` turns true.
    """
    # 1. Check everything, the pinned weights included, before the network loads.
    run = prepare_analysis(spec, "edges", options)
    entry = installed(pinned(MODEL))
    params = spec_parameters(spec, SETTINGS)
    nets = []  # the network, once loaded

    def provenance(frame: int) -> Provenance:
        return Provenance(
            operation="edges",
            method="hed",
            parameters=params,
            sources=[str(run.paths[frame])],
            source_frames=[float(frame)],
            model=entry.name,
            weights_sha256=entry.sha256,
            colorspace=run.picture.space.name,
        )

    # 2-3. Frames in order.
    def write(frame: int, out_path: Path, frame_provenance: Provenance) -> None:
        if not nets:
            nets.append(load_edge_net(spec.threads))
        image = run.read(frame)
        size = window_size(image.data_window)
        small = run.picture.picture(image, working_size(*size, spec.resolution))
        edges = line_art(nets[0], small, size, thin=spec.thin, threshold=spec.threshold)
        if spec.invert:
            edges = np.float32(1.0) - edges
        frame_provenance.runtime = nets[0].runtime
        run.writer.write(out_path, data_image({c: edges for c in "RGB"}, image), frame_provenance)

    frames = run.frame_run(provenance)
    result = frames.write(run.frames, frames.pending(run.frames, options.get("force", False)), write)
    result.method = f"{MODEL} on {nets[0].runtime}" if nets else MODEL
    return result


def edges_frames(spec: EdgesSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes (the plate's frames), for chunking."""
    return plate_sequence(spec.inputs[0], spec.frames)[0]
