"""Run an interpolation job: check everything, plan the output frames, then stream source pairs through a method.

Steps, in order (nothing is written before step 4):
1. resolve the inputs (two frames or a sequence) and plan the output frames;
2. read every source header: sizes, channels and frames must agree;
3. check the outputs: folder writable, no output path is an input;
4. stream: load the two source frames around each output frame (at most a few in memory), estimate motion once per
   pair on the model-space signal, warp and blend the scene-linear pixels, write atomically, skip finished frames.
"""

from __future__ import annotations

import importlib.util
import logging
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.color.model_space import log_model_space
from dreamplate.color.ocio import convert, load_config, resolve_input_space, space_name, srgb_encoded_space
from dreamplate.errors import InputError
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.interp.timing import OutputSample, plan_factor, plan_fps, plan_retime, plan_times, read_retime_map
from dreamplate.io.exr import Box, ExrImage, read_info
from dreamplate.io.provenance import Provenance
from dreamplate.io.raster import RASTER_SUFFIXES, read_raster, write_raster
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern
from dreamplate.ops.plate.frames import FrameRun
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs, output_paths
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.provenance import spec_parameters
from dreamplate.ops.plate.reading import ordered_channels, place_on_window, read_source, stack_channels, union_window
from dreamplate.ops.plate.result import PlateResult
from dreamplate.ops.plate.sources import check_sources, is_raster
from dreamplate.ops.plate.writing import FrameWriter

log = logging.getLogger(__name__)

# Depth and ID channels hold values that blending would invent (a depth between two objects, an ID that is neither):
# they are sampled nearest and taken from one side. Matched on the last component of a layer name (`crypto00.R` is
# matched on its layer). UINT channels are IDs by nature.
_NEAREST_LAYER_WORDS = ("crypto",)
_NEAREST_NAMES = {"z", "zback", "depth", "id", "objectid", "materialid", "object_id", "material_id"}
_COLOUR_NAMES = ("R", "G", "B")
_FRAME_CACHE_SIZE = 3
_SETTINGS = ("factor", "times", "fps", "frames", "colorspace", "part", "view", "pixel_type", "retime")
"""Spec fields that decide an output frame's pixels: recorded in its provenance, compared on resume."""
# The model space spans the whole half range (65504 -> 1.0), so a plate's 0..1 would use a third of the 8-bit steps
# the flow estimator sees. For motion only, the signal is stretched so that linear MOTION_WHITE (4 stops over display
# white) reaches 1.0; brighter highlights clip in the estimate, never in the pixels.
MOTION_WHITE = 16.0


@dataclass
class _Plate:
    """A decoded source frame: pixels on its own data window, H x W x C float32, channel names in order."""

    pixels: np.ndarray
    names: list[str]
    box: Box
    exr: ExrImage | None = None
    bit_depth: int = 0


@dataclass
class _Plan:
    samples: list[OutputSample]
    sources: dict[int, Path]
    outputs: dict[int, Path]
    output_label: str
    raster: bool  # the inputs are display-referred (PNG/TIFF/JPEG)
    exr_out: bool  # the outputs are EXR: always for EXR inputs, and display-referred inputs may ask for it


def is_nearest_channel(name: str, pixel_type: str = "half") -> bool:
    """True for channels that must never be blended: depth, object/material IDs, cryptomatte, any UINT channel."""
    if pixel_type == "uint":
        return True
    layer, _, last = name.rpartition(".")
    if last.lower() in _NEAREST_NAMES:
        return True
    return any(word in layer.lower() for word in _NEAREST_LAYER_WORDS)


def run_interpolate(spec: InterpolateSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Write the in-between frames `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError before any output exists when inputs, outputs or colour settings are wrong.
    `options` as for every op (`RunOptions`): `cancelled` is polled between frames, and a cancel raises `Cancelled`
    leaving finished frames in place; `only_frames` restricts the run to those output frame numbers (a chunk of a
    job split across workers; see `plan_output_frames`), and only the sources they need are read.
    """
    # 1. Plan what to make.
    plan = _plan(spec)
    if options.get("only_frames") is not None:
        plan = _restrict(plan, options["only_frames"])
    # 2. Every source header must agree before anything is computed; only the frames the samples use are read.
    used = sorted({s.frame_a for s in plan.samples} | {s.frame_b for s in plan.samples})
    infos = check_sources({f: plan.sources[f] for f in used}, spec.part, spec.view, same_channels=True)
    # Colour is resolved once per run from the first source frame (or --colorspace), so every frame is tagged alike.
    cfg = load_config(spec.ocio)
    display = None
    if plan.raster:
        # Display-referred frames are interpolated on their code values; written as EXR, they are decoded from
        # their display encoding (--colorspace, default sRGB) into the config's scene_linear space.
        display = space_name(cfg, spec.colorspace or srgb_encoded_space(cfg), "--colorspace")
        space = resolve_input_space(cfg, {}) if plan.exr_out else None
    else:
        space = resolve_input_space(cfg, infos[0].attributes, spec.colorspace)
    if space is not None:
        log.info("colour space: %s (%s)", space.name, space.reason if display is None else f"from {display}")
    model = log_model_space()
    # 3. Outputs: never an input, folder writable.
    check_outputs(plan.outputs, plan.sources.values())
    method = _choose_method(spec)

    # The method's module is imported here: the learned method brings ONNX Runtime or torch.
    from dreamplate.interp.flow import opencv_threads

    # Display-referred frames written as EXR keep no rate of their own: their header starts empty.
    writer = FrameWriter(cfg, space, spec.pixel_type, spec.compression, fps=None if plan.raster else _target_fps(spec))
    renderer = _Renderer(spec, plan, model, cfg, display, method, writer)
    samples = {sample.frame: sample for sample in plan.samples}

    def provenance(frame: int) -> Provenance:
        return _provenance(spec, plan, samples[frame], space, method)

    def render(frame: int, out_path: Path, frame_provenance: Provenance) -> None:
        renderer.render(samples[frame], out_path, frame_provenance)

    # 4. Stream the output frames in order; a pair's flow is estimated once and reused for all its in-betweens.
    progress = FrameProgress.of("interpolate", len(samples), options)
    frames = FrameRun(plan.outputs, provenance, progress, PlateResult(output=plan.output_label))
    todo = frames.pending(samples, options.get("force", False))
    with opencv_threads(spec.threads):
        result = frames.write(samples, todo, render)
    result.method = method.describe()
    return result


def plan_output_frames(spec: InterpolateSpec) -> list[int]:
    """The output frame numbers a run of `spec` writes, in order: what a job splits into chunks."""
    return [sample.frame for sample in _plan(spec).samples]


def _restrict(plan: _Plan, only_frames: Collection[int]) -> _Plan:
    """The plan cut down to the output frames asked for; a frame the run does not make is an error."""
    check_only_frames(plan.output_label, plan.outputs, only_frames)
    wanted = set(only_frames)
    return _Plan(
        samples=[s for s in plan.samples if s.frame in wanted],
        sources=plan.sources,  # all of them, so no output may overwrite any input; only the samples' are read
        outputs={f: p for f, p in plan.outputs.items() if f in wanted},
        output_label=plan.output_label,
        raster=plan.raster,
        exr_out=plan.exr_out,
    )


@dataclass
class _Method:
    """The method a run uses, `auto` resolved; for `learned`, its pinned model and (once loaded) the estimator."""

    name: str
    model: str | None = None
    weights_sha256: str | None = None
    estimator: object | None = None

    def describe(self) -> str:
        if self.name != "learned":
            return self.name
        where = f" on {self.estimator.provider}" if self.estimator is not None else ""
        return f"learned ({self.model}{where})"

    def learned(self, spec: InterpolateSpec):
        """The learned estimator, loaded on first use: a run of pass-through frames never loads a network."""
        if self.estimator is None:
            from dreamplate.interp.rife import LearnedEstimator

            self.estimator = LearnedEstimator(self.model, spec.runtime, spec.scale, spec.tta, spec.threads)
        return self.estimator


def _choose_method(spec: InterpolateSpec) -> _Method:
    """`flow`, or `learned` with its pinned model; `auto` is learned when its weights and a runtime are installed."""
    from dreamplate.runtime.weights import DEFAULT_LEARNED, find_weights, pinned, verified_weights

    if spec.method == "flow":
        return _Method("flow")
    entry = pinned(spec.model or DEFAULT_LEARNED, "interpolate")
    if spec.method == "auto":
        runtime = "onnxruntime" if spec.runtime == "onnx" else "torch"
        if find_weights(entry) is None or importlib.util.find_spec(runtime) is None:
            log.info("method: flow (learned needs the %s weights and %s: dreamplate models pull)", entry.name, runtime)
            return _Method("flow")
    verified_weights(entry)  # before anything is written: missing or altered weights stop the run here
    log.info("method: learned (%s)", entry.name)
    return _Method("learned", entry.name, entry.sha256)


def _provenance(spec: InterpolateSpec, plan: _Plan, sample: OutputSample, space, method: _Method) -> Provenance:
    """What this output frame is made of: compared on a re-run to decide whether it is finished."""
    sources = [plan.sources[sample.frame_a]]
    if sample.t != 0.0:
        sources.append(plan.sources[sample.frame_b])
    parameters = _parameters(spec, sample)
    if method.name == "learned":
        parameters.update(model=method.model, scale=spec.scale, tta=spec.tta)
    return Provenance(
        operation="interpolate",
        method=method.name,
        parameters=parameters,
        sources=[str(p) for p in sources],
        source_frames=[float(sample.source)],
        model=method.model,
        weights_sha256=method.weights_sha256,
        colorspace=None if space is None else space.name,
    )


class _Renderer:
    """Makes output frames from source pairs, holding the few decoded frames and the one flow field in use."""

    def __init__(
        self, spec: InterpolateSpec, plan: _Plan, model, cfg, display: str | None, method: _Method, writer: FrameWriter
    ) -> None:
        self.spec, self.plan, self.model, self.cfg, self.display = spec, plan, model, cfg, display
        self.method, self.writer = method, writer
        self.cache: OrderedDict[int, _Plate] = OrderedDict()
        self.flow_key: tuple[int, int] | None = None
        self.flow = None

    def render(self, sample: OutputSample, out_path: Path, provenance: Provenance) -> None:
        spec, plan = self.spec, self.plan
        plate_a = _load(self.cache, spec, sample.frame_a, plan.sources[sample.frame_a])
        if sample.t == 0.0:
            if plan.raster and plan.exr_out:
                self._write_linear(plate_a.pixels, plate_a, out_path, provenance)
            elif plate_a.exr is None:
                write_raster(out_path, plate_a.pixels, plate_a.bit_depth)  # integer codes: nothing was repaired
            else:
                self.writer.passthrough(out_path, plate_a.exr, provenance)  # as read, NaN/Inf included
            return
        plate_b = _load(self.cache, spec, sample.frame_b, plan.sources[sample.frame_b])
        box = union_window(plate_a.box, plate_b.box)
        a = place_on_window(plate_a.pixels, plate_a.box, box)
        b = place_on_window(plate_b.pixels, plate_b.box, box)
        nearest = [is_nearest_channel(n, _pixel_type(plate_a, n)) for n in plate_a.names]
        if self.method.name == "learned":
            from dreamplate.interp.rife import interpolate_learned

            estimator = self.method.learned(spec)
            provenance.runtime = estimator.provider  # recorded, not compared: it does not change the settings
            motion = estimator.estimate(
                _motion_signal(a, plate_a, self.model, plan.raster),
                _motion_signal(b, plate_b, self.model, plan.raster),
                sample.t,
            )
            pixels = interpolate_learned(motion, a, b, nearest=nearest)
        else:
            pixels = self._flow_inbetween(sample, plate_a, plate_b, a, b, nearest)
        if plan.raster and plan.exr_out:
            self._write_linear(pixels, plate_a, out_path, provenance)
        else:
            self._write_inbetween(plate_a, pixels, box, out_path, provenance)

    def _flow_inbetween(self, sample: OutputSample, plate_a: _Plate, plate_b: _Plate, a, b, nearest) -> np.ndarray:
        """The flow method's in-between; a pair's flow is estimated once and reused for all its in-betweens."""
        from dreamplate.interp.flow import estimate_flow, interpolate_frame

        plan = self.plan
        if self.flow_key != (sample.frame_a, sample.frame_b):
            self.flow = estimate_flow(
                _motion_signal(a, plate_a, self.model, plan.raster),
                _motion_signal(b, plate_b, self.model, plan.raster),
            )
            self.flow_key = (sample.frame_a, sample.frame_b)
        return interpolate_frame(self.flow, a, b, sample.t, nearest=nearest)

    def _write_linear(self, pixels: np.ndarray, plate: _Plate, out_path: Path, provenance: Provenance) -> None:
        """A display-referred frame decoded to scene-linear and written as EXR, tagged in the linear space."""
        linear = convert(self.cfg, pixels, self.display, self.writer.space.name)
        window = (0, 0, linear.shape[1] - 1, linear.shape[0] - 1)
        image = ExrImage(
            channels={name: linear[..., i] for i, name in enumerate(plate.names)},
            pixel_types=dict.fromkeys(plate.names, "half"),
            data_window=window,
            display_window=window,
        )
        self.writer.write(out_path, image, provenance)

    def _write_inbetween(
        self, plate: _Plate, pixels: np.ndarray, box: Box, out_path: Path, provenance: Provenance
    ) -> None:
        """An interpolated frame on the union of its sources' data windows, in the sources' colour space."""
        if plate.exr is None:
            write_raster(out_path, pixels, plate.bit_depth)
            return
        source = plate.exr
        channels = {name: pixels[..., i] for i, name in enumerate(plate.names)}
        for name, kind in source.pixel_types.items():
            if kind == "uint":
                channels[name] = np.rint(channels[name]).astype(np.uint32)
        image = ExrImage(
            channels=channels,
            pixel_types=dict(source.pixel_types),
            data_window=box,
            display_window=source.display_window,
            attributes=source.attributes,
        )
        self.writer.write(out_path, image, provenance, keep_timecode=False)


# --- 1. planning ---------------------------------------------------------------------------------------------------


def _plan(spec: InterpolateSpec) -> _Plan:
    """Resolve input files and output paths and decide the output samples."""
    if spec.is_pair:
        first, second = (Path(p) for p in spec.inputs)
        for path in (first, second):
            if not path.is_file():
                raise InputError(f"{path}: no such file")
        times = spec.times if spec.times is not None else [0.5]
        samples = plan_times(times)
        sources = {0: first, 1: second}
        label, outputs = output_paths(spec.output, [s.frame for s in samples], single_file=True)
        raster = is_raster(first)
        if is_raster(second) != raster:
            raise InputError(f"{second}: mix of EXR and display-referred images; give two of the same kind")
    else:
        if len(spec.inputs) != 1 or not is_sequence_pattern(spec.inputs[0]):
            raise InputError(f"{spec.inputs[0]}: give a sequence pattern (shot.####.exr) or two frames")
        seq = FrameSequence.from_pattern(spec.inputs[0], spec.frames)
        if len(seq.frames) < 2 and spec.retime is None:
            raise InputError(f"{seq.pattern}: needs at least two frames to interpolate, found {len(seq.frames)}")
        if spec.retime is not None:
            samples = plan_retime(read_retime_map(spec.retime), list(seq.frames))
        elif spec.fps is not None:
            samples = plan_fps(list(seq.frames), _source_fps(spec, seq), spec.fps[1])
        else:
            samples = plan_factor(list(seq.frames), spec.factor or 2)
        label, outputs = output_paths(spec.output, [s.frame for s in samples])
        sources = {f: seq.path(f) for f in seq.frames}
        raster = seq.suffix.lower() in RASTER_SUFFIXES
    out_suffix = next(iter(outputs.values())).suffix.lower()
    if out_suffix not in (*RASTER_SUFFIXES, ".exr"):
        raise InputError(f"{spec.output}: unknown output type {out_suffix!r}; use .exr (or .png/.tif for PNG inputs)")
    if not raster and out_suffix != ".exr":
        raise InputError(f"{spec.output}: scene-linear EXR inputs give EXR outputs; use an .exr name")
    return _Plan(samples, sources, outputs, label, raster=raster, exr_out=out_suffix == ".exr")


def _source_fps(spec: InterpolateSpec, seq: FrameSequence) -> float:
    """The source rate: as given (`--fps 24:60`), else the first frame's framesPerSecond (`--fps 60`)."""
    if spec.fps is not None and spec.fps[0] is not None:
        return spec.fps[0]
    first = seq.path(seq.first)
    rate = None if is_raster(first) else read_info(first)[0].attributes.get("framesPerSecond")
    if rate is None:
        raise InputError(f"{first}: no framesPerSecond attribute; give the source rate as --fps SOURCE:TARGET")
    return float(rate)


def _parameters(spec: InterpolateSpec, sample: OutputSample) -> dict:
    """The settings that decide this frame's pixels; a re-run with other settings must not skip it."""
    return {"t": round(sample.t, 9), "frame": sample.frame, **spec_parameters(spec, _SETTINGS)}


# --- 2. frames --------------------------------------------------------------------------------------------------------


def _load(cache: OrderedDict[int, _Plate], spec: InterpolateSpec, frame: int, path: Path) -> _Plate:
    """Decode a source frame, keeping only the last few: memory stays flat however long the sequence."""
    if frame in cache:
        cache.move_to_end(frame)
        return cache[frame]
    if is_raster(path):
        raster = read_raster(path)
        height, width = raster.pixels.shape[:2]
        names = ["R", "G", "B", "A"][: raster.pixels.shape[2]]
        plate = _Plate(raster.pixels, names, (0, 0, width - 1, height - 1), bit_depth=raster.bit_depth)
    else:
        image = read_source(path, spec.part, spec.view)
        names = ordered_channels(image.channels)
        plate = _Plate(stack_channels(image.channels, names), names, image.data_window, exr=image)
    finite = np.isfinite(plate.pixels)
    if not finite.all():
        # Non-finite samples would smear across every pixel the warp touches: treat them as 0 for in-betweens.
        plate.pixels = np.where(finite, plate.pixels, np.float32(0.0))
        log.warning(
            "%s: %d pixels hold NaN/Inf; in-betweens treat them as 0 (the frame itself passes through untouched)",
            path,
            int((~finite).any(axis=-1).sum()),
        )
    cache[frame] = plate
    while len(cache) > _FRAME_CACHE_SIZE:
        cache.popitem(last=False)
    return plate


def _pixel_type(plate: _Plate, name: str) -> str:
    return plate.exr.pixel_types.get(name, "half") if plate.exr is not None else "half"


def _motion_signal(pixels: np.ndarray, plate: _Plate, model, raster: bool) -> np.ndarray:
    """What motion is estimated on: display values as they are; scene-linear colour through the log model space."""
    colour = [i for i, n in enumerate(plate.names) if n in _COLOUR_NAMES]
    if len(colour) != 3:
        colour = [plate.names.index("Y")] if "Y" in plate.names else [0]
    signal = pixels[..., colour]
    if raster:
        return signal
    white = model.encode(np.full((1, 1, 1), MOTION_WHITE, np.float32))[0, 0, 0]
    return np.clip(model.encode(signal), 0.0, white) / white


def _target_fps(spec: InterpolateSpec) -> float | None:
    return None if spec.fps is None else spec.fps[1]
