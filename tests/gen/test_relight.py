"""Relight end to end on tiny random models: files, provenance, identity, seeds, seams, drift, mattes, drafts."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from plates import exr_rgb, half_bits, write_plate

from dreamplate.color.model_space import video_model_space
from dreamplate.demo import render_plate_frame
from dreamplate.errors import Cancelled, ModelError
from dreamplate.gen.relight import run_relight
from dreamplate.gen.spec import RelightSpec
from dreamplate.gen.windows import measure_drift
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance

log = logging.getLogger(__name__)
SIZE = (48, 32)
FAST = {"prompt": "warm sunset light", "steps": 2, "strength": 0.5, "device": "cpu"}


def _static_plate(folder: Path, count: int) -> str:
    """A plate whose every frame is the same picture: any change over time is the model's."""
    still = render_plate_frame(0, count, SIZE)
    return write_plate(folder, range(1001, 1001 + count), SIZE, {f: still for f in range(1001, 1001 + count)})


def test_relight_writes_half_exrs_with_provenance(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1001, 1006), SIZE)
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "out" / "out.####.exr"), model=str(tiny_wan_t2v), **FAST)
    result = run_relight(spec)
    assert [p.name for p in result.written] == [f"out.{f}.exr" for f in range(1001, 1006)]
    image = read_exr(tmp_path / "out" / "out.1003.exr")
    assert set(image.channels) == {"R", "G", "B", "A"}  # colour generated, alpha carried, depth dropped
    assert set(image.pixel_types.values()) == {"half"}
    assert image.display_window == image.data_window == (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    assert image.attributes["colorInteropID"] == "lin_ap1_scene"
    assert np.isfinite(exr_rgb(tmp_path / "out" / "out.1003.exr")).all()
    prov = Provenance.from_attributes(image.attributes)
    assert prov is not None and prov.operation == "relight" and prov.method == "v2v WanVideoToVideoPipeline"
    assert prov.model == str(tiny_wan_t2v.resolve()) and len(prov.weights_sha256 or "") == 64
    assert (prov.seed, prov.prompt, prov.strength, prov.source_frames) == (0, "warm sunset light", 0.5, [1003.0])
    params = prov.parameters
    assert params["negative_prompt"] == "" and params["steps"] == 2 and params["guidance"] == 5.0
    assert params["scheduler"] == "FlowMatchEulerDiscreteScheduler" and params["model_size"] == [32, 32]
    assert prov.runtime.startswith("cpu") and prov.version


def test_strength_zero_passes_the_plate_through_bit_exact_without_a_model(tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    result = run_relight(RelightSpec(inputs=[plate], output=str(tmp_path / "out.####.exr"), strength=0.0))
    assert len(result.written) == 3 and result.method.startswith("passthrough")
    for frame in (1, 2, 3):
        src, out = read_exr(tmp_path / "in" / f"plate.{frame:04d}.exr"), read_exr(tmp_path / f"out.{frame:04d}.exr")
        assert set(src.channels) == set(out.channels)
        for name in src.channels:
            np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(out.channels[name]))
        assert float(out.channels["R"].max()) > 10.0
        assert Provenance.from_attributes(out.attributes).strength == 0.0


def test_same_seed_same_frames_other_seed_other_frames(tmp_path: Path, tiny_ltx: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    outs = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        spec = RelightSpec(
            inputs=[plate], output=str(tmp_path / name / "o.####.exr"), model=str(tiny_ltx), seed=seed, **FAST
        )
        run_relight(spec)
        outs[name] = np.stack([exr_rgb(tmp_path / name / f"o.{f:04d}.exr") for f in range(1, 6)])
    np.testing.assert_array_equal(outs["a"], outs["b"])
    assert np.abs(outs["a"] - outs["c"]).max() > 1e-3


def test_long_plate_has_no_seam_jumps_and_no_colour_drift(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    count = 20
    plate = _static_plate(tmp_path / "in", count)
    spec = RelightSpec(
        inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_t2v), window=9, overlap=4,
        **FAST,
    )  # fmt: skip
    result = run_relight(spec)
    assert len(result.written) == count
    space = video_model_space()
    frames = np.stack([space.encode(exr_rgb(tmp_path / "out" / f"o.{1001 + i:04d}.exr")) for i in range(count)])
    steps = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # steps[i]: frame i -> i+1
    # Windows: starts 0, 5, 10, 11 (length 9): the seams are where a window starts or stops contributing.
    seams = [4, 8, 9, 13, 14]
    inside = [i for i in range(count - 1) if i not in seams]
    seam_jump, typical = float(steps[seams].max()), float(np.median(steps[inside]))
    log.info("seam metric: max step at seams %.4f, median step inside windows %.4f", seam_jump, typical)
    assert seam_jump <= 2.0 * max(typical, 1e-3)
    # Drift: mean colour of the last window's frames (11..19) against the first window's (0..8), in the model's
    # encoding. Random weights make each frame's mean wander by about 0.02 on their own; 9-frame means by ~0.006.
    drift = np.abs(measure_drift(frames[:9], frames[11:]))
    log.info("colour drift, last window vs first (encoded, per channel): %s", np.round(drift, 4))
    assert drift.max() < 0.02


def test_mask_keeps_the_plate_bit_exact_outside_the_matte(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    matte = np.zeros((SIZE[1], SIZE[0]), np.float32)
    matte[:, : SIZE[0] // 2] = 1.0
    window = (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    (tmp_path / "matte").mkdir()
    for frame in range(1, 6):
        write_exr(tmp_path / "matte" / f"m.{frame:04d}.exr", ExrImage({"A": matte}, {"A": "half"}, window, window))
    spec = RelightSpec(
        inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_t2v),
        mask=str(tmp_path / "matte" / "m.####.exr"), feather=3, **FAST,
    )  # fmt: skip
    run_relight(spec)
    for frame in range(1, 6):
        src, out = exr_rgb(tmp_path / "in" / f"plate.{frame:04d}.exr"), exr_rgb(tmp_path / "out" / f"o.{frame:04d}.exr")
        np.testing.assert_array_equal(half_bits(src[:, SIZE[0] // 2 :]), half_bits(out[:, SIZE[0] // 2 :]))
        assert np.abs(src[:, : SIZE[0] // 2 - 4] - out[:, : SIZE[0] // 2 - 4]).max() > 1e-3  # inside it changed


def test_draft_then_from_draft_keeps_seed_and_settings_at_full_size(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    draft = str(tmp_path / "draft" / "d.####.exr")
    settings = {**FAST, "steps": 8, "seed": 7, "negative_prompt": "blurry"}
    run_relight(RelightSpec(inputs=[plate], output=draft, model=str(tiny_wan_t2v), draft=True, **settings))
    d = Provenance.from_attributes(read_exr(tmp_path / "draft" / "d.0001.exr").attributes)
    assert d.parameters["draft"] is True and d.parameters["model_size"] == [16, 16] and d.parameters["draft_steps"] == 2
    full = RelightSpec(inputs=[plate], output=str(tmp_path / "full" / "f.####.exr"), from_draft=draft, device="cpu")
    run_relight(full)
    f = Provenance.from_attributes(read_exr(tmp_path / "full" / "f.0001.exr").attributes)
    assert (f.seed, f.prompt, f.strength, f.model) == (7, d.prompt, d.strength, d.model)
    assert f.parameters["negative_prompt"] == "blurry" and f.parameters["steps"] == 8
    assert f.parameters["draft"] is False and f.parameters["from_draft"] == draft
    assert f.parameters["model_size"] == [32, 32] and f.parameters["draft_steps"] == 8


def test_resume_writes_only_the_missing_frame(
    tmp_path: Path, tiny_wan_t2v: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "o.####.exr"), model=str(tiny_wan_t2v), **FAST)
    run_relight(spec)
    before = exr_rgb(tmp_path / "o.0003.exr")
    (tmp_path / "o.0003.exr").unlink()
    again = run_relight(spec)
    assert [p.name for p in again.written] == ["o.0003.exr"] and len(again.skipped) == 4
    np.testing.assert_array_equal(before, exr_rgb(tmp_path / "o.0003.exr"))
    with monkeypatch.context() as patch:  # all finished: the model is never loaded
        patch.setattr("dreamplate.gen.pipelines.load_pipeline", lambda *a, **k: pytest.fail("pipeline loaded"))
        assert len(run_relight(spec).skipped) == 5
    other = run_relight(spec.model_copy(update={"seed": 1}))
    assert len(other.written) == 5  # other settings: nothing is skipped


def test_cancel_between_denoising_steps_leaves_no_file(tmp_path: Path, tiny_wan_t2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 6), SIZE)
    polls = []

    def cancelled() -> bool:
        polls.append(1)
        return len(polls) > 1  # the first poll is before the window; the next ones are inside the denoising loop

    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_t2v), **FAST)
    with pytest.raises(Cancelled, match="between denoising steps"):
        run_relight(spec, cancelled=cancelled)
    assert list((tmp_path / "out").iterdir()) == []


def test_model_without_v2v_is_one_clear_error(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    spec = RelightSpec(inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_i2v), **FAST)
    with pytest.raises(ModelError, match="cannot do 'v2v'; it can do: flf2v"):
        run_relight(spec)
    assert not any((tmp_path / "out").glob("*.exr"))


def test_spec_names_the_bad_option() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="less than or equal to 1"):
        RelightSpec(inputs=["p.####.exr"], output="o.####.exr", prompt="x", model="m", strength=1.4)
    with pytest.raises(ValidationError, match="--prompt: give a prompt"):
        RelightSpec(inputs=["p.####.exr"], output="o.####.exr", model="m")
    with pytest.raises(ValidationError, match="size must be WIDTHxHEIGHT"):
        RelightSpec(inputs=["p.####.exr"], output="o.####.exr", strength=0, size="big")
