"""`dreamplate info`: what a compositor asks of a frame before trusting it, read fully (header and every pixel)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dreamplate.errors import ColorError, InputError
from dreamplate.io.exr import ExrImage, PartInfo, read_exr, read_info, verify_exr
from dreamplate.io.provenance import Provenance
from dreamplate.io.raster import RASTER_SUFFIXES, read_raster


def _box(box: tuple[int, int, int, int]) -> str:
    return f"({box[0]},{box[1]})-({box[2]},{box[3]}) {box[2] - box[0] + 1}x{box[3] - box[1] + 1}"


def _colour_line(attributes: dict) -> str:
    from dreamplate.color.ocio import load_config, resolve_input_space

    try:
        choice = resolve_input_space(load_config(), attributes)
    except ColorError as exc:
        return f"unresolved ({exc})"
    return f"{choice.name} ({choice.reason})"


def _pixel_line(image: ExrImage) -> str:
    """Value range and non-finite count: the first thing to check on an HDR plate."""
    parts = []
    bad = 0
    for name, data in image.channels.items():
        if data.size == 0:
            continue
        finite = np.isfinite(data)
        bad += int(data.size - finite.sum())
        if finite.any():
            values = data[finite]
            parts.append(f"{name} {float(values.min()):.4g}..{float(values.max()):.4g}")
    return "; ".join(parts) + (f"; {bad} NaN/Inf samples" if bad else "")


def _describe_part(path: Path, info: PartInfo, many: bool) -> list[str]:
    label = f"part {info.index}" + (f" {info.name!r}" if info.name else "")
    lines = [f"  {label}: {info.storage}, {info.compression}" if many else f"  {info.storage}, {info.compression}"]
    lines.append(f"    data window    {_box(info.data_window)}")
    lines.append(f"    display window {_box(info.display_window)}")
    sampled = [
        c.name + ("" if (c.x_sampling, c.y_sampling) == (1, 1) else f"/{c.x_sampling}x{c.y_sampling}")
        for c in info.channels
    ]
    kinds = sorted({c.pixel_type for c in info.channels})
    lines.append(f"    channels       {', '.join(sampled)} ({'/'.join(kinds)})")
    if info.views:
        lines.append(f"    views          {', '.join(info.views)} (default {info.views[0]})")
    lines.append(f"    colour space   {_colour_line(info.attributes)}")
    provenance = Provenance.from_attributes(info.attributes)
    if provenance is not None:
        params = json.dumps(provenance.parameters, sort_keys=True)
        lines.append(
            f"    dreamplate     {provenance.operation}/{provenance.method} v{provenance.version}, "
            f"source frames {provenance.source_frames}, parameters {params}"
        )
        if provenance.model:
            lines.append(f"    model          {provenance.model}, weights sha256 {provenance.weights_sha256}")
        if provenance.runtime:
            lines.append(f"    ran on         {provenance.runtime}")
    if info.storage.startswith("deep"):
        lines.append("    pixels         deep data: every chunk checked and decoded; not flattened")
    else:
        image = read_exr(path, part=info.index)
        lines.append(f"    pixels         {_pixel_line(image)}")
    return lines


def describe(path: Path) -> str:
    """A multi-line report on one file; raises InputError (one line) when any part of it cannot be read."""
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() in RASTER_SUFFIXES:
        raster = read_raster(path)
        height, width, channels = raster.pixels.shape
        return f"{path}\n  {raster.bit_depth}-bit display-referred (sRGB), {width}x{height}, {channels} channels"
    infos = read_info(path)
    if any(info.storage.startswith("deep") for info in infos):
        verify_exr(path)  # once per file: it checks every chunk of every part and decodes the deep ones
    lines = [str(path) + (f"  ({len(infos)} parts)" if len(infos) > 1 else "")]
    for info in infos:
        lines.extend(_describe_part(path, info, len(infos) > 1))
    return "\n".join(lines)
