"""EXR read/write on small files the tests write themselves."""

import fractions
import os
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from dreamplate.errors import InputError
from dreamplate.io import exr
from dreamplate.io.exr import COMPRESSIONS, ExrImage, read_exr, read_info, write_exr

HDR_VALUES = [-2.0, 0.0, 0.18, 1.0, 64.0, 65504.0, np.nan, np.inf, -np.inf, -0.0, 6.1e-5, 1e-7]
LOSSY = {"b44", "b44a", "dwaa", "dwab"}


def _image(channels: dict[str, np.ndarray], data_window=None, display_window=None, **kwargs) -> ExrImage:
    height, width = next(iter(channels.values())).shape
    data_window = data_window or (0, 0, width - 1, height - 1)
    return ExrImage(
        channels=channels,
        pixel_types={name: "half" for name in channels},
        data_window=data_window,
        display_window=display_window or data_window,
        **kwargs,
    )


def _half_bits(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float16).view(np.uint16)


def _smooth_rgba(height: int = 48, width: int = 64) -> dict[str, np.ndarray]:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 0.5 + 0.4 * np.sin(x / 7.0) * np.cos(y / 5.0)
    return {"R": base * 4.0, "G": base, "B": base * 0.25, "A": np.ones_like(base)}


def test_hdr_half_values_round_trip_bit_exact(tmp_path: Path) -> None:
    values = np.array(HDR_VALUES, dtype=np.float32).reshape(3, 4)
    image = _image({"R": values, "G": -values, "B": values * 0.5})
    write_exr(tmp_path / "hdr.exr", image)
    back = read_exr(tmp_path / "hdr.exr")
    for name, pixels in image.channels.items():
        assert back.channels[name].dtype == np.float32
        np.testing.assert_array_equal(_half_bits(back.channels[name]), _half_bits(pixels))
    assert back.pixel_types == {"R": "half", "G": "half", "B": "half"}
    assert back.channels["R"][1, 1] == np.float32(65504.0)
    assert np.isnan(back.channels["R"][1, 2])


def test_values_above_half_range_become_inf_not_clipped(tmp_path: Path) -> None:
    image = _image({"Y": np.array([[1e5, -1e5, 3.0]], dtype=np.float32)})
    write_exr(tmp_path / "big.exr", image)
    assert read_exr(tmp_path / "big.exr").channels["Y"].tolist() == [[np.inf, -np.inf, 3.0]]
    write_exr(tmp_path / "big_float.exr", image, pixel_type="float")
    back = read_exr(tmp_path / "big_float.exr")
    assert back.channels["Y"].tolist() == [[1e5, -1e5, 3.0]]
    assert back.pixel_types == {"Y": "float"}


@pytest.mark.parametrize(
    ("data_window", "display_window"),
    [((-7, -3, -4, -1), (0, 0, 1919, 1079)), ((100, 200, 103, 202), (-50, -50, 50, 50))],
)
def test_odd_data_window_round_trips(tmp_path: Path, data_window, display_window) -> None:
    pixels = np.arange(12, dtype=np.float32).reshape(3, 4) / 8
    write_exr(tmp_path / "win.exr", _image({"R": pixels}, data_window, display_window))
    back = read_exr(tmp_path / "win.exr")
    assert back.data_window == data_window
    assert back.display_window == display_window
    np.testing.assert_array_equal(back.channels["R"], pixels)
    info = read_info(tmp_path / "win.exr")[0]
    assert (info.data_window, info.display_window) == (data_window, display_window)


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_compression_choices_round_trip(tmp_path: Path, compression: str) -> None:
    channels = _smooth_rgba()
    write_exr(tmp_path / "c.exr", _image(channels), compression=compression)
    back = read_exr(tmp_path / "c.exr")
    assert back.compression == compression
    for name, pixels in channels.items():
        expected = pixels.astype(np.float16).astype(np.float32)
        if compression in LOSSY:
            # Lossy codecs on smooth content: within 1% of the largest value (R peaks near 3.6).
            assert np.abs(back.channels[name] - expected).max() <= 0.01 * max(1.0, float(expected.max()))
        else:
            np.testing.assert_array_equal(back.channels[name], expected)


def test_unknown_compression_and_pixel_type_are_refused(tmp_path: Path) -> None:
    image = _image({"R": np.zeros((2, 2), np.float32)})
    with pytest.raises(ValueError, match="'zstd'"):
        write_exr(tmp_path / "x.exr", image, compression="zstd")
    with pytest.raises(ValueError, match="'uint'"):
        write_exr(tmp_path / "x.exr", image, pixel_type="uint")
    assert list(tmp_path.iterdir()) == []


def test_attributes_round_trip(tmp_path: Path) -> None:
    timecode = OpenEXR.TimeCode()
    timecode.hours, timecode.minutes, timecode.seconds, timecode.frame = 1, 2, 3, 4
    attributes = {
        "chromaticities": (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767),
        "dreamplate/source": "plate.1013.exr",
        "framesPerSecond": fractions.Fraction(24000, 1001),
        "timeCode": timecode,
        "whiteLuminance": 100.0,
        "frame": 1013,
        "screenWindowCenter": np.array([0.5, -0.5], dtype=np.float32),
        "worldToCamera": np.arange(16, dtype=np.float32).reshape(4, 4),
        "tags": ["a", "b"],
    }
    write_exr(tmp_path / "a.exr", _image({"R": np.zeros((2, 3), np.float32)}, attributes=attributes))
    back = read_exr(tmp_path / "a.exr").attributes
    np.testing.assert_allclose(back["chromaticities"], attributes["chromaticities"], rtol=1e-7)
    assert back["dreamplate/source"] == "plate.1013.exr"
    assert back["framesPerSecond"] == fractions.Fraction(24000, 1001)
    tc = back["timeCode"]
    assert (tc.hours, tc.minutes, tc.seconds, tc.frame) == (1, 2, 3, 4)
    assert back["whiteLuminance"] == 100.0
    assert back["frame"] == 1013
    np.testing.assert_array_equal(back["screenWindowCenter"], [0.5, -0.5])
    np.testing.assert_array_equal(back["worldToCamera"], attributes["worldToCamera"])
    assert back["tags"] == ["a", "b"]


def test_unwritable_attributes_are_skipped_not_fatal(tmp_path: Path) -> None:
    attributes = {
        "keep": "yes",
        "a_dict": {"a": 1},
        "a_none": None,
        "too_big_int": 2**40,
        "int64_vector": np.array([1, 2], dtype=np.int64),
        "empty_list": [],
        "dataWindow": ((0, 0), (99, 99)),
    }
    write_exr(tmp_path / "s.exr", _image({"R": np.ones((2, 2), np.float32)}, attributes=attributes))
    back = read_exr(tmp_path / "s.exr")
    assert back.attributes["keep"] == "yes"
    assert not {"a_dict", "a_none", "too_big_int", "int64_vector", "empty_list"} & set(back.attributes)
    assert back.data_window == (0, 0, 1, 1)


def test_uint_channels_stay_uint(tmp_path: Path) -> None:
    ids = np.array([[0, 1, 2**32 - 1], [7, 8, 9]], dtype=np.uint32)
    image = _image({"id": ids, "Y": np.full((2, 3), 0.5, np.float32)})
    image.pixel_types["id"] = "uint"
    write_exr(tmp_path / "u.exr", image, pixel_type="float")
    back = read_exr(tmp_path / "u.exr")
    assert back.pixel_types == {"id": "uint", "Y": "float"}
    assert back.channels["id"].dtype == np.uint32
    np.testing.assert_array_equal(back.channels["id"], ids)
    assert [(c.name, c.pixel_type) for c in read_info(tmp_path / "u.exr")[0].channels] == [
        ("Y", "float"),
        ("id", "uint"),
    ]


def test_write_replaces_existing_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.exr"
    write_exr(target, _image({"R": np.zeros((2, 2), np.float32)}))
    write_exr(target, _image({"R": np.ones((2, 2), np.float32)}))
    assert read_exr(target).channels["R"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]


def test_failed_write_removes_temp_and_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.exr"
    write_exr(target, _image({"R": np.zeros((2, 2), np.float32)}))

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(InputError, match=r"out\.exr: cannot write"):
        write_exr(target, _image({"R": np.ones((2, 2), np.float32)}))
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["out.exr"]
    assert read_exr(target).channels["R"].max() == 0.0


def test_write_into_missing_folder_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "out.exr"
    with pytest.raises(InputError, match=r"nope/out\.exr: output folder .* does not exist"):
        write_exr(target, _image({"R": np.zeros((2, 2), np.float32)}))


def test_channel_not_matching_data_window_is_refused(tmp_path: Path) -> None:
    image = _image({"R": np.zeros((3, 4), np.float32)}, data_window=(0, 0, 9, 9))
    with pytest.raises(ValueError, match="data window is 10x10"):
        write_exr(tmp_path / "bad.exr", image)


def test_missing_and_non_exr_files_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.exr: no such file$"):
        read_exr(tmp_path / "missing.exr")
    (tmp_path / "text.exr").write_text("this is not an exr\n")
    with pytest.raises(InputError, match=r"text\.exr: not an OpenEXR file$"):
        read_info(tmp_path / "text.exr")
    with pytest.raises(InputError, match="is a folder"):
        read_exr(tmp_path)


@pytest.mark.parametrize("keep_fraction", [0.1, 0.5, 0.9])
def test_truncated_file_raises_quietly(tmp_path: Path, capfd: pytest.CaptureFixture, keep_fraction: float) -> None:
    rng = np.random.default_rng(3)
    channels = {c: rng.random((64, 80), dtype=np.float32) for c in "RGB"}
    whole = tmp_path / "whole.exr"
    write_exr(whole, _image(channels), compression="none")
    data = whole.read_bytes()
    cut = tmp_path / "cut.exr"
    cut.write_bytes(data[: int(len(data) * keep_fraction)])
    with pytest.raises(InputError) as caught:
        read_exr(cut)
    message = str(caught.value)
    assert message.startswith(f"{cut}: ")
    assert "\n" not in message
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_oversized_data_window_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_exr(tmp_path / "big.exr", _image({c: np.zeros((100, 100), np.float32) for c in "RGB"}))
    monkeypatch.setattr(exr, "MAX_DECODED_BYTES", 100 * 100 * 3 * 4 - 1)
    with pytest.raises(InputError, match=r"data window 100x100 with 3 channels needs .* over the"):
        read_info(tmp_path / "big.exr")


def _write_stereo_multipart(path: Path) -> None:
    left = np.full((2, 3), 0.25, np.float16)
    right = np.full((2, 3), 0.75, np.float16)
    parts = [
        OpenEXR.Part({"view": "left", "comment": "L"}, {"R": left, "G": left}, "rgba.left"),
        OpenEXR.Part({"view": "right", "comment": "R"}, {"R": right, "G": right}, "rgba.right"),
    ]
    OpenEXR.File(parts).write(os.fspath(path))


def test_multipart_selects_part_by_index_name_and_view(tmp_path: Path) -> None:
    path = tmp_path / "stereo.exr"
    _write_stereo_multipart(path)
    infos = read_info(path)
    assert [(i.index, i.name, i.views) for i in infos] == [(0, "rgba.left", ["left"]), (1, "rgba.right", ["right"])]
    default = read_exr(path)
    assert (default.part, default.part_name, default.view) == (0, "rgba.left", "left")
    assert default.channels["R"][0, 0] == 0.25
    assert read_exr(path, part=1).channels["G"][1, 2] == 0.75
    by_name = read_exr(path, part="rgba.right")
    assert (by_name.part, by_name.attributes["comment"]) == (1, "R")
    by_view = read_exr(path, view="right")
    assert (by_view.part, by_view.view, by_view.channels["R"][0, 0]) == (1, "right", 0.75)
    with pytest.raises(InputError, match=r"no part 2; available: 0 to 1"):
        read_exr(path, part=2)
    with pytest.raises(InputError, match=r"no part named 'beauty'; available: 'rgba.left', 'rgba.right'"):
        read_exr(path, part="beauty")
    with pytest.raises(InputError, match=r"no part has view 'centre'; available: left, right"):
        read_exr(path, view="centre")


def test_single_part_multiview_selects_and_strips_view(tmp_path: Path) -> None:
    def plane(value: float) -> np.ndarray:
        return np.full((2, 2), value, np.float16)

    channels = {
        "R": plane(1),
        "G": plane(2),
        "left.R": plane(3),
        "left.G": plane(4),
        "diffuse.R": plane(5),
        "diffuse.left.R": plane(6),
        "notes.misc": plane(7),
    }
    header = {"multiView": ["right", "left"], "compression": OpenEXR.ZIP_COMPRESSION}
    OpenEXR.File(header, channels).write(os.fspath(tmp_path / "mv.exr"))

    default = read_exr(tmp_path / "mv.exr")
    assert default.view == "right"
    assert {k: float(v[0, 0]) for k, v in default.channels.items()} == {
        "R": 1.0,
        "G": 2.0,
        "diffuse.R": 5.0,
        "notes.misc": 7.0,
    }
    left = read_exr(tmp_path / "mv.exr", view="left")
    assert {k: float(v[0, 0]) for k, v in left.channels.items()} == {
        "R": 3.0,
        "G": 4.0,
        "diffuse.R": 6.0,
        "notes.misc": 7.0,
    }
    assert "multiView" not in left.attributes
    with pytest.raises(InputError, match=r"mv\.exr: part 0 has no view 'centre'; available: right, left"):
        read_exr(tmp_path / "mv.exr", view="centre")


def _read_in_child(path: str, queue) -> None:
    queue.put(float(read_exr(Path(path)).channels["R"][0, 0]))


def test_big_frames_read_in_a_forked_child_after_the_parent_did(tmp_path: Path) -> None:
    # Big enough to take the threaded cast path; a fork inherits the pool but not its threads.
    import multiprocessing

    path = tmp_path / "big.exr"
    write_exr(path, _image({c: np.full((600, 600), 0.5, np.float32) for c in "RGB"}))
    assert read_exr(path).channels["R"][0, 0] == 0.5
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(str(path), queue))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung
    assert child.exitcode == 0
    assert queue.get(timeout=1) == 0.5
