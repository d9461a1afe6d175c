"""The generative ops taking the analysis ops' work: a matte from `dreamplate matte`, `--mask subject/background`
made on the fly, and `sketch --control edges` (tiny random models, real U2-Netp and HED weights)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plates import exr_rgb, half_bits
from subjects import write_subject_plate

import dreamplate.gen.sketch as sketch_module
from dreamplate.analyse.matte import run_matte, subject_mattes
from dreamplate.analyse.spec import MatteSpec
from dreamplate.errors import ModelError
from dreamplate.gen.relight import run_relight
from dreamplate.gen.sketch import run_sketch
from dreamplate.gen.sources import check_plate
from dreamplate.gen.spec import RelightSpec, SketchSpec
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "warm sunset light", "steps": 2, "device": "cpu"}


def test_relight_takes_the_matte_op_output_as_its_mask(
    tmp_path: Path, tiny_wan_t2v: Path, analysis_models: list[Path]
) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 6), SIZE)
    mattes = str(tmp_path / "matte" / "m.####.exr")
    run_matte(MatteSpec(inputs=[plate], output=mattes))
    spec = RelightSpec(
        inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_t2v), mask=mattes,
        strength=0.5, feather=2, **FAST,
    )  # fmt: skip
    run_relight(spec)
    for frame in range(1, 6):
        matte = read_exr(tmp_path / "matte" / f"m.{frame:04d}.exr").channels["A"]
        src, out = exr_rgb(tmp_path / "in" / f"plate.{frame:04d}.exr"), exr_rgb(tmp_path / "out" / f"o.{frame:04d}.exr")
        outside, core = matte == 0.0, matte == 1.0
        assert outside.mean() > 0.5 and core.sum() > 20  # the disc is the subject
        np.testing.assert_array_equal(half_bits(src[outside]), half_bits(out[outside]))
        assert np.abs(src[core] - out[core]).max() > 1e-3  # inside it changed


def test_mask_subject_and_background_make_the_matte_op_matte_on_the_fly(
    tmp_path: Path, tiny_wan_t2v: Path, analysis_models: list[Path]
) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 6), SIZE)
    run_matte(MatteSpec(inputs=[plate], output=str(tmp_path / "matte" / "m.####.exr")))
    paths = check_plate(plate, None, None, None).paths
    made = subject_mattes(paths)
    for frame in range(1, 6):  # the matte operation's own matte, before the file's half rounding
        written = read_exr(tmp_path / "matte" / f"m.{frame:04d}.exr").channels["A"]
        np.testing.assert_allclose(made(frame).channels["A"], written, rtol=0, atol=2**-11)
    for word in ("subject", "background"):
        spec = RelightSpec(
            inputs=[plate], output=str(tmp_path / word / "o.####.exr"), model=str(tiny_wan_t2v), mask=word,
            strength=0.5, feather=2, **FAST,
        )  # fmt: skip
        run_relight(spec)
        for frame in (1, 3, 5):
            matte = read_exr(tmp_path / "matte" / f"m.{frame:04d}.exr").channels["A"]
            kept, changed = (matte == 0.0, matte == 1.0) if word == "subject" else (matte == 1.0, matte == 0.0)
            src, out = (
                exr_rgb(tmp_path / "in" / f"plate.{frame:04d}.exr"),
                exr_rgb(tmp_path / word / f"o.{frame:04d}.exr"),
            )
            np.testing.assert_array_equal(half_bits(src[kept]), half_bits(out[kept]))  # the other side stays the plate
            assert np.abs(src[changed] - out[changed]).max() > 1e-3
        prov = Provenance.from_attributes(read_exr(tmp_path / word / "o.0001.exr").attributes)
        assert prov.parameters["mask"] == word


def test_mask_subject_without_its_weights_fails_before_any_file(tmp_path: Path) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 4), SIZE)
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), mask="subject", strength=0.0)
    with pytest.raises(ModelError, match="dreamplate models pull u2netp"):
        run_relight(spec)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_mask_channel_with_a_made_matte_is_refused() -> None:
    with pytest.raises(ValueError, match="--mask subject makes its own matte"):
        RelightSpec(inputs=["p.####.exr"], output="o.####.exr", mask="subject", mask_channel="A", strength=0.0)


def test_sketch_control_edges_gives_vace_the_line_art(
    tmp_path: Path, tiny_wan_vace: Path, analysis_models: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocking = write_subject_plate(tmp_path / "in", range(1, 6), SIZE)
    made: list[tuple[np.ndarray, np.ndarray]] = []
    videos: list[list[np.ndarray]] = []
    real_maker, real_call = sketch_module.line_art_maker, sketch_module.call_pipeline

    def recording_maker():
        make = real_maker()

        def record(frames: np.ndarray) -> np.ndarray:
            made.append((frames, make(frames)))
            return made[-1][1]

        return record

    def recording_call(pipe, kwargs, *args, **kw):
        videos.append([np.asarray(f) for f in kwargs["video"]])
        return real_call(pipe, kwargs, *args, **kw)

    monkeypatch.setattr(sketch_module, "line_art_maker", recording_maker)
    monkeypatch.setattr(sketch_module, "call_pipeline", recording_call)
    spec = SketchSpec(
        inputs=[blocking], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_vace), control="edges",
        **FAST,
    )  # fmt: skip
    result = run_sketch(spec)
    assert len(result.written) == 5 and made and len(videos) == len(made)
    for (model_in, art), video in zip(made, videos, strict=True):
        assert art.shape == model_in.shape and np.array_equal(art[..., 0], art[..., 2])  # grey line art
        np.testing.assert_array_equal(np.stack(video), np.round(np.clip(art, 0, 1) * 255).astype(np.uint8))
        assert np.abs(art - model_in).mean() > 0.1  # not the blocking frames themselves
    prov = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.0003.exr").attributes)
    assert prov.parameters["control"] == "edges" and prov.parameters["purpose"] == "control"


def test_control_edges_needs_a_control_video_model(
    tmp_path: Path, tiny_wan_t2v: Path, analysis_models: list[Path]
) -> None:
    blocking = write_subject_plate(tmp_path / "in", range(1, 4), SIZE)
    spec = SketchSpec(
        inputs=[blocking], output=str(tmp_path / "o.####.exr"), model=str(tiny_wan_t2v), control="edges", **FAST
    )
    with pytest.raises(ModelError, match="--control edges: .* has no control-video input"):
        run_sketch(spec)
