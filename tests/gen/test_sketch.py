"""Sketch to shot on tiny random models: VACE control video with a light reference, v2v fallback, wrong model."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from plates import write_plate

from dreamplate.errors import ModelError
from dreamplate.gen.sketch import run_sketch
from dreamplate.gen.spec import SketchSpec
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "golden hour street", "steps": 2, "device": "cpu"}


def test_vace_follows_the_blocking_as_control_video_with_a_light_reference(tmp_path: Path, tiny_wan_vace: Path) -> None:
    blocking = write_plate(tmp_path / "in", range(1, 6), SIZE)
    ref = np.full((16, 16, 3), 4.0, np.float32)
    box = (0, 0, 15, 15)
    write_exr(tmp_path / "ref.exr", ExrImage({c: ref[..., 0] for c in "RGB"}, dict.fromkeys("RGB", "half"), box, box))
    spec = SketchSpec(
        inputs=[blocking], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_vace),
        light_reference=str(tmp_path / "ref.exr"), **FAST,
    )  # fmt: skip
    result = run_sketch(spec)
    assert len(result.written) == 5 and result.method.startswith("control WanVACEPipeline")
    image = read_exr(tmp_path / "out" / "o.0003.exr")
    assert image.display_window == (0, 0, SIZE[0] - 1, SIZE[1] - 1) and set(image.pixel_types.values()) == {"half"}
    prov = Provenance.from_attributes(image.attributes)
    assert prov.operation == "sketch" and prov.method == "control WanVACEPipeline" and prov.strength is None
    assert prov.parameters["light_reference"] == str(tmp_path / "ref.exr") and prov.parameters["purpose"] == "control"


def test_without_control_input_sketch_runs_v2v_at_high_strength(
    tmp_path: Path, tiny_wan_t2v: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocking = write_plate(tmp_path / "in", range(1, 6), SIZE)
    spec = SketchSpec(inputs=[blocking], output=str(tmp_path / "o.####.exr"), model=str(tiny_wan_t2v), **FAST)
    with caplog.at_level(logging.INFO, logger="dreamplate.gen.sketch"):
        result = run_sketch(spec)
    assert "video-to-video at strength 0.9" in caplog.text
    prov = Provenance.from_attributes(read_exr(result.written[0]).attributes)
    assert prov.method == "v2v WanVideoToVideoPipeline" and prov.strength == 0.9


def test_a_model_with_neither_control_nor_v2v_is_refused(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    blocking = write_plate(tmp_path / "in", range(1, 4), SIZE)
    spec = SketchSpec(inputs=[blocking], output=str(tmp_path / "o.####.exr"), model=str(tiny_wan_i2v), **FAST)
    with pytest.raises(ModelError, match="has no control or v2v input; it can: flf2v"):
        run_sketch(spec)
