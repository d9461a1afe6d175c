"""OCIO config resolution, the input's colour space, the output's colour tags, and cached conversions.

Config precedence: `--ocio` > `$OCIO` > the repo's `ocio_configs/dreamplate.ocio` > OCIO's built-in
studio config. Input space precedence: `--colorspace` > EXR `colorInteropID` > EXR `chromaticities` >
the config's scene_linear role. Output frames are tagged in the input's colour space.
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR
import PyOpenColorIO as ocio

import dreamplate
from dreamplate.errors import ColorError

log = logging.getLogger(__name__)

BUILTIN_CONFIG = "ocio://studio-config-latest"
PROJECT_CONFIG_FILE = "dreamplate.ocio"

# Every header attribute that states a part's colour space. `output_attributes` returns the complete
# set for an output, so a writer copying the source header drops these keys first, then adds its result.
COLOR_ATTRIBUTES = (
    "chromaticities",
    "colorInteropID",
    "acesImageContainerFlag",
    "whiteLuminance",
    "adoptedNeutral",
)

# OCIO's fast pow/log approximations move 16-bit sRGB codes by up to 1.1 codes on a round trip.
_PROCESSOR_FLAGS = ocio.OptimizationFlags(int(ocio.OPTIMIZATION_DEFAULT) & ~int(ocio.OPTIMIZATION_FAST_LOG_EXP_POW))

# OpenEXR's convention for CIE XYZ data: primaries on the axes, and RGB = (1, 1, 1) is illuminant E.
_XYZ_INTEROP_ID = "lin_ciexyzd65_scene"
_XYZ_CHROMATICITIES = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0 / 3.0, 1.0 / 3.0)
_CHROMATICITY_TOLERANCE = 1e-3

_SRGB_INTEROP_ID = "srgb_rec709_scene"
_SRGB_NAMES = ("sRGB - Texture", "srgb_tx", "srgb_texture", "Utility - sRGB - Texture")


@dataclass(frozen=True)
class ColorConfig:
    """A loaded OCIO config and where it came from (for logs, `doctor` and provenance)."""

    config: ocio.Config
    source: str  # file path or ocio:// URI
    origin: str  # "--ocio" | "$OCIO" | "ocio_configs" | "builtin"


@dataclass(frozen=True)
class SpaceChoice:
    """A colour space name from the config and why it was chosen, e.g. "colorInteropID lin_ap1_scene"."""

    name: str
    reason: str
    fallback: bool = False  # True when no metadata decided: the scene_linear role was assumed


def project_config_path() -> Path | None:
    """The repo's `ocio_configs/dreamplate.ocio`, or None when dreamplate runs from a wheel without it."""
    path = Path(dreamplate.__file__).resolve().parents[2] / "ocio_configs" / PROJECT_CONFIG_FILE
    return path if path.is_file() else None


def load_config(ocio_path: Path | str | None = None) -> ColorConfig:
    """Resolve and load the OCIO config; each source is loaded and validated once per process.

    Pass ocio:// URIs as str: `Path` folds their double slash. Raises ColorError naming the path and
    where it came from (flag, env var or repo) when it is missing or not a usable config.
    """
    if ocio_path is not None and str(ocio_path):
        return _load(_as_source(ocio_path), "--ocio")
    env = os.environ.get("OCIO", "")
    if env:
        return _load(env, "$OCIO")
    project = project_config_path()
    if project is not None:
        return _load(str(project), "ocio_configs")
    return _load(BUILTIN_CONFIG, "builtin")


def _as_source(ocio_path: Path | str) -> str:
    text = str(ocio_path)
    if text.startswith("ocio:/") and not text.startswith("ocio://"):
        return "ocio://" + text.removeprefix("ocio:/")
    return text


_FIXES = {
    "--ocio": "pass a config file or an ocio:// URI",
    "$OCIO": "unset OCIO or point it at a config",
    "ocio_configs": "regenerate it with ocio_configs/build_config.py, or set $OCIO",
    "builtin": "install opencolorio >= 2.5",
}


@functools.lru_cache(maxsize=16)
def _load(source: str, origin: str) -> ColorConfig:
    label = {"--ocio": f"--ocio {source}", "$OCIO": f"$OCIO={source}"}.get(origin, source)
    if not source.startswith("ocio://") and not Path(source).is_file():
        raise ColorError(f"{label}: no such OCIO config file; {_FIXES[origin]}")
    try:
        config = ocio.Config.CreateFromFile(source)
        config.validate()
    except ocio.Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ColorError(
            f"{label}: not a usable OCIO config with OpenColorIO {ocio.__version__} ({reason}); {_FIXES[origin]}"
        ) from exc
    log.debug("OCIO config %s from %s: %s", source, origin, config.getName())
    return ColorConfig(config=config, source=source, origin=origin)


def describe_config(cfg: ColorConfig) -> str:
    """What `dreamplate doctor` shows about the colour setup: one `label value` line per fact."""
    scene_linear = cfg.config.getColorSpace(ocio.ROLE_SCENE_LINEAR)
    facts = {
        "config": cfg.config.getName(),
        "from": f"{cfg.origin} ({cfg.source})",
        "scene_linear": scene_linear.getName() if scene_linear is not None else "(no role)",
        "spaces": f"{len(list(cfg.config.getColorSpaceNames()))} colour spaces",
    }
    return "\n".join(f"{label:<13}{value}" for label, value in facts.items())


def space_name(cfg: ColorConfig, name: str, what: str = "colour space") -> str:
    """The config's own name for a colour space name, alias or role; ColorError with close names if none.

    `what` names the argument in the message, e.g. "--colorspace".
    """
    space = cfg.config.getColorSpace(name)
    if space is not None:
        return space.getName()
    candidates = {}
    for space in cfg.config.getColorSpaces():
        for candidate in (space.getName(), *space.getAliases()):
            candidates[candidate.lower()] = candidate
    close = difflib.get_close_matches(name.lower(), list(candidates), n=4, cutoff=0.5)
    hint = f"close names: {', '.join(repr(candidates[c]) for c in close)}" if close else "no close names"
    raise ColorError(f"{what} {name!r}: not a colour space in {cfg.source}; {hint}")


def resolve_input_space(cfg: ColorConfig, attributes: Mapping[str, Any], override: str | None = None) -> SpaceChoice:
    """Pick the input's colour space from `--colorspace`, then the EXR header, then the scene_linear role.

    `attributes` is an EXR header dict as `OpenEXR.File.header()` returns it. Metadata that names
    nothing in the config is logged and skipped rather than fatal: the next source still decides.
    """
    if override:
        return SpaceChoice(space_name(cfg, override, "--colorspace"), f"--colorspace {override}")

    unused = []  # metadata present but naming nothing in the config, said in the reason
    interop_id = attributes.get("colorInteropID")
    if interop_id:
        name = _space_for_interop_id(cfg.config, str(interop_id))
        if name is not None:
            return SpaceChoice(name, f"colorInteropID {interop_id}")
        log.warning("colorInteropID %r names no colour space in %s; ignoring it", interop_id, cfg.source)
        unused.append(f"colorInteropID {interop_id} unknown")

    chromaticities = _chromaticities(attributes.get("chromaticities"))
    if chromaticities is not None:
        interop_id = _interop_id_for_chromaticities(chromaticities)
        name = _space_for_interop_id(cfg.config, interop_id) if interop_id else None
        if name is not None:
            return SpaceChoice(name, f"chromaticities match {interop_id}")
        log.warning("chromaticities %s match no colour space in %s; ignoring them", chromaticities, cfg.source)
        unused.append("chromaticities match no colour space")

    space = cfg.config.getColorSpace(ocio.ROLE_SCENE_LINEAR)
    if space is None:
        raise ColorError(f"{cfg.source}: no scene_linear role to fall back on; pass --colorspace")
    reason = "; ".join([*unused, "scene_linear role assumed"]) if unused else "no colour metadata: scene_linear role"
    return SpaceChoice(space.getName(), reason, fallback=True)


def output_attributes(
    cfg: ColorConfig, space: str, source_attributes: Mapping[str, Any], *, keep_source: bool = False
) -> dict[str, Any]:
    """The complete colour metadata for an output written in `space`, given the source header.

    Sets colorInteropID when the space has one. Keeps the source's chromaticities unless they
    contradict that ID, in which case the space's own chromaticities replace them; writes none for
    data. Replace the COLOR_ATTRIBUTES keys of a copied header with this dict.

    `keep_source`: the space was assumed, not read from the header (`SpaceChoice.fallback`). Then the source's
    own colour tags are the truth about its pixels (custom camera primaries, say) and are copied unchanged;
    stamping the assumed space's ID over them would mislabel the frame.
    """
    if keep_source and _chromaticities(source_attributes.get("chromaticities")) is not None:
        return {key: source_attributes[key] for key in COLOR_ATTRIBUTES if key in source_attributes}
    interop_id = cfg.config.getColorSpace(space_name(cfg, space)).getInteropID() or None
    attributes: dict[str, Any] = {}
    if interop_id:
        attributes["colorInteropID"] = interop_id
    if interop_id == "data":
        return attributes

    chromaticities = _chromaticities(source_attributes.get("chromaticities"))
    expected = _chromaticities_for_interop_id(interop_id) if interop_id else None
    if chromaticities is not None:
        if expected is not None and _interop_id_for_chromaticities(chromaticities) != interop_id:
            log.warning("source chromaticities contradict %s; writing those of %s instead", space, interop_id)
            chromaticities = expected
        attributes["chromaticities"] = chromaticities
    # An ACES container must stay AP0 with AP0 chromaticities; in any other space the flag would lie.
    if source_attributes.get("acesImageContainerFlag") == 1 and interop_id == "lin_ap0_scene":
        attributes["acesImageContainerFlag"] = 1
        attributes["chromaticities"] = expected
    for key in ("whiteLuminance", "adoptedNeutral"):
        if key in source_attributes:
            attributes[key] = source_attributes[key]
    return attributes


def srgb_encoded_space(cfg: ColorConfig) -> str:
    """The colour space for display-referred image files (PNG, JPEG, TIFF): sRGB-encoded Rec.709."""
    name = _space_for_interop_id(cfg.config, _SRGB_INTEROP_ID)
    if name is not None:
        return name
    for candidate in _SRGB_NAMES:
        space = cfg.config.getColorSpace(candidate)
        if space is not None:
            return space.getName()
    raise ColorError(
        f"{cfg.source}: no sRGB-encoded colour space (interop ID {_SRGB_INTEROP_ID} or alias srgb_tx); "
        "use a config that has one"
    )


def convert(cfg: ColorConfig, pixels: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert pixels from colour space `src` to `dst`; returns a new float32 array, input untouched.

    `pixels`: float32 (or castable), channels last, 3 (RGB) or 4 (RGBA, alpha copied through as is).
    Raises ColorError for an unknown space, ValueError for another channel count.
    """
    if pixels.ndim < 2 or pixels.shape[-1] not in (3, 4):
        raise ValueError(f"convert: expected channels-last RGB or RGBA pixels, got shape {pixels.shape}")
    processor = _cpu_processor(cfg.config, space_name(cfg, src), space_name(cfg, dst))
    out = np.array(pixels, dtype=np.float32, order="C", copy=True)
    if pixels.shape[-1] == 3:
        processor.applyRGB(out)
    else:
        processor.applyRGBA(out)
        out[..., 3] = pixels[..., 3]
    return out


@functools.lru_cache(maxsize=64)
def _cpu_processor(config: ocio.Config, src: str, dst: str) -> ocio.CPUProcessor:
    return config.getProcessor(src, dst).getOptimizedCPUProcessor(_PROCESSOR_FLAGS)


@functools.lru_cache(maxsize=16)
def _interop_ids(config: ocio.Config) -> dict[str, str]:
    """Interop ID -> colour space name, first space wins (configs may repeat an ID across aliases)."""
    ids: dict[str, str] = {}
    for space in config.getColorSpaces():
        interop_id = space.getInteropID()
        if interop_id:
            ids.setdefault(interop_id, space.getName())
    return ids


def _space_for_interop_id(config: ocio.Config, interop_id: str) -> str | None:
    name = _interop_ids(config).get(interop_id)
    if name is not None:
        return name
    # Configs older than OCIO 2.5 carry no interop IDs, but often use them as aliases.
    space = config.getColorSpace(interop_id)
    return space.getName() if space is not None else None


def _chromaticities(value: Any) -> tuple[float, ...] | None:
    """The header's chromaticities as the 8-float tuple OpenEXR's helpers need, or None."""
    if value is None:
        return None
    try:
        chromaticities = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        chromaticities = ()
    if len(chromaticities) != 8:
        log.warning("chromaticities %r are not 8 numbers; ignoring them", value)
        return None
    return chromaticities


def _interop_id_for_chromaticities(chromaticities: tuple[float, ...]) -> str | None:
    interop_id = OpenEXR.chromaticitiesToColorInteropID(chromaticities, _CHROMATICITY_TOLERANCE)
    if interop_id is not None:
        return interop_id
    if all(abs(a - b) <= _CHROMATICITY_TOLERANCE for a, b in zip(chromaticities, _XYZ_CHROMATICITIES, strict=True)):
        return _XYZ_INTEROP_ID
    return None


def _chromaticities_for_interop_id(interop_id: str) -> tuple[float, ...] | None:
    if interop_id == _XYZ_INTEROP_ID:
        return _XYZ_CHROMATICITIES
    return OpenEXR.colorInteropIDToChromaticities(interop_id)
