"""Run an interpolation job: check everything, plan the output frames, then stream source pairs through a method.

Steps, in order (nothing is written before step 4):
1. resolve the inputs (two frames or a sequence) and plan the output frames;
2. read every source header: sizes, channels and frames must agree;
3. check the outputs: folder writable, no output path is an input;
4. stream: load the two source frames around each output frame (at most a few in memory), estimate motion once per
   pair on the model-space signal, warp and blend the scene-linear pixels, write atomically, skip finished frames.
   `--shutter` averages sub-frames at several times of the same pairs' estimates (`interp.shutter`), `--vectors` adds
   the motion as Nuke's motion channels (`interp.vectors`), `--matte` moves subject and background apart
   (`interp.matte_retime`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Unpack

import numpy as np

from dreamplate.color.model_space import log_model_space
from dreamplate.color.ocio import convert, load_config, resolve_input_space, space_name, srgb_encoded_space
from dreamplate.errors import InputError
from dreamplate.interp.shutter import frame_rates
from dreamplate.interp.spec import MOTIONLESS_METHODS, InterpolateSpec
from dreamplate.interp.timing import (
    OutputSample,
    bracket,
    plan_factor,
    plan_fps,
    plan_retime,
    plan_speed,
    plan_times,
    read_retime_map,
)
from dreamplate.interp.vectors import VectorsSpec, interpolate_spec, nuke_channels
from dreamplate.io.exr import Box, ExrImage, read_info, window_size
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
# A shutter spanning a source frame reaches into two pairs, a pass-through frame's vectors read both of its pairs, and
# a matte doubles each pair's estimates: four keeps every estimate an output frame needs.
_ESTIMATE_CACHE_SIZE = 4
_SETTINGS = ("factor", "times", "fps", "speed", "frames", "colorspace", "part", "view", "pixel_type", "retime")
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
    # Per output frame, source frames per output frame toward the next and from the previous one (shutter, vectors);
    # made from the whole plan, so a chunk of a job blurs and measures its frames as the whole run would.
    rates: dict[int, tuple[float, float]] = field(default_factory=dict)
    mattes: dict[int, Path] = field(default_factory=dict)  # source frame -> its foreground matte (--matte)


def is_nearest_channel(name: str, pixel_type: str = "half") -> bool:
    """True for channels that must never be blended: depth, object/material IDs, cryptomatte, any UINT channel."""
    if pixel_type == "uint":
        return True
    layer, _, last = name.rpartition(".")
    if last.lower() in _NEAREST_NAMES:
        return True
    return any(word in layer.lower() for word in _NEAREST_LAYER_WORDS)


def run_interpolate(
    spec: InterpolateSpec, *, operation: str = "interpolate", **options: Unpack[RunOptions]
) -> PlateResult:
    """Write the in-between frames `spec` asks for; return what was written and skipped.

    Raises InputError/ColorError before any output exists when inputs, outputs or colour settings are wrong.
    `options` as for every op (`RunOptions`): `cancelled` is polled between frames, and a cancel raises `Cancelled`
    leaving finished frames in place; `only_frames` restricts the run to those output frame numbers (a chunk of a
    job split across workers; see `plan_output_frames`), and only the sources they need are read. `operation` names
    the frames' provenance: `vectors` runs through here too (every frame passed through, with motion channels).
    """
    # 1. Plan what to make.
    plan = _plan(spec)
    if options.get("only_frames") is not None:
        plan = _restrict(plan, options["only_frames"])
    # 2. Every source header must agree before anything is computed; only the frames the samples use are read.
    used = _used_sources(spec, plan)
    infos = check_sources({f: plan.sources[f] for f in used}, spec.part, spec.view, same_channels=True)
    if plan.mattes:
        window = infos[0].display_window if infos else _raster_window(plan.sources[used[0]])
        _check_mattes({f: plan.mattes[f] for f in used}, window)
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
        return _provenance(spec, plan, samples[frame], space, method, operation)

    def render(frame: int, out_path: Path, frame_provenance: Provenance) -> None:
        renderer.render(samples[frame], out_path, frame_provenance)

    # 4. Stream the output frames in order; a pair's flow is estimated once and reused for all its in-betweens.
    progress = FrameProgress.of(operation, len(samples), options)
    frames = FrameRun(plan.outputs, provenance, progress, PlateResult(output=plan.output_label))
    todo = frames.pending(samples, options.get("force", False))
    with opencv_threads(spec.threads):
        result = frames.write(samples, todo, render)
    result.method = method.describe()
    return result


def run_vectors(spec: VectorsSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """The `vectors` op: each source frame written with its motion channels; checks, resume, cancel as above."""
    return run_interpolate(interpolate_spec(spec), operation="vectors", **options)


def vectors_frames(spec: VectorsSpec) -> list[int]:
    """The output frame numbers a `vectors` run writes: the source frames, in order."""
    return plan_output_frames(interpolate_spec(spec))


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
        rates=plan.rates,
        mattes=plan.mattes,
    )


@dataclass
class _Method:
    """The method a run uses, `auto` resolved; for `learned`, its pinned model and (once loaded) the estimator."""

    name: str
    model: str | None = None
    weights_sha256: str | None = None
    estimator: object | None = None
    fusion: bool = True
    resample: str = "adaptive"  # `warp.RESAMPLES`, `auto` resolved

    def describe(self) -> str:
        if self.name != "learned":
            return self.name
        where = f" on {self.estimator.provider}" if self.estimator is not None else ""
        fused = " fused with flow" if self.fusion else ""
        return f"learned ({self.model}{fused}{where})"

    def learned(self, spec: InterpolateSpec):
        """The learned estimator, loaded on first use: a run of pass-through frames never loads a network."""
        if self.estimator is None:
            from dreamplate.interp.rife import COARSE_MOTION, COARSE_MOTION_FUSED, LearnedEstimator

            coarse_motion = COARSE_MOTION_FUSED if self.fusion else COARSE_MOTION
            self.estimator = LearnedEstimator(
                self.model, spec.runtime, spec.scale, spec.tta, spec.threads, coarse_motion=coarse_motion
            )
        return self.estimator


def _choose_method(spec: InterpolateSpec) -> _Method:
    """`flow`, or `learned` with its pinned model; `auto` is learned when its weights and a runtime are installed."""
    from dreamplate.runtime.weights import DEFAULT_LEARNED, find_weights, pinned, verified_weights

    # auto: adaptive, except on --no-fusion, the speed path (about 15 ms a 960x540 in-between for 0.1 dB there), and
    # under a shutter, whose average of sub-frames is softer than any resampler makes one, at that cost per sub-frame.
    resample = spec.resample
    if resample == "auto":
        resample = "bilinear" if not spec.fusion or spec.shutter > 0.0 else "adaptive"
    if spec.method in ("flow", *MOTIONLESS_METHODS):
        return _Method(spec.method, resample=resample)
    entry = pinned(spec.model or DEFAULT_LEARNED, "interpolate")
    if spec.method == "auto":
        from dreamplate.interp.rife import RUNTIME_MODULES, runtime_installed

        if find_weights(entry) is None or not runtime_installed(spec.runtime):
            runtime = " or ".join(RUNTIME_MODULES[spec.runtime])
            log.info("method: flow (learned needs the %s weights and %s: dreamplate models pull)", entry.name, runtime)
            return _Method("flow", resample=resample)
    verified_weights(entry)  # before anything is written: missing or altered weights stop the run here
    log.info("method: learned (%s)", entry.name)
    return _Method("learned", entry.name, entry.sha256, fusion=spec.fusion, resample=resample)


def _provenance(
    spec: InterpolateSpec, plan: _Plan, sample: OutputSample, space, method: _Method, operation: str = "interpolate"
) -> Provenance:
    """What this output frame is made of: compared on a re-run to decide whether it is finished."""
    sources = [plan.sources[sample.frame_a]]
    if sample.t != 0.0:
        sources.append(plan.sources[sample.frame_b])
    if spec.shutter > 0.0 or spec.vectors:
        # Blur and vectors read the neighbouring frames too: a changed neighbour must re-render this frame.
        sources = [plan.sources[f] for f in _sample_sources(spec, plan, sample)]
    parameters = _parameters(spec, sample, plan)
    if method.name == "learned":
        parameters.update(model=method.model, scale=spec.scale, tta=spec.tta)
    if method.name not in MOTIONLESS_METHODS and (sample.t != 0.0 or spec.shutter > 0.0):
        parameters["resample"] = method.resample  # `auto` resolved: what sampled this frame's pixels
    return Provenance(
        operation=operation,
        method=method.name,
        parameters=parameters,
        sources=[str(p) for p in sources],
        source_frames=[float(sample.source)],
        model=method.model,
        weights_sha256=method.weights_sha256,
        colorspace=None if space is None else space.name,
    )


@dataclass
class _PairEstimates:
    """What is estimated once per source pair (one layer of it) and reused for all its times, made when first asked."""

    signals: tuple[np.ndarray, np.ndarray] | None = None  # the motion signals of A and B
    flow: object | None = None  # interp.flow.PairFlow
    network: object | None = None  # interp.rife.LearnedMotion at t = 0.5, for a time-free net
    shift: np.ndarray | None = None  # the pair's shared motion taken out for the network (interp.shared_motion)
    shift_known: bool = False  # whether `shift` was worked out (None is an answer: no shared motion)


class _Renderer:
    """Makes output frames from source pairs, holding the few decoded frames and the pair estimates in use.

    Three entry points make pixels and motion for a pair (frame_a, frame_b) at a time t in (0, 1): `_inbetween`
    (the frame), `_motion` (what moved where), and `render`, which writes an output frame from them: as is, exposed
    over a shutter (`_exposed`, several sub-frame times of the same pairs' estimates), with motion channels.
    """

    def __init__(
        self, spec: InterpolateSpec, plan: _Plan, model, cfg, display: str | None, method: _Method, writer: FrameWriter
    ) -> None:
        self.spec, self.plan, self.model, self.cfg, self.display = spec, plan, model, cfg, display
        self.method, self.writer = method, writer
        self.cache: OrderedDict[int, _Plate] = OrderedDict()
        self.matte_cache: OrderedDict[int, _Plate] = OrderedDict()
        # Estimates keyed by (frame_a, frame_b, layer), and for learned also t: a shutter spanning two pairs, or a
        # frame's vectors to both neighbours, reuse them instead of estimating again.
        self.estimates: OrderedDict[tuple, object] = OrderedDict()
        self.available = sorted(plan.sources)

    # --- writing ---------------------------------------------------------------------------------------------------

    def render(self, sample: OutputSample, out_path: Path, provenance: Provenance) -> None:
        spec, plan = self.spec, self.plan
        shown = sample.frame_a if sample.t == 0.0 else self._nearest(sample.frame_a, sample.frame_b, sample.t)
        if spec.shutter > 0.0:
            pixels, box, linear = self._exposed(sample)
        elif shown is not None:
            plate = self._plate(shown)
            if spec.vectors:
                self._write(sample, plate.pixels, plate.box, out_path, provenance, passthrough=True)
            elif plan.raster and plan.exr_out:
                self._write_linear(plate.pixels, plate, out_path, provenance)
            elif plate.exr is None:
                write_raster(out_path, plate.pixels, plate.bit_depth)  # integer codes: nothing was repaired
            else:
                # As read, NaN/Inf included; a frame held between source frames has no timecode of its own.
                self.writer.passthrough(out_path, plate.exr, provenance, keep_timecode=sample.t == 0.0)
            return
        else:
            pixels, box = self._inbetween(sample.frame_a, sample.frame_b, sample.t)
            linear = False
        if self.method.estimator is not None:
            provenance.runtime = self.method.estimator.provider  # recorded, not compared
        self._write(sample, pixels, box, out_path, provenance, linear=linear)

    def _write(
        self,
        sample: OutputSample,
        pixels: np.ndarray,
        box: Box,
        out_path: Path,
        provenance: Provenance,
        *,
        passthrough: bool = False,
        linear: bool = False,
    ) -> None:
        """An output frame on `box`, with Nuke's motion channels when --vectors asks for them.

        A pass-through frame with vectors keeps every source channel as read (NaN/Inf included) and only gains the
        four motion channels; `linear` pixels of a display-referred plate are already decoded to scene-linear.
        """
        plan, plate = self.plan, self._plate(sample.frame_a)
        extra = self._vectors(sample, box) if self.spec.vectors else {}
        if plan.raster and plan.exr_out:
            self._write_linear(pixels, plate, out_path, provenance, decoded=linear, extra=extra)
        elif passthrough:
            source = plate.exr
            image = replace(
                source,
                channels={**source.channels, **extra},
                pixel_types={**source.pixel_types, **dict.fromkeys(extra, "half")},
            )
            self.writer.write(out_path, image, provenance)
        else:
            self._write_inbetween(plate, pixels, box, out_path, provenance, extra)

    def _write_linear(
        self,
        pixels: np.ndarray,
        plate: _Plate,
        out_path: Path,
        provenance: Provenance,
        *,
        decoded: bool = False,
        extra: dict[str, np.ndarray] | None = None,
    ) -> None:
        """A display-referred frame decoded to scene-linear and written as EXR, tagged in the linear space."""
        linear = pixels if decoded else convert(self.cfg, pixels, self.display, self.writer.space.name)
        window = (0, 0, linear.shape[1] - 1, linear.shape[0] - 1)
        channels = {name: linear[..., i] for i, name in enumerate(plate.names)}
        channels.update(extra or {})
        image = ExrImage(
            channels=channels,
            pixel_types=dict.fromkeys(channels, "half"),
            data_window=window,
            display_window=window,
        )
        self.writer.write(out_path, image, provenance)

    def _write_inbetween(
        self,
        plate: _Plate,
        pixels: np.ndarray,
        box: Box,
        out_path: Path,
        provenance: Provenance,
        extra: dict[str, np.ndarray] | None = None,
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
        extra = extra or {}
        channels.update(extra)
        image = ExrImage(
            channels=channels,
            pixel_types={**source.pixel_types, **dict.fromkeys(extra, "half")},
            data_window=box,
            display_window=source.display_window,
            attributes=source.attributes,
        )
        self.writer.write(out_path, image, provenance, keep_timecode=False)

    # --- motion blur and vectors -----------------------------------------------------------------------------------

    def _exposed(self, sample: OutputSample) -> tuple[np.ndarray, Box, bool]:
        """The output frame as a shutter sees it: sub-frames along the pairs' motion, averaged in scene-linear.

        Each sub-frame time lies in a source pair whose estimate is made once and reused for all its sub-frames (and
        by the neighbouring output frames whose shutters reach into it). Display-referred frames written as EXR are
        decoded before the average, so the blur is in scene-linear there too; the flag says so.
        """
        from dreamplate.interp.shutter import expose, sharpest, shutter_positions

        spec, plan = self.spec, self.plan
        forward, backward = plan.rates[sample.frame]
        positions = shutter_positions(
            sample.source,
            (forward + backward) / 2.0,
            spec.shutter,
            spec.shutter_samples,
            spec.shutter_offset,
            self.available[0],
            self.available[-1],
            custom_offset=spec.shutter_custom_offset,
        )
        brackets = [bracket(p, self.available) for p in positions]
        box = self._plate(sample.frame_a).box
        for frame_a, frame_b, _ in brackets:
            box = union_window(union_window(box, self._plate(frame_a).box), self._plate(frame_b).box)
        decode = plan.raster and plan.exr_out
        # The learned network runs once per pair (at the sub-frame time nearest the pair's middle of the shutter);
        # its other sub-frames are carried along that motion. The flow method's per-pair estimate serves every time.
        anchors: dict[tuple[int, int], float] = {}
        if self.method.name == "learned" and not plan.mattes:
            by_pair: dict[tuple[int, int], list[float]] = {}
            for frame_a, frame_b, t in brackets:
                if t != 0.0:
                    by_pair.setdefault((frame_a, frame_b), []).append(t)
            for pair, times in by_pair.items():
                middle = (min(times) + max(times)) / 2.0
                anchors[pair] = min(times, key=lambda u: abs(u - middle))
        frames = []
        for frame_a, frame_b, t in brackets:
            if (frame_a, frame_b) in anchors and t != 0.0:
                pixels, sub_box = self._carried(frame_a, frame_b, anchors[(frame_a, frame_b)], t)
            else:
                pixels, sub_box = self._frame(frame_a, frame_b, t)
            if decode:
                pixels = convert(self.cfg, pixels, self.display, self.writer.space.name)
            frames.append(place_on_window(pixels, sub_box, box))
        plate = self._plate(sample.frame_a)
        nearest = [is_nearest_channel(n, _pixel_type(plate, n)) for n in plate.names]
        return expose(frames, nearest, sharpest(positions, sample.source)), box, decode

    def _carried(self, frame_a: int, frame_b: int, anchor: float, t: float) -> tuple[np.ndarray, Box]:
        """The learned sub-frame at t, from the pair's learned motion at `anchor` carried to t (`project_motion`)."""
        from dreamplate.interp.rife import LearnedMotion, interpolate_learned
        from dreamplate.interp.shutter import project_motion

        plate_a, plate_b, box, a, b, nearest = self._pair(frame_a, frame_b)
        motion = self._learned(frame_a, frame_b, anchor, "plate", plate_a, plate_b, a, b)
        carried = LearnedMotion(*project_motion(motion.to_a, motion.to_b, motion.weight_b, anchor, t))
        return interpolate_learned(carried, a, b, nearest=nearest, resample=self.method.resample), box

    def _vectors(self, sample: OutputSample, box: Box) -> dict[str, np.ndarray]:
        """Nuke's motion channels of an output frame on `box`: the motion to the next and the previous output frame.

        The motion of what each pixel shows, per source frame, times the source frames between this output frame and
        its neighbour (`plan.rates`). A source frame takes each direction from the pair on that side of it (the
        frame before for a reversed retime); the first and last frames, with one pair only, use it both ways.
        """
        forward, backward = self.plan.rates[sample.frame]
        return nuke_channels(
            self._velocity(sample, forward, box) * np.float32(forward),
            self._velocity(sample, -backward, box) * np.float32(-backward),
        )

    def _velocity(self, sample: OutputSample, direction: float, box: Box) -> np.ndarray:
        """Motion per source frame (H x W x 2 on `box`) of what the frame at `sample` shows, seen toward `direction`."""
        if sample.t != 0.0:
            frame_a, frame_b, t = sample.frame_a, sample.frame_b, sample.t
        else:
            index = self.available.index(sample.frame_a)
            after = self.available[index + 1] if index + 1 < len(self.available) else None
            before = self.available[index - 1] if index > 0 else None
            if (direction >= 0.0 and after is not None) or before is None:
                if after is None:  # a single source frame: nothing moves
                    width, height = window_size(box)
                    return np.zeros((height, width, 2), np.float32)
                frame_a, frame_b, t = sample.frame_a, after, 0.0
            else:
                frame_a, frame_b, t = before, sample.frame_a, 1.0
        motion, motion_box = self._motion(frame_a, frame_b, t)
        return place_on_window(motion, motion_box, box) / np.float32(frame_b - frame_a)

    # --- frames and motion of a pair -------------------------------------------------------------------------------

    def _plate(self, frame: int) -> _Plate:
        return _load(self.cache, self.spec, frame, self.plan.sources[frame])

    def _frame(self, frame_a: int, frame_b: int, t: float) -> tuple[np.ndarray, Box]:
        """The picture at t of a pair: the source frame itself at t == 0, else the in-between."""
        if t == 0.0:
            plate = self._plate(frame_a)
            return plate.pixels, plate.box
        return self._inbetween(frame_a, frame_b, t)

    def _pair(self, frame_a: int, frame_b: int) -> tuple[_Plate, _Plate, Box, np.ndarray, np.ndarray, list[bool]]:
        """Both plates, their union window, their pixels placed on it, and the never-blended channel flags."""
        plate_a, plate_b = self._plate(frame_a), self._plate(frame_b)
        box = union_window(plate_a.box, plate_b.box)
        a = place_on_window(plate_a.pixels, plate_a.box, box)
        b = place_on_window(plate_b.pixels, plate_b.box, box)
        nearest = [is_nearest_channel(n, _pixel_type(plate_a, n)) for n in plate_a.names]
        return plate_a, plate_b, box, a, b, nearest

    def _nearest(self, frame_a: int, frame_b: int, t: float) -> int | None:
        """The source frame shown as it is at t in (0, 1) of a pair: with `--method frame` the nearer one (from t =
        0.5 the later, as rounding half up does), else none."""
        if self.method.name != "frame":
            return None
        return frame_a if t < 0.5 else frame_b

    def _inbetween(self, frame_a: int, frame_b: int, t: float) -> tuple[np.ndarray, Box]:
        """The in-between at t in (0, 1) of a pair (scene-linear H x W x C) and the window it lies on."""
        shown = self._nearest(frame_a, frame_b, t)
        if shown is not None:
            plate = self._plate(shown)
            return plate.pixels, plate.box
        plate_a, plate_b, box, a, b, nearest = self._pair(frame_a, frame_b)
        if self.method.name == "blend":
            # Scene-linear, so a highlight fades by exactly its share; depth and IDs come from the nearer frame.
            mixed = (a + np.float32(t) * (b - a)).astype(np.float32)  # exact wherever the frames agree
            keep = np.asarray(nearest, bool)
            mixed[..., keep] = (a if t < 0.5 else b)[..., keep]
            return mixed, box
        if self.plan.mattes:
            return self._matte_inbetween(frame_a, frame_b, t, box, a, b, nearest)[0], box
        if self.method.name == "learned":
            from dreamplate.interp.rife import interpolate_learned

            motion = self._learned(frame_a, frame_b, t, "plate", plate_a, plate_b, a, b)
            return interpolate_learned(motion, a, b, nearest=nearest, resample=self.method.resample), box
        from dreamplate.interp.flow import interpolate_frame

        flow = self._flow(frame_a, frame_b, "plate", plate_a, plate_b, a, b)
        return interpolate_frame(flow, a, b, t, nearest=nearest, resample=self.method.resample), box

    def _motion(self, frame_a: int, frame_b: int, t: float) -> tuple[np.ndarray, Box]:
        """The A->B motion (H x W x 2, pixels per pair, dx and dy rows-down) of what the frame at t in [0, 1] shows."""
        plate_a, plate_b, box, a, b, nearest = self._pair(frame_a, frame_b)
        if self.plan.mattes:
            from dreamplate.interp.matte_retime import layered_motion

            _, fg, bg, cover = self._matte_inbetween(frame_a, frame_b, t, box, a, b, nearest)
            return layered_motion(fg, bg, cover), box
        return self._layer_motion(frame_a, frame_b, t, "plate", plate_a, plate_b, a, b).motion, box

    def _layer_motion(self, frame_a, frame_b, t, layer, plate_a, plate_b, a, b, mask=None):
        """Where the pixel at t of one layer is found in A and B (`LayerMotion`), by the run's method.

        `mask` (a pair of functions on the motion signals) makes the layer's picture: the subject on black, or the
        background with the subject filled in.
        """
        from dreamplate.interp.matte_retime import LayerMotion

        if self.method.name == "learned":
            motion = self._learned(frame_a, frame_b, t, layer, plate_a, plate_b, a, b, mask)
            return LayerMotion(motion.to_a, motion.to_b)
        from dreamplate.interp.flow import motion_at

        projected = motion_at(self._flow(frame_a, frame_b, layer, plate_a, plate_b, a, b, mask), t)
        return LayerMotion(-t * projected, (1.0 - t) * projected)

    def _signals(self, frame_a, frame_b, layer, plate_a, plate_b, a, b, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """The motion signals of a pair (one layer of it), made once: the net, the flow and the blend all use them."""
        pair = self._estimate((frame_a, frame_b, layer), _PairEstimates)
        if pair.signals is None:
            raster = self.plan.raster
            signals = (_motion_signal(a, plate_a, self.model, raster), _motion_signal(b, plate_b, self.model, raster))
            pair.signals = signals if mask is None else (mask[0](signals[0]), mask[1](signals[1]))
        return pair.signals

    def _flow(self, frame_a, frame_b, layer, plate_a, plate_b, a, b, mask=None):
        """The flow method's estimate of a pair (one layer of it), made once and reused for all its times.

        The fusion's flow candidate is estimated on its own, sparser patch grid, at the network's working size
        (`fusion.candidate_flow`).
        """
        from dreamplate.interp.flow import estimate_flow

        pair = self._estimate((frame_a, frame_b, layer), _PairEstimates)
        if pair.flow is None:
            signals = self._signals(frame_a, frame_b, layer, plate_a, plate_b, a, b, mask)
            if self.method.name == "learned":
                from dreamplate.interp.fusion import candidate_flow

                pair.flow = candidate_flow(*signals, self._working_size(signals))
            else:
                pair.flow = estimate_flow(*signals)
        return pair.flow

    def _learned(self, frame_a, frame_b, t, layer, plate_a, plate_b, a, b, mask=None):
        """The learned estimate at t, kept for a frame's vectors; a time-free net (HDv3) runs once per pair.

        Fused per pixel with the flow method's (`interp.fusion`): where the net's motion fails (fast small objects,
        sharp CG edges) and the flow's matches the frames clearly better, the flow's takes over. Its blend weights
        are then settled where the two frames agree along it (`rife.blend_by_agreement`).
        """
        from dreamplate.interp.fusion import fuse
        from dreamplate.interp.rife import at_time, blend_by_agreement

        estimator = self.method.learned(self.spec)
        signals = self._signals(frame_a, frame_b, layer, plate_a, plate_b, a, b, mask)
        flow = self._flow(frame_a, frame_b, layer, plate_a, plate_b, a, b, mask) if self.spec.fusion else None
        shift = self._shift(frame_a, frame_b, layer, signals, flow)

        def network():
            if not estimator.time_free:
                return estimator.estimate(*signals, t, shift)
            pair = self._estimate((frame_a, frame_b, layer), _PairEstimates)
            if pair.network is None:
                pair.network = estimator.estimate_pair(*signals, shift)
            return at_time(pair.network, t)

        def make():
            learned = network()
            if flow is not None:
                learned = fuse(learned, flow, t)
            return blend_by_agreement(learned, *signals, t)

        return self._estimate((frame_a, frame_b, layer, round(t, 9)), make)

    def _shift(self, frame_a, frame_b, layer, signals, flow) -> np.ndarray | None:
        """The pair's shared motion (a pan), taken out of it for the network (`interp.shared_motion`): the flow
        candidate's median where the flow method is fused in, else a quick half-size DIS pass's, made once."""
        from dreamplate.interp.shared_motion import quick_forward, shared_shift

        pair = self._estimate((frame_a, frame_b, layer), _PairEstimates)
        if not pair.shift_known:
            working = self._working_size(signals)
            forward = flow.forward if flow is not None else quick_forward(*signals, working)
            size = (signals[0].shape[1], signals[0].shape[0])
            pair.shift, pair.shift_known = shared_shift(forward, working, size), True
        return pair.shift

    def _working_size(self, signals: tuple[np.ndarray, np.ndarray]) -> tuple[int, int]:
        """(width, height) the network runs a pair of these signals at (`rife.working_size`)."""
        from dreamplate.interp.rife import working_size

        height, width = signals[0].shape[:2]
        return working_size(width, height, self.method.learned(self.spec).scale)

    def _estimate(self, key: tuple, make):
        if key in self.estimates:
            self.estimates.move_to_end(key)
            return self.estimates[key]
        value = self.estimates[key] = make()
        while len(self.estimates) > _ESTIMATE_CACHE_SIZE:
            self.estimates.popitem(last=False)
        return value

    # --- matte-separated retime ------------------------------------------------------------------------------------

    def _matte_inbetween(self, frame_a, frame_b, t, box, a, b, nearest):
        """(pixels, foreground motion, background motion, coverage) of the in-between at t of two layers."""
        from dreamplate.interp.matte_retime import background_fill, composite, foreground_signal

        plate_a, plate_b = self._plate(frame_a), self._plate(frame_b)
        matte_a, matte_b = self._matte(frame_a, box), self._matte(frame_b, box)
        fg_mask = (lambda s: foreground_signal(s, matte_a), lambda s: foreground_signal(s, matte_b))
        bg_mask = (lambda s: background_fill(s, matte_a), lambda s: background_fill(s, matte_b))
        fg = self._layer_motion(frame_a, frame_b, t, "foreground", plate_a, plate_b, a, b, fg_mask)
        bg = self._layer_motion(frame_a, frame_b, t, "background", plate_a, plate_b, a, b, bg_mask)
        if t == 0.0:
            return a, fg, bg, matte_a
        if t == 1.0:
            return b, fg, bg, matte_b
        pixels, cover = composite(a, b, matte_a, matte_b, t, fg, bg, np.asarray(nearest, bool), self.method.resample)
        return pixels, fg, bg, cover

    def _matte(self, frame: int, box: Box) -> np.ndarray:
        """The subject's coverage in a source frame (H x W, 0-1) on `box`: the matte's A, else its first channel."""
        plate = _load(self.matte_cache, self.spec, frame, self.plan.mattes[frame], part_view=False)
        channel = plate.names.index("A") if "A" in plate.names else 0
        coverage = place_on_window(plate.pixels[..., channel], plate.box, box)
        return np.clip(coverage, 0.0, 1.0).astype(np.float32)


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
        elif spec.speed is not None:
            samples = plan_speed(list(seq.frames), spec.speed)
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
    if spec.vectors and out_suffix != ".exr":
        raise InputError(f"{spec.output}: --vectors writes motion channels, which need EXR outputs; use an .exr name")
    mattes: dict[int, Path] = {}
    if spec.matte is not None:
        if not is_sequence_pattern(spec.matte):
            raise InputError(f"--matte {spec.matte}: give a frame pattern (matte.####.exr), one matte per source frame")
        matte_seq = FrameSequence.from_pattern(spec.matte, sorted(sources))
        mattes = {f: matte_seq.path(f) for f in sources}
    return _Plan(
        samples,
        sources,
        outputs,
        label,
        raster=raster,
        exr_out=out_suffix == ".exr",
        rates=frame_rates(samples),
        mattes=mattes,
    )


def _source_fps(spec: InterpolateSpec, seq: FrameSequence) -> float:
    """The source rate: as given (`--fps 24:60`), else the first frame's framesPerSecond (`--fps 60`)."""
    if spec.fps is not None and spec.fps[0] is not None:
        return spec.fps[0]
    first = seq.path(seq.first)
    rate = None if is_raster(first) else read_info(first)[0].attributes.get("framesPerSecond")
    if rate is None:
        raise InputError(f"{first}: no framesPerSecond attribute; give the source rate as --fps SOURCE:TARGET")
    return float(rate)


def _parameters(spec: InterpolateSpec, sample: OutputSample, plan: _Plan) -> dict:
    """The settings that decide this frame's pixels; a re-run with other settings must not skip it.

    Shutter, vectors and matte are recorded only when used, so frames written without them stay finished.
    """
    parameters = {"t": round(sample.t, 9), "frame": sample.frame, **spec_parameters(spec, _SETTINGS)}
    if spec.shutter > 0.0:
        parameters.update(
            shutter=spec.shutter,
            shutter_samples=spec.shutter_samples,
            shutter_offset=spec.shutter_offset,
            rate=[round(r, 9) for r in plan.rates[sample.frame]],
        )
        if spec.shutter_offset == "custom":
            parameters["shutter_custom_offset"] = spec.shutter_custom_offset
    if spec.vectors:
        parameters.update(vectors=True, rate=[round(r, 9) for r in plan.rates[sample.frame]])
    if spec.matte is not None:
        parameters["matte"] = spec.matte
    if not spec.fusion:
        parameters["fusion"] = False
    return parameters


def _sample_sources(spec: InterpolateSpec, plan: _Plan, sample: OutputSample) -> list[int]:
    """The source frames an output frame is made from, in order: its pair, the pairs its shutter reaches into, and
    for vectors of a source frame both of its neighbours."""
    available = sorted(plan.sources)
    frames = {sample.frame_a, sample.frame_b}
    if spec.shutter > 0.0:
        from dreamplate.interp.shutter import shutter_positions

        forward, backward = plan.rates[sample.frame]
        for position in shutter_positions(
            sample.source,
            (forward + backward) / 2.0,
            spec.shutter,
            spec.shutter_samples,
            spec.shutter_offset,
            available[0],
            available[-1],
            custom_offset=spec.shutter_custom_offset,
        ):
            frame_a, frame_b, _ = bracket(position, available)
            frames |= {frame_a, frame_b}
    if spec.vectors and sample.t == 0.0:
        index = available.index(sample.frame_a)
        frames |= set(available[max(index - 1, 0) : index + 2])
    return sorted(frames)


def _used_sources(spec: InterpolateSpec, plan: _Plan) -> list[int]:
    """Every source frame the planned samples read, so each header is checked before anything is written."""
    used: set[int] = set()
    for sample in plan.samples:
        used |= set(_sample_sources(spec, plan, sample))
    return sorted(used)


def _raster_window(path: Path) -> Box:
    """The window a display-referred frame covers: its whole size."""
    height, width = read_raster(path).pixels.shape[:2]
    return (0, 0, width - 1, height - 1)


def _check_mattes(mattes: dict[int, Path], display_window: Box) -> None:
    """Every matte frame an EXR with the plate's display window (so it lines up pixel for pixel), not deep."""
    for frame in sorted(mattes):
        path = mattes[frame]
        if is_raster(path):
            raise InputError(f"--matte {path}: give the matte as EXR frames")
        info = read_info(path)[0]
        if info.storage.startswith("deep"):
            raise InputError(f"--matte {path}: deep data is not supported; flatten it first")
        if info.display_window != display_window:
            raise InputError(
                f"--matte {path}: display window {info.display_window} differs from the plate's {display_window}"
            )


# --- 2. frames --------------------------------------------------------------------------------------------------------


def _load(
    cache: OrderedDict[int, _Plate], spec: InterpolateSpec, frame: int, path: Path, *, part_view: bool = True
) -> _Plate:
    """Decode a source frame, keeping only the last few: memory stays flat however long the sequence.

    `part_view` False reads the first part and default view (a matte's), whatever --part and --view say.
    """
    if frame in cache:
        cache.move_to_end(frame)
        return cache[frame]
    if is_raster(path):
        raster = read_raster(path)
        height, width = raster.pixels.shape[:2]
        names = ["R", "G", "B", "A"][: raster.pixels.shape[2]]
        plate = _Plate(raster.pixels, names, (0, 0, width - 1, height - 1), bit_depth=raster.bit_depth)
    else:
        image = read_source(path, spec.part, spec.view) if part_view else read_source(path, None, None)
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
    return signal if raster else linear_motion_signal(signal, model)


def linear_motion_signal(linear: np.ndarray, model=None) -> np.ndarray:
    """The motion signal of scene-linear colour: the log model space, linear MOTION_WHITE at 1.0, clipped to [0, 1].

    The one encoding the retimer estimates motion on; benchmarks and tests call it to judge motion as a plate's is.
    """
    model = log_model_space() if model is None else model
    white = model.encode(np.full((1, 1, 1), MOTION_WHITE, np.float32))[0, 0, 0]
    return np.clip(model.encode(linear), 0.0, white) / white


def _target_fps(spec: InterpolateSpec) -> float | None:
    return None if spec.fps is None else spec.fps[1]
