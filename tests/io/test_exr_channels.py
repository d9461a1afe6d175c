"""Decoded channels: luminance/chroma to RGB with the file's primaries, linear upsampling of subsampled channels."""

from pathlib import Path

import numpy as np

from dreamplate.io.exr import ExrImage, read_exr, write_exr
from dreamplate.io.exr_channels import luminance_weights, upsample


def _image(channels: dict[str, np.ndarray]) -> ExrImage:
    height, width = next(iter(channels.values())).shape
    window = (0, 0, width - 1, height - 1)
    return ExrImage(channels, dict.fromkeys(channels, "half"), window, window)


def test_luminance_chroma_converts_to_rgb(tmp_path: Path) -> None:
    # The binding cannot write subsampled channels, so Y/RY/BY go in at full resolution here;
    # the subsampled samples (Chromaticities/*_YC.exr) are checked in test_exr_samples.py.
    rng = np.random.default_rng(5)
    red, green, blue = (rng.uniform(0.05, 4.0, (6, 8)).astype(np.float32) for _ in range(3))
    yw = luminance_weights((0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290))
    np.testing.assert_allclose(yw, [0.2126, 0.7152, 0.0722], atol=1e-4)
    luminance = yw[0] * red + yw[1] * green + yw[2] * blue
    channels = {
        "Y": luminance,
        "RY": (red - luminance) / luminance,
        "BY": (blue - luminance) / luminance,
        "A": np.ones_like(red),
    }
    write_exr(tmp_path / "yc.exr", _image(channels), pixel_type="float")
    back = read_exr(tmp_path / "yc.exr")
    assert sorted(back.channels) == ["A", "B", "G", "R"]
    assert back.pixel_types["G"] == "float"
    for name, truth in (("R", red), ("G", green), ("B", blue)):
        np.testing.assert_allclose(back.channels[name], truth, rtol=1e-5)


def test_xyz_chromaticities_weigh_luminance_by_y_alone() -> None:
    xyz = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1 / 3, 1 / 3)
    np.testing.assert_allclose(luminance_weights(xyz), [0.0, 1.0, 0.0], atol=1e-12)


def test_subsampled_channel_upsamples_linearly() -> None:
    # Samples sit on even pixels; odd pixels take the mean of their neighbours, the last one repeats.
    samples = np.array([[0.0, 2.0, 4.0], [10.0, 12.0, 14.0]], dtype=np.float32)
    full = upsample(samples, 2, 2, width=6, height=4)
    np.testing.assert_array_equal(
        full,
        [
            [0, 1, 2, 3, 4, 4],
            [5, 6, 7, 8, 9, 9],
            [10, 11, 12, 13, 14, 14],
            [10, 11, 12, 13, 14, 14],
        ],
    )
