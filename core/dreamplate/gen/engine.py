"""What the generative ops share: plate checks, draft settings, the pipeline call, and the windowed frame stream.

relight, sketch and keyframes read top to bottom in their own files; the pieces here exist once so the three cannot
drift apart: how a plate sequence is checked and read, how a frame is written (atomic, half, the plate's windows
and colour tags, provenance), how a pipeline is called (progress per step, cooperative cancel, out-of-memory as a
ModelError), and `stream_windows`, which runs a long plate through a model window by window and writes each frame
as soon as every window touching it is done.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from dreamplate.color.model_space import VideoModelSpace
from dreamplate.color.ocio import ColorConfig, SpaceChoice, frame_attributes, load_config, resolve_input_space
from dreamplate.errors import Cancelled, InputError, JobError, ModelError
from dreamplate.gen.models import ModelInfo
from dreamplate.gen.plate import ModelGeometry, composite_with_matte, from_model, place_on_display, read_matte, to_model
from dreamplate.gen.spec import GenSpec
from dreamplate.gen.windows import Window, anchor_colour, blend_weights, measure_shift, seed_for_window, valid_length
from dreamplate.io.exr import ExrImage, PartInfo, choose_part, read_exr, read_info, window_size, write_exr
from dreamplate.io.outputs import check_outputs, finished
from dreamplate.io.provenance import Provenance
from dreamplate.io.sequence import FrameSequence, is_sequence_pattern

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
StepCallback = Callable[[int, int], None]
"""(step done, steps total) inside one pipeline call."""

SEQUENCE_LENGTH = {"wan": 512, "ltx": 128}
"""Text tokens the families were trained with; capped by the tokenizer's own limit."""
OOM_FIX = "try --draft, a smaller --size, a shorter --window, or --offload model / sequential"
OOM_MARKERS = ("out of memory", "failed to allocate memory", "can't allocate memory", "cudaerrormemoryallocation")
"""Text of allocation failures: torch (CUDA, CPU allocator) and ONNX Runtime (BFC arena, CUDA provider)."""
SETTINGS = (
    "prompt",
    "negative_prompt",
    "model",
    "seed",
    "steps",
    "guidance",
    "strength",
    "conditioning_scale",
    "light_reference",
    "size",
    "max_area",
    "window",
    "overlap",
    "frames",
    "mask",
    "mask_channel",
    "feather",
    "colorspace",
    "part",
    "view",
    "pixel_type",
)
"""Spec fields that decide the pixels: recorded in provenance, compared on resume, taken over by --from-draft."""
FROM_DRAFT_SKIP = {"colorspace", "part", "view", "pixel_type"}
"""Settings --from-draft does not take over: they describe the files, which the full render names itself."""


@dataclass
class GenResult:
    """What a run did: frames written and skipped, where, and how (model, pipeline, device)."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    output: str = ""
    method: str = ""


@dataclass(frozen=True)
class RenderSettings:
    """The model-facing settings of a run after draft mode: model frame size, steps, window and overlap."""

    target_size: tuple[int, int]
    steps: int
    window: int
    overlap: int


# --- plates ----------------------------------------------------------------------------------------------------------


@dataclass
class PlateSequence:
    """A checked plate sequence: frame numbers in order, their paths, the chosen part's header of the first."""

    pattern: str
    frames: list[int]
    paths: dict[int, Path]
    info: PartInfo

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the display window: what the model frame covers."""
        return window_size(self.info.display_window)


def part_arg(part: str | None) -> int | str | None:
    """`--part` as read_exr takes it: digits are an index, anything else a part name."""
    return int(part) if part is not None and part.isdigit() else part


def check_plate(pattern: str, frames: str | None, part: str | None, view: str | None) -> PlateSequence:
    """Every frame's header read and compared (display window, RGB channels, no deep data) before any work."""
    if not is_sequence_pattern(pattern):
        raise InputError(f"{pattern}: give a sequence pattern such as plate.####.exr")
    seq = FrameSequence.from_pattern(pattern, frames)
    if not seq.frames:
        raise InputError(f"{seq.pattern}: no frames found")
    if seq.suffix.lower() != ".exr":
        raise InputError(f"{seq.pattern}: generative ops read scene-linear EXR plates; convert {seq.suffix} first")
    paths = {f: seq.path(f) for f in seq.frames}
    first: PartInfo | None = None
    for path in paths.values():
        info = choose_part(path, read_info(path), part_arg(part), view)
        if info.storage.startswith("deep"):
            raise InputError(f"{path}: deep data is not supported; flatten it first")
        names = {c.name for c in info.channels}
        if not ({"R", "G", "B"} <= names or "Y" in names):
            raise InputError(f"{path}: no R, G, B (or Y) channels to generate from; has {', '.join(sorted(names))}")
        if first is None:
            first = info
        elif info.display_window != first.display_window:
            raise InputError(
                f"{path}: display window {info.display_window} differs from frame {seq.frames[0]} "
                f"{first.display_window}"
            )
    assert first is not None
    return PlateSequence(seq.pattern, list(seq.frames), paths, first)


def read_plate(path: Path, part: str | None, view: str | None) -> tuple[ExrImage, np.ndarray]:
    """A plate frame and its colour on the display window: (image, (H, W, 3) float32 scene-linear)."""
    image = read_exr(path, part=part_arg(part), view=view)
    if all(n in image.channels for n in ("R", "G", "B")):
        rgb = np.stack([image.channels[n].astype(np.float32, copy=False) for n in ("R", "G", "B")], axis=-1)
    else:
        rgb = np.repeat(image.channels["Y"].astype(np.float32, copy=False)[..., None], 3, axis=-1)
    return image, place_on_display(rgb, image.data_window, image.display_window)


def output_paths(output: str, frames: list[int]) -> tuple[str, dict[int, Path]]:
    """(label, frame -> path) for an output pattern; InputError for a single file or a non-EXR name."""
    if not is_sequence_pattern(output):
        raise InputError(f"{output}: give an output pattern such as out.####.exr")
    seq = FrameSequence.for_output(output, frames)
    if seq.suffix.lower() != ".exr":
        raise InputError(f"{output}: outputs are scene-linear EXR; use an .exr name")
    return seq.pattern, {f: seq.path(f) for f in frames}


class PlateRun(NamedTuple):
    """What a plate op has checked before any model loads: its spec (draft applied), plate, mattes, colour, outputs."""

    spec: Any
    plate: PlateSequence
    masks: dict[int, Path] | None
    cfg: ColorConfig
    space: SpaceChoice
    label: str
    outputs: dict[int, Path]


def prepare_plate_run(spec: Any, operation: str, only_frames: Collection[int] | None) -> PlateRun:
    """Step 1 of relight and sketch: plate frames and headers, mattes, colour space, outputs; nothing is written.

    Raises InputError/ColorError naming the file or option when any of them is wrong.
    """
    spec = apply_draft(spec, operation)
    plate = check_plate(spec.inputs[0], spec.frames, spec.part, spec.view)
    masks = mask_paths(spec, plate)
    cfg = load_config(spec.ocio)
    space = resolve_input_space(cfg, plate.info.attributes, spec.colorspace)
    log.info("colour space: %s (%s)", space.name, space.reason)
    label, outputs = output_paths(spec.output, plate.frames)
    check_outputs(outputs, [*plate.paths.values(), *(masks or {}).values()])
    unknown = sorted(set(only_frames or ()) - set(plate.frames))
    if unknown:
        raise InputError(f"{label}: frames {unknown[:5]} are not among this run's output frames")
    return PlateRun(spec, plate, masks, cfg, space, label, outputs)


def mask_paths(spec: Any, plate: PlateSequence) -> dict[int, Path] | None:
    """The matte file per plate frame (None: no mask; {}: the plate's own channel); InputError for missing ones."""
    if spec.mask is None:
        return None
    if spec.mask.lower() == "alpha":
        return {}
    if not is_sequence_pattern(spec.mask):
        path = Path(spec.mask)
        if not path.is_file():
            raise InputError(f"--mask {spec.mask}: no such file")
        return dict.fromkeys(plate.frames, path)  # one still matte for the whole shot
    seq = FrameSequence.from_pattern(spec.mask)
    missing = [f for f in plate.frames if f not in set(seq.frames)]
    if missing:
        raise InputError(f"--mask {seq.pattern}: no matte for plate frames {missing[:5]}")
    return {f: seq.path(f) for f in plate.frames}


# --- writing ---------------------------------------------------------------------------------------------------------


def write_generated(
    path: Path,
    plate: ExrImage,
    rgb: np.ndarray,
    provenance: Provenance,
    cfg: ColorConfig,
    space: SpaceChoice,
    spec: GenSpec,
) -> None:
    """A generated frame: `rgb` (H, W, 3) on the display window, written on the plate's data window.

    Outside the display window (overscan) the plate's own pixels stay, since the model never saw them; the
    plate's alpha passes through (the structure is the plate's). Other channels (depth, IDs, AOVs) are left out:
    they describe the old picture. Y-only plates come back as R, G, B.
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
    image = ExrImage(
        channels=channels,
        pixel_types=dict.fromkeys(channels, "half"),
        data_window=plate.data_window,
        display_window=plate.display_window,
        attributes=frame_attributes(plate.attributes, provenance, cfg, space),
    )
    write_exr(path, image, pixel_type=spec.pixel_type, compression=spec.compression)


def write_passthrough(
    path: Path, plate: ExrImage, provenance: Provenance, cfg: ColorConfig, space: SpaceChoice, spec: GenSpec
) -> None:
    """A plate frame written unchanged (every channel, bit for bit in half), with this run's provenance."""
    image = ExrImage(
        channels=plate.channels,
        pixel_types=plate.pixel_types,
        data_window=plate.data_window,
        display_window=plate.display_window,
        attributes=frame_attributes(plate.attributes, provenance, cfg, space),
    )
    write_exr(path, image, pixel_type=spec.pixel_type, compression=spec.compression)


def settings_parameters(spec: GenSpec, **extra: Any) -> dict[str, Any]:
    """The spec's pixel-deciding settings as JSON data (paths as given), plus `extra`."""
    params: dict[str, Any] = {}
    for name in SETTINGS:
        if name in type(spec).model_fields:
            value = getattr(spec, name)
            if value is not None:
                params[name] = list(value) if isinstance(value, tuple) else value
    params["draft"] = spec.draft
    if spec.from_draft is not None:
        params["from_draft"] = spec.from_draft
    params.update(extra)
    return params


# --- draft mode ------------------------------------------------------------------------------------------------------


def render_settings(spec: GenSpec, info: ModelInfo) -> RenderSettings:
    """Model frame size, steps, window and overlap for `info`; a draft halves each side (to the multiple)."""
    m = info.spatial_multiple
    width, height = spec.size or info.default_size
    if spec.draft:
        width, height = (max(m, round(v / 2 / m) * m) for v in (width, height))
    if width < m or height < m:
        raise JobError(f"--size: {width}x{height} is smaller than one {m}-pixel block of {info.family} models")
    window = valid_length(spec.window or info.default_window, info.temporal_multiple)
    if window < 1:
        raise JobError(f"--window: {spec.window} frames is too short for this model (frames must be k*{m}+1)")
    overlap = spec.overlap if spec.overlap is not None else (window - 1) // 4
    if window > 1 and not 0 <= overlap < window:
        raise JobError(f"--overlap: must be smaller than the {window}-frame window, got {overlap}")
    return RenderSettings((width, height), spec.draft_steps(), window, overlap)


def apply_draft(spec: GenSpec, operation: str) -> GenSpec:
    """With --from-draft: the spec with the draft's seed, prompt and settings, except those given explicitly now.

    Reads the first frame of the draft; InputError when it is missing, not a draft, or made by another op.
    """
    if spec.from_draft is None:
        return spec
    seq = FrameSequence.from_pattern(spec.from_draft) if is_sequence_pattern(spec.from_draft) else None
    first = seq.path(seq.frames[0]) if seq is not None and seq.frames else Path(spec.from_draft)
    if not first.is_file():
        raise InputError(f"--from-draft {spec.from_draft}: no draft frames found")
    provenance = Provenance.from_attributes(read_info(first)[0].attributes, str(first))
    if provenance is None or not provenance.parameters.get("draft"):
        raise InputError(f"{first}: not a dreamplate draft (render one with --draft first)")
    if provenance.operation != operation:
        raise InputError(f"{first}: a {provenance.operation} draft, not {operation}")
    recorded = provenance.parameters
    update: dict[str, Any] = {}
    for name in SETTINGS:
        if name in FROM_DRAFT_SKIP or name not in type(spec).model_fields or name in spec.model_fields_set:
            continue
        if name in recorded:
            update[name] = tuple(recorded[name]) if name == "size" else recorded[name]
    overridden = sorted(n for n in spec.model_fields_set if n in recorded and recorded[n] != getattr(spec, n))
    if overridden:
        log.warning("--from-draft: %s given now override the draft's", ", ".join(overridden))
    log.info("from draft %s: seed %s, prompt %r", first, update.get("seed", spec.seed), update.get("prompt"))
    return spec.model_copy(update=update)


# --- the pipeline call -----------------------------------------------------------------------------------------------


def sequence_length(pipe: Any, family: str) -> int:
    """max_sequence_length for the text encoder: the family's trained length, capped by the tokenizer's limit."""
    limit = SEQUENCE_LENGTH[family]
    tokenizer = getattr(pipe, "tokenizer", None)
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < limit:
        limit = tok_max
    return limit


def scheduler_name(model_dir: Path) -> str:
    """The scheduler class a model directory declares (model_index.json), read without loading the pipeline."""
    import json

    try:
        entry = json.loads((Path(model_dir) / "model_index.json").read_text()).get("scheduler")
    except (OSError, ValueError):
        return ""
    return str(entry[1]) if isinstance(entry, list) and len(entry) == 2 else ""


def to_pil(frames: np.ndarray) -> list[Any]:
    """Model-space frames (T, h, w, 3) in [0, 1] -> 8-bit PIL images, as the pipelines' processors expect."""
    from PIL import Image

    codes = np.rint(np.clip(frames, 0.0, 1.0) * 255.0).astype(np.uint8)
    return [Image.fromarray(frame) for frame in codes]


def out_of_memory(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is an allocation failure: torch's or ONNX Runtime's (CPU arena or CUDA)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen).lower()
        if any(marker in text for marker in OOM_MARKERS):
            return True
        seen = seen.__cause__
    return False


def call_pipeline(
    pipe: Any,
    kwargs: dict[str, Any],
    what: str,
    cancelled: Callable[[], bool] | None = None,
    on_step: StepCallback | None = None,
) -> np.ndarray:
    """Run `pipe(**kwargs)` with per-step progress and cooperative cancel; frames (N, h, w, 3) float32 in [0, 1].

    A cancel sets the pipeline's interrupt flag between denoising steps and raises Cancelled once the call returns.
    Out-of-memory becomes a ModelError that says what to change; nothing has been written by then.
    """
    import torch

    steps = int(kwargs.get("num_inference_steps", 0))
    state = {"cancel": False}

    def step_end(p: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        if on_step is not None:
            on_step(step + 1, steps)
        if cancelled is not None and cancelled():
            state["cancel"] = True
            p._interrupt = True  # diffusers' cooperative stop: remaining steps are skipped
        return {}

    started = time.perf_counter()
    try:
        with torch.inference_mode():
            out = pipe(**kwargs, output_type="np", callback_on_step_end=step_end)
    except torch.OutOfMemoryError as exc:
        raise ModelError(f"{what}: out of memory on the device; {OOM_FIX}") from exc
    except Exception as exc:  # onnxruntime's errors are their own types (RuntimeException, Fail), not RuntimeError
        if out_of_memory(exc):
            raise ModelError(f"{what}: out of memory; {OOM_FIX}") from exc
        raise
    if state["cancel"]:
        raise Cancelled(f"{what}: cancelled between denoising steps")
    frames = np.asarray(out.frames, dtype=np.float32)[0]
    log.debug("%s: %d frames in %.2f s", what, len(frames), time.perf_counter() - started)
    return frames


def v2v_inputs(info: ModelInfo, frames: list[Any], strength: float, steps: int) -> dict[str, Any]:
    """Pipeline arguments for video-to-video at `strength`: Wan's img2img strength, or LTX's video condition.

    LTX-Video takes the plate as a video condition at frame 0 with condition strength 1 - strength (untuned).
    """
    if info.family == "wan":
        if int(steps * strength) < 1:
            raise JobError(f"--strength {strength:g} with {steps} steps leaves no denoising step; raise --steps")
        return {"video": frames, "strength": strength}
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    condition = LTXVideoCondition(video=frames, frame_index=0, strength=1.0 - strength)
    return {"conditions": [condition], "num_frames": len(frames)}


def read_reference(path: Path, model_size: tuple[int, int], space: VideoModelSpace) -> Any:
    """A reference image as the model sees it: an EXR encoded with the video model space, a PNG/TIFF/JPEG as is.

    Resized to the model frame (width, height); returned as an 8-bit PIL image. InputError for a missing file.
    """
    import cv2

    from dreamplate.io.raster import RASTER_SUFFIXES, read_raster

    if not path.is_file():
        raise InputError(f"--light-reference {path}: no such file")
    if path.suffix.lower() in RASTER_SUFFIXES:
        pixels = read_raster(path).pixels[..., :3]
        if pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, 3, axis=-1)
    else:
        _image, linear = read_plate(path, None, None)
        pixels = space.encode(np.nan_to_num(linear, nan=0.0, posinf=0.0, neginf=0.0))
    resized = cv2.resize(np.ascontiguousarray(pixels, np.float32), model_size, interpolation=cv2.INTER_AREA)
    return to_pil(resized[None])[0]


# --- the windowed stream ---------------------------------------------------------------------------------------------

Generate = Callable[[Window, np.ndarray, int, StepCallback], np.ndarray]
"""(window, model-space input frames (length, h, w, 3), seed, step callback) -> model frames (length, h, w, 3)."""


RUNTIMES = ("auto", "torch", "onnx")


def onnx_precision(device: str) -> str:
    """The export precision ONNX Runtime runs on `device`: fp16 on CUDA (TensorRT/CUDA kernels), fp32 on the CPU
    (the CPU provider lacks many fp16 kernels)."""
    return "fp16" if device.startswith("cuda") else "fp32"


def choose_runtime(info: ModelInfo, runtime: str, device: str) -> tuple[str, str]:
    """("torch" | "onnx", why) for `runtime` on the resolved `device`; nothing is loaded or exported here.

    `auto` takes ONNX Runtime only where it is importable and a valid export of this model at this device's precision
    is already cached, so an auto run never starts a long export; `onnx` needs onnxruntime (ModelError otherwise).
    """
    if runtime not in RUNTIMES:
        raise ModelError(f"runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime == "torch":
        return "torch", "asked for (--runtime torch)"
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        if runtime == "onnx":
            raise ModelError(
                "--runtime onnx: onnxruntime is not installed; install it or use --runtime torch"
            ) from None
        return "torch", "onnxruntime is not installed"
    if runtime == "onnx":
        return "onnx", "asked for (--runtime onnx)"
    from dreamplate.gen.onnx_export import find_export

    precision = onnx_precision(device)
    exported = find_export(info, precision)
    if exported is None:
        name = info.name or str(info.path)
        return "torch", f"no cached {precision} ONNX export of {name} (make one: dreamplate models export {name})"
    return "onnx", f"cached {precision} ONNX export {exported.path}"


class LazyPipeline:
    """A pipeline loaded on first use, so a run whose frames are all finished never loads a model.

    The one place the runtime is decided (`runtime`: auto, torch or onnx, see `choose_runtime`), so relight, sketch
    and keyframes all get it; `label` names what ran the model for provenance once loaded.
    """

    def __init__(self, info: ModelInfo, purpose: str, device: str | None, offload: str, runtime: str = "auto") -> None:
        self.info, self.purpose, self.device, self.offload, self.runtime = info, purpose, device, offload, runtime
        self._pipe: Any = None
        self.label = ""

    def get(self) -> Any:
        if self._pipe is None:
            self._pipe, self.label = self._load()
        return self._pipe

    def _load(self) -> tuple[Any, str]:
        from dreamplate.gen.pipelines import load_pipeline, select_device

        device, dtype = select_device(self.device)
        chosen, why = choose_runtime(self.info, self.runtime, device)
        log.info("runtime: %s (%s)", "ONNX Runtime" if chosen == "onnx" else "torch", why)
        if chosen == "torch":
            import torch

            pipe = load_pipeline(self.info, self.purpose, device=self.device, offload=self.offload)
            return pipe, f"{device} {str(dtype).removeprefix('torch.')} (torch {torch.__version__})"
        from dreamplate.runtime.model_cache import cached_model

        exported = self._export(onnx_precision(device))
        key = ("onnx", str(self.info.path), self.info.weights_sha256, self.purpose, device, self.offload, exported.path)
        pipe = cached_model(key, lambda: self._onnx_pipeline(exported))
        return pipe, onnx_label(pipe, exported)

    def _export(self, precision: str) -> Any:
        from dreamplate.gen.onnx_export import export_dir, export_model, find_export

        exported = find_export(self.info, precision)
        if exported is None:
            log.info(
                "no %s ONNX export of %s yet: exporting it once to %s (minutes for a real model)",
                precision,
                self.info.name or self.info.path,
                export_dir(self.info, precision),
            )
            exported = export_model(self.info, precision)
        return exported

    def _onnx_pipeline(self, exported: Any) -> Any:
        from dreamplate.gen.onnx_components import onnx_pipeline
        from dreamplate.gen.pipelines import load_pipeline

        # The torch transformer and VAE are never loaded: ONNX Runtime runs them.
        base = load_pipeline(
            self.info, self.purpose, device=self.device, offload=self.offload, without=("transformer", "vae")
        )
        return onnx_pipeline(base, exported)


def onnx_label(pipe: Any, exported: Any) -> str:
    """What ran the model, for provenance, device first as the torch label: the provider(s), the runtime's version,
    the precision and which export (weights hash / settings key)."""
    import onnxruntime

    providers = pipe.transformer.provider
    if pipe.vae.provider != providers:
        providers += f" (VAE {pipe.vae.provider})"
    key = f"{exported.path.parent.name}/{exported.path.name}"
    return f"{providers} (onnxruntime {onnxruntime.__version__}, {exported.precision} export {key})"


@dataclass
class Stream:
    """One windowed run over a plate: what to read, what to write, and how to generate a window."""

    plate: PlateSequence
    outputs: dict[int, Path]
    windows: list[Window]
    geometry: ModelGeometry
    space: VideoModelSpace
    generate: Generate
    provenance: Callable[[int], Provenance]  # frame number -> its provenance
    write: Callable[[Path, ExrImage, np.ndarray, Provenance], None]
    seed: int
    part: str | None = None
    view: str | None = None
    masks: dict[int, Path] | None = None
    mask_channel: str | None = None
    feather: float = 0.0


def stream_windows(
    stream: Stream,
    result: GenResult,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    force: bool = False,
    only_frames: Collection[int] | None = None,
) -> GenResult:
    """Generate window by window, blend the overlaps frame by frame and write each frame once no window is left.

    Per window: read only its plate frames, encode (`to_model`), generate with the window's seed, anchor its colour
    to window 0's change (`anchor_colour`), decode against its own plate frames (`from_model`). A frame is the
    `blend_weights` sum of its windows, matte-composited over the plate, written as soon as the last window that
    covers it is done. Windows whose frames are all finished (same provenance) are skipped; window 0 is still run
    when a later window needs its colour reference.
    """
    plate, windows = stream.plate, stream.windows
    n = len(plate.frames)
    weights = blend_weights(windows, n)
    wanted = range(n) if only_frames is None else [i for i, f in enumerate(plate.frames) if f in set(only_frames)]
    todo: set[int] = set()
    for i in wanted:
        frame = plate.frames[i]
        path = stream.outputs[frame]
        if not force and finished(path, stream.provenance(frame)):
            result.skipped.append(path)
        else:
            todo.add(i)
    total = len(wanted)
    done = len(result.skipped)
    if result.skipped:
        _report(progress, done, total, f"{len(result.skipped)} frames already written")
    covering = {i: {w.index for w in windows if weights[w.index, i] > 0} for i in todo}
    needed = [w for w in windows if any(w.index in covering[i] for i in todo)]
    if needed and needed[0].index != 0:
        needed.insert(0, windows[0])  # the colour reference every later window is anchored to
    reference = None
    acc: dict[int, np.ndarray] = {}
    plates: dict[int, tuple[ExrImage, np.ndarray]] = {}
    for count, win in enumerate(needed, start=1):
        if cancelled is not None and cancelled():
            raise Cancelled(f"cancelled after {done} of {total} frames")
        indices = win.source_indices()
        frames_rgb = []
        for i in indices:
            if i in plates:
                frames_rgb.append(plates[i][1])
                continue
            image, rgb = read_plate(plate.paths[plate.frames[i]], stream.part, stream.view)
            if i in todo:
                plates[i] = (image, rgb)
            frames_rgb.append(rgb)
        plate_lin = np.stack(frames_rgb)
        model_in = to_model(plate_lin, stream.geometry, stream.space)

        def on_step(step: int, steps: int, count: int = count, done: int = done) -> None:
            _report(progress, done, total, f"window {count}/{len(needed)}: step {step}/{steps}")

        out = stream.generate(win, model_in, seed_for_window(stream.seed, win.index), on_step)
        if win.index == 0:
            reference = measure_shift(out, model_in)
        else:
            assert reference is not None
            out = anchor_colour(out, model_in, reference)
        real = win.stop - win.start
        linear = from_model(out[:real], stream.geometry, stream.space, plate_lin[:real])
        for j in range(real):
            i = win.start + j
            if i not in todo:
                continue
            acc[i] = acc.get(i, 0.0) + weights[win.index, i] * linear[j].astype(np.float64)
            covering[i].discard(win.index)
            if covering[i]:
                continue
            frame = plate.frames[i]
            image, rgb = plates.pop(i)
            generated = acc.pop(i).astype(np.float32)
            if stream.masks is not None:
                source = stream.masks.get(frame, image)
                matte = read_matte(source, image.display_window, stream.mask_channel)
                generated = composite_with_matte(generated[None], rgb[None], matte[None], stream.feather)[0]
            path = stream.outputs[frame]
            stream.write(path, image, generated, stream.provenance(frame))
            result.written.append(path)
            done += 1
            _report(progress, done, total, f"wrote {path.name}")
    return result


def _report(progress: ProgressCallback | None, done: int, total: int, message: str) -> None:
    log.debug("%d/%d %s", done, total, message)
    if progress is not None:
        progress(done, total, message)
