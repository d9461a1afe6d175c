"""End-to-end interpolation runs on small EXR sequences written by the tests themselves."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import OpenEXR
import pytest
from plates import write_plate

from dreamplate.demo import render_plate_frame
from dreamplate.errors import InputError
from dreamplate.interp.retime import is_nearest_channel, run_interpolate
from dreamplate.interp.spec import InterpolateSpec
from dreamplate.io.exr import ExrImage, read_exr, read_info, write_exr
from dreamplate.io.provenance import Provenance

SIZE = (96, 64)
ACESCG_TAGS = {"colorInteropID": "lin_ap1_scene"}


def _write_plate(folder: Path, frames, size=SIZE, overrides: dict | None = None) -> str:
    """A tiny demo plate (RGBA + Z) tagged ACEScg; returns its pattern."""
    return write_plate(folder, frames, size, overrides)


def _to_half_bits(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float16).view(np.uint16)


def test_factor_2_numbers_frames_consecutively_and_passes_originals_through(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1001, 1004))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "out" / "out.####.exr"), factor=2)
    result = run_interpolate(spec)
    names = sorted(p.name for p in result.written)
    assert names == [f"out.{f}.exr" for f in range(1001, 1006)]
    for src, dst in ((1001, 1001), (1002, 1003), (1003, 1005)):
        a = read_exr(tmp_path / "in" / f"plate.{src}.exr")
        b = read_exr(tmp_path / "out" / f"out.{dst}.exr")
        for name in a.channels:
            np.testing.assert_array_equal(_to_half_bits(a.channels[name]), _to_half_bits(b.channels[name]))
    middle = read_exr(tmp_path / "out" / "out.1002.exr")
    assert set(middle.channels) == {"R", "G", "B", "A", "Z"}
    assert middle.display_window == (0, 0, SIZE[0] - 1, SIZE[1] - 1)
    assert set(middle.pixel_types.values()) == {"half"}
    assert float(middle.channels["R"].max()) > 10.0  # highlights far above 1.0 survive
    provenance = Provenance.from_attributes(middle.attributes)
    assert provenance is not None and provenance.operation == "interpolate" and provenance.method == "flow"
    assert provenance.source_frames == [1001.5]
    assert middle.attributes["colorInteropID"] == "lin_ap1_scene"
    header = OpenEXR.File(str(tmp_path / "out" / "out.1002.exr"), header_only=True).header()
    assert OpenEXR.checkColorMetadata(header) == 0


def test_rerun_skips_finished_frames_and_other_settings_rerender(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 4))
    out = str(tmp_path / "out" / "out.####.exr")
    first = run_interpolate(InterpolateSpec(inputs=[plate], output=out, factor=2))
    assert len(first.written) == 5
    (tmp_path / "out" / "out.0002.exr").unlink()  # as if the first run had been interrupted there
    again = run_interpolate(InterpolateSpec(inputs=[plate], output=out, factor=2))
    assert [p.name for p in again.written] == ["out.0002.exr"]
    assert len(again.skipped) == 4
    changed = run_interpolate(InterpolateSpec(inputs=[plate], output=out, factor=3))
    assert len(changed.written) == 7 and not changed.skipped


def test_identical_hdr_frames_interpolate_to_themselves(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rgb = (rng.random((SIZE[1], SIZE[0]), dtype=np.float32) * 64.0).astype(np.float16).astype(np.float32)
    rgb[0, :8] = [65504, 1000, 64, 1, 0.18, 0, -0.01, 2e-5]
    same = {"R": rgb, "G": rgb * 0.5, "B": rgb[::-1].copy()}
    plate = _write_plate(tmp_path / "in", range(1, 3), overrides={1: same, 2: same})
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "out" / "o.####.exr"), factor=2)
    run_interpolate(spec)
    src = read_exr(tmp_path / "in" / "plate.0001.exr")
    mid = read_exr(tmp_path / "out" / "o.0002.exr")
    for name in ("R", "G", "B"):
        ulps = np.abs(_to_half_bits(mid.channels[name]).astype(np.int32) - _to_half_bits(src.channels[name]))
        assert int(ulps.max()) <= 2, name


def test_factor_3_and_retime_map_reverse(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 4))
    result = run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "f3" / "f.####.exr"), factor=3))
    assert len(result.written) == 7
    third = Provenance.from_attributes(read_info(tmp_path / "f3" / "f.0002.exr")[0].attributes)
    assert third.source_frames == [pytest.approx(1 + 1 / 3)]
    retime = tmp_path / "reverse.txt"
    retime.write_text("# output source\n1 3\n2 2.5\n3 2\n4 1.25\n")
    rev = run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "rev" / "r.####.exr"), retime=retime))
    assert len(rev.written) == 4
    first = read_exr(tmp_path / "rev" / "r.0001.exr")
    src = read_exr(tmp_path / "in" / "plate.0003.exr")
    np.testing.assert_array_equal(first.channels["R"], src.channels["R"])


def test_missing_frames_are_named_before_anything_is_written(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", [1, 2, 4, 5])
    out = tmp_path / "out"
    spec = InterpolateSpec(inputs=[plate], output=str(out / "o.####.exr"), frames="1-5")
    with pytest.raises(InputError, match=r"\b3\b"):
        run_interpolate(spec)
    assert not out.exists() or not any(out.iterdir())


def test_output_that_resolves_to_an_input_is_refused(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    before = (tmp_path / "in" / "plate.0001.exr").read_bytes()
    with pytest.raises(InputError, match="overwrite an input"):
        run_interpolate(InterpolateSpec(inputs=[plate], output=plate, factor=2))
    assert (tmp_path / "in" / "plate.0001.exr").read_bytes() == before


def test_unwritable_output_folder_is_refused(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="not writable"):
        run_interpolate(InterpolateSpec(inputs=[plate], output=str(blocker / "o.####.exr")))


def test_mismatched_sizes_are_refused(tmp_path: Path) -> None:
    _write_plate(tmp_path / "in", [1])
    _write_plate(tmp_path / "other", [2], size=(80, 64))
    (tmp_path / "other" / "plate.0002.exr").rename(tmp_path / "in" / "plate.0002.exr")
    with pytest.raises(InputError, match="plate.0002.exr: display window"):
        run_interpolate(
            InterpolateSpec(inputs=[str(tmp_path / "in" / "plate.####.exr")], output=str(tmp_path / "o.####.exr"))
        )
    assert not list(tmp_path.glob("o.*.exr"))


def test_nan_pixels_stay_put_and_never_spread(tmp_path: Path) -> None:
    poisoned = render_plate_frame(0, 2, SIZE)
    poisoned["R"][10, 10] = np.nan
    poisoned["G"][20, 30] = np.inf
    plate = _write_plate(tmp_path / "in", range(1, 3), overrides={1: poisoned})
    run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2))
    passthrough = read_exr(tmp_path / "o" / "o.0001.exr")
    assert np.isnan(passthrough.channels["R"][10, 10]) and np.isinf(passthrough.channels["G"][20, 30])
    middle = read_exr(tmp_path / "o" / "o.0002.exr")
    assert all(np.isfinite(c).all() for c in middle.channels.values())


def test_depth_is_never_blended(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2))
    sources = np.concatenate([read_exr(tmp_path / "in" / f"plate.000{f}.exr").channels["Z"].ravel() for f in (1, 2)])
    middle = read_exr(tmp_path / "o" / "o.0002.exr").channels["Z"]
    assert np.isin(middle, sources).all()


def test_moving_data_windows_give_the_union(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    display = (0, 0, 63, 47)
    for frame, window in ((1, (4, 6, 35, 29)), (2, (20, 10, 55, 41))):
        height, width = window[3] - window[1] + 1, window[2] - window[0] + 1
        value = np.full((height, width), 2.5, np.float32)
        image = ExrImage(
            channels={"R": value, "G": value, "B": value},
            pixel_types=dict.fromkeys("RGB", "half"),
            data_window=window,
            display_window=display,
            attributes={},
        )
        write_exr(folder / f"bb.{frame:04d}.exr", image)
    run_interpolate(InterpolateSpec(inputs=[str(folder / "bb.####.exr")], output=str(tmp_path / "o.####.exr")))
    middle = read_exr(tmp_path / "o.0002.exr")
    assert middle.data_window == (4, 6, 55, 41)
    assert middle.display_window == display


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_png_pair_gives_png_of_the_same_depth(tmp_path: Path, bit_depth: int) -> None:
    from dreamplate.io.raster import read_raster, write_raster

    rng = np.random.default_rng(3)
    base = rng.random((48, 64, 3)).astype(np.float32)
    write_raster(tmp_path / "a.png", base, bit_depth)
    write_raster(tmp_path / "b.png", np.roll(base, 2, axis=1), bit_depth)
    spec = InterpolateSpec(inputs=[str(tmp_path / "a.png"), str(tmp_path / "b.png")], output=str(tmp_path / "mid.png"))
    run_interpolate(spec)
    mid = read_raster(tmp_path / "mid.png")
    assert mid.bit_depth == bit_depth and mid.pixels.shape == (48, 64, 3)


def test_nearest_channel_names() -> None:
    assert is_nearest_channel("Z") and is_nearest_channel("depth.Z") and is_nearest_channel("objectId")
    assert is_nearest_channel("crypto00.R") and is_nearest_channel("mask", "uint")
    assert not is_nearest_channel("R") and not is_nearest_channel("diffuse.G") and not is_nearest_channel("A")


def test_fps_change_24_to_60_tags_the_new_rate(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 6))
    result = run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), fps=(24, 60)))
    assert len(result.written) == 11  # positions 1, 1.4, 1.8, ... 5.0
    second = read_exr(tmp_path / "o" / "o.0002.exr")
    assert Provenance.from_attributes(second.attributes).source_frames == [pytest.approx(1.4)]
    assert float(second.attributes["framesPerSecond"]) == 60.0
    last = read_exr(tmp_path / "o" / "o.0011.exr")
    np.testing.assert_array_equal(last.channels["R"], read_exr(tmp_path / "in" / "plate.0005.exr").channels["R"])


def test_fps_rerun_skips_finished_frames(tmp_path: Path) -> None:
    # The rate change was recorded as a tuple and read back from the header as a list, so a re-run never matched
    # a finished frame and rewrote the whole retime.
    plate = _write_plate(tmp_path / "in", range(1, 4))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), fps=(24, 60))
    first = run_interpolate(spec)
    again = run_interpolate(spec)
    assert (len(again.written), again.skipped) == (0, first.written)


def test_speed_half_is_a_2x_slow_down_recorded_as_such(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 4))
    run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "f" / "o.####.exr"), factor=2))
    result = run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "s" / "o.####.exr"), speed=0.5))
    assert len(result.written) == 5
    for frame in range(1, 6):
        slowed = read_exr(tmp_path / "s" / f"o.{frame:04d}.exr")
        np.testing.assert_array_equal(
            slowed.channels["R"], read_exr(tmp_path / "f" / f"o.{frame:04d}.exr").channels["R"]
        )
    assert Provenance.from_attributes(slowed.attributes).parameters["speed"] == 0.5
    with pytest.raises(
        ValueError, match="give one of --factor, --times, --retime, --fps, --speed, not factor and speed"
    ):
        InterpolateSpec(inputs=[plate], output=str(tmp_path / "x.####.exr"), factor=2, speed=0.5)


def test_fps_without_source_rate_asks_for_it(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    with pytest.raises(InputError, match="framesPerSecond"):
        run_interpolate(InterpolateSpec(inputs=[plate], output=str(tmp_path / "o.####.exr"), fps=(None, 60)))


@pytest.mark.parametrize(
    "sample",
    [
        "TestImages/AllHalfValues.exr",  # every half value, -0.0, NaN and Inf
        "MultiView/Adjuster.exr",  # default view of a multiview file
        "DisplayWindow/t08.exr",  # data window offset inside a larger display window
        "LuminanceChroma/Flowers.exr",  # luminance/chroma, read as RGB
        "TestImages/WideFloatRange.exr",  # 32-bit float Y far outside the half range
    ],
)
def test_real_sample_between_itself_comes_back_unchanged(shared_data: Path, tmp_path: Path, sample: str) -> None:
    source = shared_data / "exr" / sample
    run_interpolate(InterpolateSpec(inputs=[str(source), str(source)], output=str(tmp_path / "mid.exr")))
    before, after = read_exr(source), read_exr(tmp_path / "mid.exr")
    assert after.data_window == before.data_window and after.display_window == before.display_window
    assert set(after.channels) == set(before.channels)
    for name, values in before.channels.items():
        finite = np.isfinite(values)
        with np.errstate(over="ignore"):
            expected = _to_half_bits(values[finite])
        np.testing.assert_array_equal(_to_half_bits(after.channels[name][finite]), expected)


def test_png_time_zero_passes_the_first_frame_through_exactly(tmp_path: Path) -> None:
    from dreamplate.io.raster import read_raster, write_raster

    rng = np.random.default_rng(5)
    write_raster(tmp_path / "a.png", rng.random((32, 40, 3)).astype(np.float32), 16)
    write_raster(tmp_path / "b.png", rng.random((32, 40, 3)).astype(np.float32), 16)
    spec = InterpolateSpec(
        inputs=[str(tmp_path / "a.png"), str(tmp_path / "b.png")], output=str(tmp_path / "m.####.png"), times=[0.0, 1.0]
    )
    run_interpolate(spec)
    for out, src in (("m.0001.png", "a.png"), ("m.0002.png", "b.png")):
        np.testing.assert_array_equal(read_raster(tmp_path / out).pixels, read_raster(tmp_path / src).pixels)


def test_png_keyframes_give_scene_linear_exr_when_asked(tmp_path: Path) -> None:
    from dreamplate.io.raster import write_raster

    grey = np.full((24, 32, 3), 0.5, np.float32)
    grey[:, :4] = 1.0
    write_raster(tmp_path / "a.png", grey, 16)
    write_raster(tmp_path / "b.png", grey, 16)
    spec = InterpolateSpec(inputs=[str(tmp_path / "a.png"), str(tmp_path / "b.png")], output=str(tmp_path / "m.exr"))
    run_interpolate(spec)
    mid = read_exr(tmp_path / "m.exr")
    rgb = np.stack([mid.channels[c] for c in "RGB"], axis=-1)
    # sRGB code 0.5 is linear 0.214; display white is linear 1.0; neutral stays neutral in ACEScg.
    np.testing.assert_allclose(rgb[:, 10:], 0.2140, atol=2e-3)
    np.testing.assert_allclose(rgb[:, :4], 1.0, atol=2e-3)
    assert mid.attributes["colorInteropID"] == "lin_ap1_scene"
    assert Provenance.from_attributes(mid.attributes).colorspace == "ACEScg"


def test_cancel_between_frames_keeps_finished_frames_and_a_rerun_resumes(tmp_path: Path) -> None:
    from dreamplate.errors import Cancelled

    plate = _write_plate(tmp_path / "in", range(1, 4))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2)
    done: list[int] = []
    with pytest.raises(Cancelled, match="after 2 of 5"):
        run_interpolate(spec, progress=lambda n, total, msg: done.append(n), cancelled=lambda: len(done) >= 2)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["o.0001.exr", "o.0002.exr"]
    resumed = run_interpolate(spec)
    assert len(resumed.skipped) == 2 and len(resumed.written) == 3


def test_view_picks_the_part_of_a_multipart_stereo_pair(tmp_path: Path) -> None:
    # Each part carries one view; the header check and the pixel read must agree on which part that is.
    for frame in (1, 2):
        parts = []
        for view, value in (("left", 1.0), ("right", 4.0)):
            header = {"type": OpenEXR.scanlineimage, "compression": OpenEXR.ZIP_COMPRESSION, "view": view}
            pixels = np.full((16, 24), value, np.float16)
            parts.append(OpenEXR.Part(header, {"R": pixels, "G": pixels, "B": pixels}, f"{view}eye"))
        OpenEXR.File(parts).write(str(tmp_path / f"st.{frame:04d}.exr"))
    spec = InterpolateSpec(inputs=[str(tmp_path / "st.####.exr")], output=str(tmp_path / "o.####.exr"), view="right")
    run_interpolate(spec)
    assert float(read_exr(tmp_path / "o.0002.exr").channels["R"].max()) == 4.0


def test_only_frames_runs_one_chunk_and_chunks_add_up_to_the_whole_run(tmp_path: Path) -> None:
    from dreamplate.interp.retime import plan_output_frames

    plate = _write_plate(tmp_path / "in", range(1, 5))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=2)
    frames = plan_output_frames(spec)
    assert frames == list(range(1, 8))
    first = run_interpolate(spec, only_frames=frames[:3])
    assert [p.name for p in first.written] == ["o.0001.exr", "o.0002.exr", "o.0003.exr"]
    second = run_interpolate(spec, only_frames=frames[3:])
    assert len(second.written) == 4 and not second.skipped
    assert len(run_interpolate(spec).skipped) == 7
    with pytest.raises(InputError, match="not among"):
        run_interpolate(spec, only_frames=[99])


def test_blend_mixes_the_two_frames_by_time_in_scene_linear(tmp_path: Path) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    run_interpolate(
        InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=4, method="blend")
    )
    a, b = (read_exr(tmp_path / "in" / f"plate.000{f}.exr") for f in (1, 2))
    for frame, t in ((2, 0.25), (3, 0.5), (4, 0.75)):
        out = read_exr(tmp_path / "o" / f"o.000{frame}.exr")
        for name in "RGBA":
            expected = (1 - t) * a.channels[name].astype(np.float32) + t * b.channels[name].astype(np.float32)
            np.testing.assert_allclose(out.channels[name].astype(np.float32), expected, rtol=1e-3, atol=1e-3)
        nearer = a if t < 0.5 else b  # depth is never mixed: a depth between two surfaces is neither
        np.testing.assert_array_equal(_to_half_bits(out.channels["Z"]), _to_half_bits(nearer.channels["Z"]))
        assert Provenance.from_attributes(out.attributes).method == "blend"
    assert float(a.channels["R"].astype(np.float32).max()) > 10.0  # the mix above held highlights, not clipped values


def test_frame_holds_the_nearest_source_frame_bit_for_bit(tmp_path: Path) -> None:
    timecode = OpenEXR.TimeCode()
    timecode.hours, timecode.frame = 1, 2
    plate = _write_plate(tmp_path / "in", range(1, 3))
    for frame in (1, 2):
        path = tmp_path / "in" / f"plate.000{frame}.exr"
        source = read_exr(path)
        write_exr(path, replace(source, attributes={**source.attributes, "timeCode": timecode}))
    run_interpolate(
        InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), factor=4, method="frame")
    )
    a, b = (read_exr(tmp_path / "in" / f"plate.000{f}.exr") for f in (1, 2))
    for frame, shown in ((2, a), (3, b), (4, b)):  # t = 0.25, 0.5 (half way shows the later frame), 0.75
        out = read_exr(tmp_path / "o" / f"o.000{frame}.exr")
        for name in shown.channels:
            np.testing.assert_array_equal(_to_half_bits(out.channels[name]), _to_half_bits(shown.channels[name]))
        assert "timeCode" not in out.attributes  # a held frame is not that source frame's moment
    assert "timeCode" in read_exr(tmp_path / "o" / "o.0005.exr").attributes


@pytest.mark.parametrize("method", ["blend", "frame"])
def test_motionless_methods_refuse_what_needs_motion(tmp_path: Path, method: str) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    out = str(tmp_path / "o" / "o.####.exr")
    with pytest.raises(ValueError, match=f"--vectors needs motion; --method {method} estimates none"):
        InterpolateSpec(inputs=[plate], output=out, method=method, vectors=True)
    with pytest.raises(ValueError, match=f"--matte needs motion; --method {method}"):
        InterpolateSpec(inputs=[plate], output=out, method=method, matte=plate)
    with pytest.raises(ValueError, match=f"--resample needs motion; --method {method}"):
        InterpolateSpec(inputs=[plate], output=out, method=method, resample="lanczos")
    with pytest.raises(ValueError, match=f"--tta applies to --method learned, not {method}"):
        InterpolateSpec(inputs=[plate], output=out, method=method, tta=True)


@pytest.mark.parametrize(("settings", "resample"), [({}, "adaptive"), ({"shutter": 180.0}, "bilinear")])
def test_auto_resampling_is_adaptive_and_bilinear_under_a_shutter(
    tmp_path: Path, settings: dict, resample: str
) -> None:
    plate = _write_plate(tmp_path / "in", range(1, 3))
    spec = InterpolateSpec(inputs=[plate], output=str(tmp_path / "o" / "o.####.exr"), method="flow", **settings)
    run_interpolate(spec)
    recorded = {
        frame: Provenance.from_attributes(read_exr(tmp_path / "o" / f"o.000{frame}.exr").attributes).parameters.get(
            "resample"
        )
        for frame in (1, 2, 3)
    }
    # A source frame passed through is not resampled; under a shutter it is an average of resampled sub-frames.
    expected = {1: None, 2: resample, 3: None} if not settings else dict.fromkeys((1, 2, 3), resample)
    assert recorded == expected
