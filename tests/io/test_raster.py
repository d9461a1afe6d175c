"""PNG/TIFF/JPEG read and write: channel order, bit depths, rounding, atomic writes, clean errors."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamplate.errors import InputError
from dreamplate.io.raster import RASTER_SUFFIXES, read_raster, write_raster


def _gradient(height: int = 9, width: int = 13, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.random((height, width, channels), dtype=np.float32)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize(("bit_depth", "channels"), [(8, 3), (8, 4), (16, 3), (16, 4)])
def test_lossless_formats_round_trip_to_the_bit_depth(
    tmp_path: Path, suffix: str, bit_depth: int, channels: int
) -> None:
    pixels = _gradient(channels=channels)
    path = tmp_path / f"img{suffix}"
    write_raster(path, pixels, bit_depth)
    image = read_raster(path)
    top = 2**bit_depth - 1
    assert (image.bit_depth, image.pixels.dtype, image.pixels.shape) == (bit_depth, np.float32, pixels.shape)
    assert image.path == path
    # Exactly the rounded code values: half a code step at most.
    np.testing.assert_array_equal(np.rint(image.pixels * top), np.rint(pixels * top))
    assert np.abs(image.pixels - pixels).max() <= 0.5 / top + 1e-7


def test_channel_order_is_rgb_not_bgr(tmp_path: Path) -> None:
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 1.0
    write_raster(tmp_path / "red.png", red, 8)
    on_disk = cv2.imread(str(tmp_path / "red.png"), cv2.IMREAD_UNCHANGED)
    assert on_disk[0, 0].tolist() == [0, 0, 255]  # OpenCV's own order is BGR
    assert read_raster(tmp_path / "red.png").pixels[0, 0].tolist() == [1.0, 0.0, 0.0]


def test_reads_files_written_by_another_tool_in_rgba_order(tmp_path: Path) -> None:
    bgra = np.array([[[10, 20, 30, 40]]], dtype=np.uint16) * 1000
    cv2.imwrite(str(tmp_path / "px.png"), bgra)
    image = read_raster(tmp_path / "px.png")
    assert image.bit_depth == 16
    np.testing.assert_allclose(image.pixels[0, 0] * 65535, [30000, 20000, 10000, 40000])


def test_grey_reads_as_three_equal_channels(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "grey.png"), np.array([[0, 51, 255]], dtype=np.uint8))
    pixels = read_raster(tmp_path / "grey.png").pixels
    assert pixels.shape == (1, 3, 3)
    np.testing.assert_allclose(pixels[0, 1], [0.2, 0.2, 0.2], rtol=1e-6)


def test_write_clips_and_rounds(tmp_path: Path) -> None:
    pixels = np.array([[-0.5, 0.0, 0.5 / 255, 1.49 / 255, 1.0, 7.0, np.nan]], dtype=np.float32)
    write_raster(tmp_path / "clip.png", pixels, 8)
    codes = cv2.imread(str(tmp_path / "clip.png"), cv2.IMREAD_UNCHANGED)
    assert codes.tolist() == [[0, 0, 0, 1, 255, 255, 0]]  # 0.5 rounds half to even


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg_round_trips_approximately(tmp_path: Path, suffix: str) -> None:
    y, x = np.mgrid[0:32, 0:32].astype(np.float32) / 31
    smooth = np.stack([x, y, (x + y) / 2], axis=2)
    write_raster(tmp_path / f"s{suffix}", smooth, 8)
    image = read_raster(tmp_path / f"s{suffix}")
    assert image.bit_depth == 8
    assert np.abs(image.pixels - smooth).mean() < 0.01


def test_jpeg_refuses_16_bit_and_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="JPEG holds 8 bits"):
        write_raster(tmp_path / "x.jpg", _gradient(), 16)
    with pytest.raises(ValueError, match=r"suffix must be one of \.png"):
        write_raster(tmp_path / "x.bmp", _gradient(), 8)
    with pytest.raises(ValueError, match="bit_depth must be 8 or 16, got 12"):
        write_raster(tmp_path / "x.png", _gradient(), 12)
    with pytest.raises(ValueError, match=r"got shape \(9, 13, 2\)"):
        write_raster(tmp_path / "x.png", _gradient(channels=2), 8)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_and_cleans_up_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    write_raster(target, np.zeros((2, 2, 3), np.float32), 8)

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(InputError, match=r"out\.png: cannot write: No space left"):
        write_raster(target, np.ones((2, 2, 3), np.float32), 8)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert read_raster(target).pixels.max() == 0.0


def test_write_into_missing_folder_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"gone/out\.png: output folder .* does not exist"):
        write_raster(tmp_path / "gone" / "out.png", _gradient(), 8)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00"])
def test_unreadable_file_raises_input_error_quietly(
    tmp_path: Path, capfd: pytest.CaptureFixture, content: bytes
) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"bad\.png: (empty file|not a readable PNG, TIFF or JPEG image)"):
        read_raster(path)
    assert capfd.readouterr() == ("", "")


def test_missing_file_and_float_tiff_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nothing\.png: no such file$"):
        read_raster(tmp_path / "nothing.png")
    cv2.imwrite(str(tmp_path / "float.tif"), np.zeros((2, 2, 3), np.float32))
    with pytest.raises(InputError, match=r"float\.tif: float32 samples are not supported"):
        read_raster(tmp_path / "float.tif")


def test_suffixes_are_lower_case_with_dot() -> None:
    assert RASTER_SUFFIXES == (".png", ".tif", ".tiff", ".jpg", ".jpeg")
