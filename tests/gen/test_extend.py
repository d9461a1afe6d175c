"""extend on tiny random models: plate frames bit for bit, numbering on (negatives), windows, anchoring, resume,
mattes, each family's conditioning and the one-line refusals."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from plates import exr_rgb, half_bits, write_plate
from pydantic import ValidationError

from dreamplate.color.model_space import video_model_space
from dreamplate.demo import render_plate_frame
from dreamplate.errors import Cancelled, InputError, ModelError
from dreamplate.gen.extend import extend_frames, run_extend
from dreamplate.gen.extend_spec import ExtendSpec
from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.provenance import Provenance
from dreamplate.io.sequence import FrameSequence

SIZE = (48, 32)
FAST = {"prompt": "the waves roll on", "steps": 2, "device": "cpu"}


def _encoded(path: Path) -> np.ndarray:
    return np.clip(video_model_space().encode(exr_rgb(path)), 0.0, 1.0)


def _same_file_pixels(a: Path, b: Path) -> None:
    src, dst = read_exr(a), read_exr(b)
    assert set(src.channels) == set(dst.channels)
    for name in src.channels:
        np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(dst.channels[name]))


def _out(tmp_path: Path, name: str = "out") -> FrameSequence:
    return FrameSequence.for_output(str(tmp_path / name / "o.####.exr"), [1])


def test_after_keeps_the_plate_and_numbers_on_in_windows(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1001, 1005), SIZE)
    spec = ExtendSpec(
        inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), after=12, model=str(tiny_wan_vace), **FAST
    )
    result = run_extend(spec)
    assert sorted(p.name for p in result.written) == [f"o.{f}.exr" for f in range(1001, 1017)]
    assert extend_frames(spec) == list(range(1001, 1017))
    for frame in range(1001, 1005):  # the plate, every channel (depth too), bit for bit
        _same_file_pixels(tmp_path / "in" / f"plate.{frame:04d}.exr", tmp_path / "out" / f"o.{frame}.exr")
    new = read_exr(tmp_path / "out" / "o.1005.exr")
    assert set(new.channels) == {"R", "G", "B", "A"} and set(new.pixel_types.values()) == {"half"}
    assert np.isfinite(exr_rgb(tmp_path / "out" / "o.1016.exr")).all()
    # Window 0 is conditioned on the plate's last two frames, window 1 (frames 1012-) on the two before it.
    first = Provenance.from_attributes(new.attributes)
    assert first.operation == "extend" and first.method == "keyframes WanVACEPipeline"
    assert first.source_frames == [1003.0, 1004.0] and first.sources[1].endswith("plate.1004.exr")
    assert first.parameters["conditioning"] == "VACE frames + mask" and first.parameters["context"] == 2
    later = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.1016.exr").attributes)
    assert later.parameters["window_index"] == 1 and later.source_frames == [1010.0, 1011.0]
    assert later.sources[0] == str(tmp_path / "out" / "o.1010.exr")
    plate_prov = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.1002.exr").attributes)
    assert plate_prov.method == "plate" and plate_prov.source_frames == [1002.0]


def test_before_numbers_down_through_zero_into_negatives(tmp_path: Path, tiny_ltx: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 5), SIZE)
    spec = ExtendSpec(
        inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), before=6, model=str(tiny_ltx), **FAST
    )
    result = run_extend(spec)
    out = _out(tmp_path)
    assert sorted(result.written) == sorted(out.path(f) for f in range(-5, 5))
    assert extend_frames(spec) == list(range(-5, 5))
    assert out.path(-5).is_file() and out.path(0).is_file()
    prov = Provenance.from_attributes(read_exr(out.path(0)).attributes)
    assert prov.parameters["conditioning"] == "LTX frame conditions" and prov.source_frames == [2.0, 1.0]
    _same_file_pixels(tmp_path / "in" / "plate.0001.exr", out.path(1))


def test_an_interrupted_extend_resumes_and_rewrites_nothing(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 5), SIZE)
    settings = {"inputs": [plate], "after": 12, "model": str(tiny_wan_vace), **FAST}
    whole = ExtendSpec(output=str(tmp_path / "whole" / "o.####.exr"), **settings)
    run_extend(whole)
    spec = ExtendSpec(output=str(tmp_path / "out" / "o.####.exr"), **settings)
    done = {"n": 0}

    def progress(count: int, total: int, message: str) -> None:
        done["n"] = count

    with pytest.raises(Cancelled):  # stops after the plate and the first window's 7 frames
        run_extend(spec, progress=progress, cancelled=lambda: done["n"] >= 11)
    written = sorted((tmp_path / "out").glob("o.*.exr"))
    assert len(written) == 11
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in written}
    again = run_extend(spec)
    assert len(again.skipped) == 11 and sorted(p.name for p in again.written) == [
        f"o.{f:04d}.exr" for f in range(12, 17)
    ]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in written} == stamps
    for frame in range(1, 17):  # the resumed shot is the uninterrupted one, window 1 conditioned on the files
        np.testing.assert_array_equal(
            exr_rgb(tmp_path / "out" / f"o.{frame:04d}.exr"), exr_rgb(tmp_path / "whole" / f"o.{frame:04d}.exr")
        )
    assert run_extend(spec).written == []


def _drifting_model(monkeypatch: pytest.MonkeyPatch, tint: tuple[float, float, float]) -> None:
    """A stand-in for a model that copies its last kept frame and tints it: the drift chained windows build up."""

    def fake(pipe, kwargs, what, cancelled=None, on_step=None):
        kept = [
            np.asarray(v, np.float32) / 255.0
            for v, m in zip(kwargs["video"], kwargs["mask"], strict=True)
            if not np.asarray(m).any()
        ]
        made = np.clip(kept[-1] * np.float32(tint), 0.0, 1.0)
        return np.stack([made] * kwargs["num_frames"]).astype(np.float32)

    monkeypatch.setattr("dreamplate.gen.extend.call_pipeline", fake)


def test_anchoring_stops_tint_building_up_window_after_window(
    tmp_path: Path, tiny_wan_vace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    still = render_plate_frame(0, 4, SIZE)
    plate = write_plate(tmp_path / "in", range(1, 5), SIZE, {f: still for f in range(1, 5)})
    _drifting_model(monkeypatch, (1.06, 1.0, 0.94))
    means = {}
    for anchor in ("plate", "off"):
        out = tmp_path / anchor / "o.####.exr"
        run_extend(
            ExtendSpec(inputs=[plate], output=str(out), after=35, anchor=anchor, model=str(tiny_wan_vace), **FAST)
        )
        # Compared as the model sees colour: scene-linear means are ruled by the plate's few highlights far above 1.
        means[anchor] = [_encoded(tmp_path / anchor / f"o.{f:04d}.exr").mean(axis=(0, 1)) for f in (5, 39)]
    # Window 0 is the same both ways; four windows later the free chain has compounded its tint, the anchored not.
    np.testing.assert_allclose(means["plate"][0], means["off"][0], rtol=1e-3)
    red_blue = {k: (m[1][0] / m[1][2]) / (m[0][0] / m[0][2]) for k, m in means.items()}
    assert red_blue["off"] > 1.25 and abs(red_blue["plate"] - 1.0) < 0.01


def test_mask_holds_the_edge_frame_outside_the_matte(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    matte = np.zeros((SIZE[1], SIZE[0]), np.float32)
    matte[:, : SIZE[0] // 2] = 1.0
    window = (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    write_exr(tmp_path / "matte.exr", ExrImage({"A": matte}, {"A": "half"}, window, window))
    spec = ExtendSpec(
        inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), after=5, mask=str(tmp_path / "matte.exr"),
        feather=2, model=str(tiny_wan_vace), **FAST,
    )  # fmt: skip
    run_extend(spec)
    edge = exr_rgb(tmp_path / "in" / "plate.0003.exr")
    for frame in range(4, 9):
        out = exr_rgb(tmp_path / "out" / f"o.{frame:04d}.exr")
        np.testing.assert_array_equal(half_bits(out[:, SIZE[0] // 2 :]), half_bits(edge[:, SIZE[0] // 2 :]))
        assert np.abs(out[:, : SIZE[0] // 2 - 3] - edge[:, : SIZE[0] // 2 - 3]).max() > 1e-3


def _first_frame_i2v(flf2v: Path, dest: Path) -> Path:
    """The tiny FLF2V model as a first-frame image-to-video (Wan2.1-I2V) one: one image embedding, no last frame."""
    shutil.copytree(flf2v, dest)
    config_path = dest / "transformer" / "config.json"
    config = json.loads(config_path.read_text())
    config["pos_embed_seq_len"] = None
    config_path.write_text(json.dumps(config))
    return dest


def test_wan_image_to_video_extends_from_one_frame_either_way(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    model = _first_frame_i2v(tiny_wan_i2v, tmp_path / "i2v")
    plate = write_plate(tmp_path / "in", range(1001, 1004), SIZE)
    for side in ("after", "before"):
        out = tmp_path / side / "o.####.exr"
        result = run_extend(ExtendSpec(inputs=[plate], output=str(out), model=str(model), **{side: 4}, **FAST))
        assert len(result.written) == 7
        frame = 1004 if side == "after" else 1000
        prov = Provenance.from_attributes(read_exr(tmp_path / side / f"o.{frame}.exr").attributes)
        assert prov.method == "flf2v WanImageToVideoPipeline" and prov.parameters["context"] == 1
        assert prov.source_frames == [1003.0 if side == "after" else 1001.0]
    with pytest.raises(InputError, match="--context 2: WanImageToVideoPipeline conditions on one frame"):
        run_extend(
            ExtendSpec(
                inputs=[plate], output=str(tmp_path / "x" / "o.####.exr"), model=str(model), after=4, context=2, **FAST
            )
        )
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").iterdir())


def test_models_that_cannot_condition_on_frames_are_refused(
    tmp_path: Path, tiny_wan_t2v: Path, tiny_wan_i2v: Path
) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    out = tmp_path / "out" / "o.####.exr"
    with pytest.raises(ModelError, match="WanPipeline cannot condition on frames, so it cannot extend"):
        run_extend(ExtendSpec(inputs=[plate], output=str(out), after=4, model=str(tiny_wan_t2v), **FAST))
    with pytest.raises(ModelError, match=r"first-last-frame \(FLF2V\) Wan checkpoint needs a last frame"):
        run_extend(ExtendSpec(inputs=[plate], output=str(out), after=4, model=str(tiny_wan_i2v), **FAST))
    assert not list((tmp_path / "out").glob("*.exr"))


def test_bad_extensions_are_refused_in_one_line(tmp_path: Path, tiny_wan_vace: Path, tiny_ltx: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    base = {"inputs": [plate], "output": str(tmp_path / "out" / "o.####.exr"), **FAST}
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ExtendSpec(**base, after=0, model="m")
    with pytest.raises(ValidationError, match="give one of --after, --before, --seconds, not --after and --before"):
        ExtendSpec(**base, after=3, before=3, model="m")
    with pytest.raises(ValidationError, match="--at start: only with --seconds"):
        ExtendSpec(**base, after=3, at="start", model="m")
    with pytest.raises(InputError, match="--context 5: the plate has only 3 frames"):
        run_extend(ExtendSpec(**base, after=4, context=5, model=str(tiny_wan_vace)))
    with pytest.raises(InputError, match="--context 9: must be smaller than the 9-frame window"):
        run_extend(
            ExtendSpec(
                **{**base, "inputs": [write_plate(tmp_path / "long", range(1, 11), SIZE)]},
                after=4,
                context=9,
                model=str(tiny_wan_vace),
            )
        )
    with pytest.raises(InputError, match=r"--context 2: LTX-Video conditions on k\*4\+1 frames; try 1"):
        run_extend(ExtendSpec(**base, after=4, context=2, model=str(tiny_ltx)))
    with pytest.raises(InputError, match="--seconds 2: .*plate.0001.exr has no framesPerSecond"):
        run_extend(ExtendSpec(**base, seconds=2, model=str(tiny_wan_vace)))
    assert not list((tmp_path / "out").glob("*.exr"))


def test_seconds_count_at_the_plate_frame_rate(tmp_path: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1001, 1004), SIZE)
    for frame in range(1001, 1004):
        path = tmp_path / "in" / f"plate.{frame}.exr"
        image = read_exr(path)
        write_exr(path, ExrImage(image.channels, image.pixel_types, image.data_window, image.display_window,
                                 {**image.attributes, "framesPerSecond": Fraction(24000, 1001)}))  # fmt: skip
    out = str(tmp_path / "out" / "o.####.exr")
    assert extend_frames(ExtendSpec(inputs=[plate], output=out, seconds=0.5, model="m")) == list(range(1001, 1016))
    start = extend_frames(ExtendSpec(inputs=[plate], output=out, seconds=0.5, at="start", model="m"))
    assert start == list(range(989, 1004))


def test_draft_then_from_draft_extends_at_full_size(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 4), SIZE)
    draft = str(tmp_path / "d" / "d.####.exr")
    run_extend(ExtendSpec(inputs=[plate], output=draft, after=4, model=str(tiny_wan_vace), seed=5, draft=True, **FAST))
    full = ExtendSpec(inputs=[plate], output=str(tmp_path / "f" / "f.####.exr"), after=4, from_draft=draft, steps=2)
    run_extend(full)
    d = Provenance.from_attributes(read_exr(tmp_path / "d" / "d.0005.exr").attributes)
    f = Provenance.from_attributes(read_exr(tmp_path / "f" / "f.0005.exr").attributes)
    assert d.parameters["model_size"] == [16, 16] and f.parameters["model_size"] == [32, 32]
    assert (f.seed, f.prompt) == (5, FAST["prompt"]) and f.parameters["from_draft"] == draft


def test_a_chunk_of_later_frames_writes_only_those(tmp_path: Path, tiny_wan_vace: Path) -> None:
    plate = write_plate(tmp_path / "in", range(1, 5), SIZE)
    settings = {"inputs": [plate], "after": 12, "model": str(tiny_wan_vace), **FAST}
    run_extend(ExtendSpec(output=str(tmp_path / "whole" / "o.####.exr"), **settings))
    spec = ExtendSpec(output=str(tmp_path / "out" / "o.####.exr"), **settings)
    result = run_extend(spec, only_frames=[14, 15, 16])  # window 1's frames: window 0 is made again, not written
    assert sorted(p.name for p in result.written) == ["o.0014.exr", "o.0015.exr", "o.0016.exr"]
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == ["o.0014.exr", "o.0015.exr", "o.0016.exr"]
    for frame in (14, 15, 16):
        np.testing.assert_array_equal(
            exr_rgb(tmp_path / "out" / f"o.{frame:04d}.exr"), exr_rgb(tmp_path / "whole" / f"o.{frame:04d}.exr")
        )
