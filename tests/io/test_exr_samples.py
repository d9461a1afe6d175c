"""EXR reading against the shared samples: every good file reads, every damaged one fails in one line."""

from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from dreamplate.errors import InputError
from dreamplate.io.exr import read_exr, read_info, write_exr


def test_good_sample_reads(exr_root: Path, good_exr: str, capfd: pytest.CaptureFixture) -> None:
    path = exr_root / good_exr
    infos = read_info(path)
    assert len(infos) >= 1
    if infos[0].storage.startswith("deep"):
        with pytest.raises(InputError, match=r": deep data is not supported; flatten it first$"):
            read_exr(path)
        return
    image = read_exr(path)
    width = image.data_window[2] - image.data_window[0] + 1
    height = image.data_window[3] - image.data_window[1] + 1
    assert image.data_window == infos[0].data_window
    assert image.channels, good_exr
    for channel, pixels in image.channels.items():
        assert pixels.shape == (height, width), channel
        assert pixels.dtype in (np.float32, np.uint32), channel
    assert capfd.readouterr() == ("", "")


def test_display_window_sample_keeps_both_windows(exr_root: Path) -> None:
    image = read_exr(exr_root / "DisplayWindow/t08.exr")
    assert image.data_window == (30, 40, 429, 339)
    assert image.display_window == (0, 0, 500, 400)
    assert image.channels["R"].shape == (300, 400)


def test_header_info_of_a_tiled_sample(exr_root: Path) -> None:
    info = read_info(exr_root / "Tiles/GoldenGate.exr")[0]
    assert (info.index, info.name, info.storage, info.compression) == (0, None, "tiled", "piz")
    assert [(c.name, c.pixel_type, c.x_sampling) for c in info.channels] == [
        ("B", "half", 1),
        ("G", "half", 1),
        ("R", "half", 1),
    ]
    assert info.attributes["owner"] == "Copyright 2004 Industrial Light & Magic"
    assert info.attributes["expTime"] == 8.0
    assert "tiles" not in info.attributes and "dataWindow" not in info.attributes


def test_float_sample_reports_float(exr_root: Path) -> None:
    assert [c.pixel_type for c in read_info(exr_root / "TestImages/WideFloatRange.exr")[0].channels] == ["float"]
    assert read_exr(exr_root / "TestImages/WideFloatRange.exr").pixel_types == {"G": "float"}


def test_deep_stereo_info_lists_both_parts(exr_root: Path) -> None:
    infos = read_info(exr_root / "v2/Stereo/Trunks.exr")
    assert [(i.name, i.storage, i.views) for i in infos] == [
        ("rgba.left", "deepscanline", ["left"]),
        ("rgba.right", "deepscanline", ["right"]),
    ]
    assert infos[1].data_window == (0, 266, 1882, 1079)
    assert [(c.name, c.pixel_type) for c in infos[0].channels][-1] == ("Z", "float")


def test_multiview_sample_gives_the_default_view(exr_root: Path) -> None:
    path = exr_root / "MultiView/Adjuster.exr"
    raw = OpenEXR.File(str(path), separate_channels=True).channels()
    default = read_exr(path)
    assert default.view == "center"
    assert sorted(default.channels) == ["B", "G", "R"]
    np.testing.assert_array_equal(default.channels["R"], raw["R"].pixels.astype(np.float32))
    left = read_exr(path, view="left")
    assert sorted(left.channels) == ["B", "G", "R"]
    np.testing.assert_array_equal(left.channels["G"], raw["left.G"].pixels.astype(np.float32))
    assert not np.array_equal(left.channels["G"], default.channels["G"])


def test_multiview_sample_logs_the_choice(exr_root: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="dreamplate.io.exr")
    read_exr(exr_root / "MultiView/Fog.exr", view="right")
    assert "view right" in caplog.text


@pytest.mark.parametrize(
    ("rgb_name", "yc_name"),
    [
        ("Chromaticities/Rec709.exr", "Chromaticities/Rec709_YC.exr"),
        ("Chromaticities/XYZ.exr", "Chromaticities/XYZ_YC.exr"),
    ],
)
def test_luminance_chroma_sample_matches_its_rgb_twin(exr_root: Path, rgb_name: str, yc_name: str) -> None:
    rgb = read_exr(exr_root / rgb_name)
    yc = read_exr(exr_root / yc_name)
    assert sorted(yc.channels) == ["B", "G", "R"]
    for channel in "RGB":
        truth, got = rgb.channels[channel], yc.channels[channel]
        # Chroma is stored at quarter resolution, so this is lossy: measured mean ratios within 0.35%
        # and median relative errors of 0.1-3.1% (blue worst); luminance weights wrong by a primary
        # would move the means by far more than the 1% allowed.
        assert abs(got.mean() / truth.mean() - 1) < 0.01, channel
        relative = np.abs(got - truth) / np.maximum(np.abs(truth), 1e-3)
        assert np.median(relative) < 0.05, channel


def test_luminance_only_sample_reads_as_y(exr_root: Path) -> None:
    image = read_exr(exr_root / "LuminanceChroma/Garden.exr")
    assert list(image.channels) == ["Y"]
    assert image.channels["Y"].shape == (493, 874)


def test_all_half_values_survive_a_round_trip(exr_root: Path, tmp_path: Path) -> None:
    source = read_exr(exr_root / "TestImages/AllHalfValues.exr")
    write_exr(tmp_path / "copy.exr", source, compression="piz")
    copy = read_exr(tmp_path / "copy.exr")
    for name, pixels in source.channels.items():
        original = pixels.astype(np.float16).view(np.uint16)
        np.testing.assert_array_equal(copy.channels[name].astype(np.float16).view(np.uint16), original)
    assert (copy.data_window, copy.display_window) == (source.data_window, source.display_window)


def test_sample_attributes_survive_a_round_trip_except_preview(exr_root: Path, tmp_path: Path) -> None:
    source = read_exr(exr_root / "ScanLines/Tree.exr")
    assert "preview" in source.attributes
    write_exr(tmp_path / "tree.exr", source)
    copy = read_exr(tmp_path / "tree.exr").attributes
    assert set(copy) == set(source.attributes) - {"preview"}
    assert copy["chromaticities"] == source.attributes["chromaticities"]
    assert (copy["owner"], copy["whiteLuminance"]) == ("Copyright 2002 Industrial Light & Magic", 621.0)
