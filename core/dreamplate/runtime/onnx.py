"""ONNX export of the flow networks and ONNX Runtime sessions, providers TensorRT > CUDA > CPU.

A session reports the execution provider it really got (`session.get_providers()`), never the one that was asked
for, and a fallback from a provider the installed runtime offers is logged as a WARNING. onnx, onnxruntime and torch
are imported inside the functions that need them, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dreamplate.errors import ModelError
from dreamplate.io.atomic import atomic_path

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
"""Execution providers in order of preference; a session uses the first the installed runtime offers."""

INPUT_NAMES = ("img0", "img1", "timestep")
OUTPUT_NAMES = ("flow", "mask")

_DYNAMIC_AXES = {
    "img0": {0: "batch", 2: "height", 3: "width"},
    "img1": {0: "batch", 2: "height", 3: "width"},
    "timestep": {0: "batch"},
    "flow": {0: "batch", 2: "height", 3: "width"},
    "mask": {0: "batch", 2: "height", 3: "width"},
}

FP32_OPS = ("GridSample", "CumSum", "ReduceMax", "Log")
"""Op types kept in fp32 by the fp16 conversion: the warp's pixel grid (in fp16 a normalised coordinate is off by
about a pixel at 2K) and the time prior's log (1 - 1e-6 rounds to 1 in fp16)."""

_FP32_SCOPE = "/warp"
"""Nodes whose name contains this (the `BackwardWarp` module's export scope) also stay fp32: the grid arithmetic."""


# --- export ------------------------------------------------------------------------------------------------------

EXPORTER_LOGGERS = {"onnxscript": logging.WARNING, "onnx_ir": logging.WARNING, "torch.onnx": logging.ERROR}
"""The ONNX libraries' loggers and the level they are capped at unless dreamplate logs at DEBUG (`-v`): their
optimiser passes log every folded constant at INFO (about 4,200 lines for one video model), the exporter's registry a
warning per missing torchvision op. Their own loggers are capped; the root logger is left as the CLI set it."""


def quiet_exporter_logs() -> None:
    """Cap `EXPORTER_LOGGERS` at their levels unless DEBUG logging is on (then they log as they like)."""
    if logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
        return
    for name, level in EXPORTER_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.level < level:
            logger.setLevel(level)


def export_onnx(net: torch.nn.Module, path: Path, opset: int = 17, fp16: bool = False) -> Path:
    """Export a flow net (`forward(img0, img1, timestep) -> (flow, mask)`) to ONNX at `path`, atomically.

    Batch, height and width are dynamic; inputs `img0`, `img1` (N x 3 x H x W), `timestep` (N x 1 x 1 x 1), outputs
    `flow`, `mask`, all float32 at the graph boundary. `fp16=True` converts the graph inside to half (for GPU
    providers), keeping `FP32_OPS` and the warp in fp32. The file is checked with `onnx.checker` before it
    replaces `path`. Returns `path`; raises ModelError when the exporter or the checker fails.
    """
    multiple = int(getattr(net, "pad_multiple", 64))
    # Non-square and not a power of two, so no size can be mistaken for another and baked into the graph.
    example = _example_inputs(height=2 * multiple, width=3 * multiple)
    convert = _convert_fp16 if fp16 else None
    return export_checked(net, example, path, INPUT_NAMES, OUTPUT_NAMES, _DYNAMIC_AXES, opset, convert)


def export_checked(
    net: torch.nn.Module,
    example: tuple,
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int,
    convert: Callable[[Path], None] | None = None,
) -> Path:
    """Export `net` to ONNX at `path` atomically: `export_graph`, then `convert(file)` in place (an fp16 pass) when
    given, then `onnx.checker`; nothing replaces `path` unless all pass. ModelError when the exporter or checker fails.
    """
    import onnx

    path = Path(path)
    with atomic_path(path) as tmp_path:
        how = export_graph(net.eval(), example, tmp_path, tuple(input_names), tuple(output_names), dynamic_axes, opset)
        if convert is not None:
            convert(tmp_path)
        try:
            onnx.checker.check_model(str(tmp_path), full_check=True)
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
            raise ModelError(f"{path}: exported ONNX graph fails the checker: {str(exc).splitlines()[0]}") from exc
    log.info("exported %s (%s, opset %d%s)", path, how, opset, ", converted" if convert else "")
    return path


def _example_inputs(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two distinct frames and t = 0.5: tracing inputs only, their values do not shape the graph."""
    import torch

    gen = torch.Generator().manual_seed(0)
    img0 = torch.rand((1, 3, height, width), generator=gen)
    img1 = torch.rand((1, 3, height, width), generator=gen)
    return img0, img1, torch.full((1, 1, 1, 1), 0.5)


def export_graph(
    module: torch.nn.Module,
    example: tuple,
    out_path: Path,
    inputs: Sequence[str],
    outputs: Sequence[str],
    axes: dict[str, dict[int, str]],
    opset: int,
    external_data: bool = False,
) -> str:
    """Write `module` to ONNX at `out_path` with the named `axes` dynamic; returns which exporter wrote it.

    The TorchScript exporter (`dynamo=False`) comes first: it gives a plain graph with dynamic axes from
    `dynamic_axes`, whose node names keep the module scopes an fp16 conversion can select by. Where it is gone or
    fails, the dynamo exporter is the fallback.
    """
    import torch

    quiet_exporter_logs()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated; tracer warnings are noise
            torch.onnx.export(
                module,
                example,
                str(out_path),
                dynamo=False,
                input_names=list(inputs),
                output_names=list(outputs),
                dynamic_axes=axes,
                opset_version=opset,
                do_constant_folding=True,
            )
        return "torchscript"
    except Exception as exc:  # the exporter raises many unrelated types; fall back, keep the reason
        log.warning("%s: TorchScript exporter failed (%s); trying dynamo", out_path.stem, str(exc).splitlines()[0])
    return export_dynamo(module, example, out_path, inputs, outputs, axes, opset, external_data)


def export_dynamo(
    module: torch.nn.Module,
    example: tuple,
    out_path: Path,
    inputs: Sequence[str],
    outputs: Sequence[str],
    axes: dict[str, dict[int, str]],
    opset: int,
    external_data: bool = False,
) -> str:
    """The dynamo exporter with every dynamic axis of `axes` left for it to infer; returns "dynamo"."""
    import inspect

    import torch

    quiet_exporter_logs()
    shapes: list[Any] = []
    for input_name in inputs:
        spec = {i: torch.export.Dim.AUTO for i in axes.get(input_name, {})}
        shapes.append(spec or None)
    # dynamic_shapes follows forward's signature: named parameters one by one, then *args as one tuple.
    params = list(inspect.signature(module.forward).parameters.values())
    named = sum(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params)
    has_varargs = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    structure = tuple(shapes[:named]) + ((tuple(shapes[named:]),) if has_varargs else ())
    try:
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            input_names=list(inputs),
            output_names=list(outputs),
            dynamic_shapes=structure,
            opset_version=opset,
            external_data=external_data,
            verbose=logging.getLogger().getEffectiveLevel() <= logging.DEBUG,  # its "[torch.onnx] ..." progress lines
        )
        program.save(str(out_path), external_data=external_data)
    except Exception as exc:  # the exporter raises many unrelated types; the message is what a user can act on
        raise ModelError(f"{out_path.stem}: ONNX export failed: {str(exc).splitlines()[0]}") from exc
    return "dynamo"


def to_fp16(model: Any, fp32_ops: Sequence[str], keep_nodes: Sequence[str] = ()) -> Any:
    """The graph in fp16 inside, fp32 at its inputs and outputs, for `fp32_ops` and the nodes named in `keep_nodes`.

    `model` is a ModelProto or the path of a model saved with external data. Give the path for graphs that may
    exceed 2 GiB: the converter then runs ONNX shape inference on the file (`infer_shapes_path`, which reads the
    graph without its weights) instead of on the in-memory model, which protobuf cannot serialise above 2 GiB.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    source = str(model) if isinstance(model, (str, Path)) else model
    half = convert_float_to_float16(
        source, keep_io_types=True, op_block_list=list(fp32_ops), node_block_list=list(keep_nodes)
    )
    _sort_nodes(half.graph)
    return half


def _convert_fp16(model_path: Path) -> None:
    """Convert the flow net at `model_path` to fp16 in place, keeping `FP32_OPS` and the warp in fp32."""
    import onnx

    model = onnx.load(str(model_path))
    keep = [node.name for node in model.graph.node if _FP32_SCOPE in node.name]
    onnx.save(to_fp16(model, FP32_OPS, keep), str(model_path))


def _sort_nodes(graph: Any) -> None:
    """Reorder `graph.node` topologically, in place (Kahn's algorithm, stable).

    The fp16 converter appends the casts it adds for `keep_io_types` after their consumers, which the ONNX checker
    rejects; ONNX Runtime would accept it, but the file must pass the checker.
    """
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(name in known for name in n.input)]
        if not ready:
            raise ModelError(f"ONNX graph {graph.name!r} has a cycle or an undefined input after fp16 conversion")
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
        for node in ready:
            known.update(node.output)
        ordered.extend(ready)
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered, strict=True):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


# --- sessions ----------------------------------------------------------------------------------------------------


@dataclass
class OnnxSession:
    """An ONNX Runtime session of a flow net, and the execution provider it actually runs on."""

    session: Any
    path: Path
    provider: str
    """The provider in use: the first of `session.get_providers()`, not the one asked for."""
    wanted: tuple[str, ...] = field(default=())
    """The providers that were asked for, best first."""

    def run(
        self, img0: np.ndarray, img1: np.ndarray, timestep: float | np.ndarray = 0.5
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flow (N x 4 x H x W, pixels) and mask (N x 1 x H x W) for frames N x 3 x H x W in [0, 1], float32.

        `timestep` is a number or one value per batch item; H and W must be multiples of the net's pad multiple.
        """
        img0 = np.ascontiguousarray(img0, dtype=np.float32)
        img1 = np.ascontiguousarray(img1, dtype=np.float32)
        if img0.ndim != 4 or img0.shape != img1.shape or img0.shape[1] != 3:
            raise ModelError(
                f"{self.path.name}: frames must be two N x 3 x H x W arrays, got {img0.shape} and {img1.shape}"
            )
        t = np.broadcast_to(np.asarray(timestep, dtype=np.float32).reshape(-1, 1, 1, 1), (img0.shape[0], 1, 1, 1))
        feeds = {"img0": img0, "img1": img1, "timestep": np.ascontiguousarray(t)}
        flow, mask = self.session.run(list(OUTPUT_NAMES), feeds)
        return flow, mask


def make_session(
    path: Path,
    threads: int | None = None,
    prefer_gpu: bool = True,
    cache_dir: Path | None = None,
    providers: tuple[str, ...] | None = None,
) -> OnnxSession:
    """Open an ONNX Runtime session on the best provider the installed runtime offers: TensorRT, CUDA, then CPU.

    TensorRT runs with fp16 and caches its engines in `cache_dir` (default: `<model stem>.trt/` beside the model).
    `threads` sets CPU intra-op threads (default: ONNX Runtime's). `prefer_gpu=False` asks for CPU only. After the
    session is made its real providers are read back; when the best provider that was asked for and offered is not
    the one in use (e.g. onnxruntime-gpu without a working CUDA), a WARNING says so. `providers` replaces the
    order (benchmarks time one provider at a time). Raises ModelError when the model file is missing or ONNX Runtime
    cannot load it.
    """
    session, in_use, offered = open_session(path, threads, prefer_gpu, cache_dir, providers)
    return OnnxSession(session=session, path=Path(path), provider=in_use, wanted=offered)


def open_session(
    path: Path,
    threads: int | None = None,
    prefer_gpu: bool = True,
    cache_dir: Path | None = None,
    providers: tuple[str, ...] | None = None,
    trt_options: dict[str, str] | None = None,
) -> tuple[Any, str, tuple[str, ...]]:
    """(ONNX Runtime session, provider in use, providers asked for) for any graph, with `make_session`'s rules.

    The general form of `make_session` for graphs with other inputs than the flow nets' (the video model's
    transformer and VAE). `trt_options` adds TensorRT provider options (e.g. dynamic-shape profiles).
    """
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: ONNX model not found")
    available = list(ort.get_available_providers())
    wanted = providers or (PROVIDER_ORDER if prefer_gpu else ("CPUExecutionProvider",))
    offered = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
    if prefer_gpu and offered[0] == "CPUExecutionProvider":
        log.info("ONNX Runtime %s offers no GPU provider (installed: %s): running on CPU", ort.__version__, available)
    chosen = []
    for name in offered:
        extra = trt_options or {} if name == "TensorrtExecutionProvider" else {}
        chosen.append((name, _provider_options(name, path, cache_dir) | extra))

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own unrelated types (Fail, InvalidGraph, ...)
        raise ModelError(f"{path}: ONNX Runtime cannot load the model: {str(exc).splitlines()[0]}") from exc

    in_use = session.get_providers()[0]
    if in_use != offered[0]:
        log.warning(
            "%s: %s was wanted and is installed but the session runs on %s (providers in use: %s)",
            path.name,
            offered[0],
            in_use,
            ", ".join(session.get_providers()),
        )
    else:
        log.info("%s: ONNX Runtime on %s", path.name, in_use)
    return session, in_use, tuple(offered)


def _provider_options(provider: str, model_path: Path, cache_dir: Path | None) -> dict[str, str]:
    """Options per provider: TensorRT builds fp16 engines and caches them (a build takes minutes)."""
    if provider != "TensorrtExecutionProvider":
        return {}
    engine_dir = Path(cache_dir) if cache_dir is not None else model_path.with_suffix(".trt")
    os.makedirs(engine_dir, exist_ok=True)
    return {
        "trt_fp16_enable": "True",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(engine_dir),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(engine_dir),
    }
