"""The `flow` in-between method: exactness, synthetic motion, large motion, nearest channels, real data."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamplate.interp.flow import estimate_flow, interpolate_frame


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A random HDR texture with detail at every scale (as real surfaces have), float32 H x W x 3.

    Octaves of blurred noise up to 32 px, so the coarse levels of a flow pyramid still see structure;
    exponentiated to span about 0.01 to 100 scene-linear.
    """
    rng = np.random.default_rng(seed)
    total = np.zeros((h, w, 3), np.float32)
    for sigma in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
        octave = cv2.GaussianBlur(rng.standard_normal((h, w, 3)).astype(np.float32), (0, 0), sigma)
        total += octave / octave.std()
    return np.exp2(total / total.std() * 3.0).astype(np.float32)


def _encode(linear: np.ndarray) -> np.ndarray:
    """A log encoding standing in for the lead's motion signal: 2^-8 .. 2^8 onto [0, 1]."""
    return ((np.log2(np.maximum(linear, 2.0**-8)) + 8.0) / 16.0).astype(np.float32)


def _scene(h: int, w: int, x: int, size: int) -> np.ndarray:
    """A dim, low-contrast static background with a bright textured square whose left edge is at x."""
    frame = np.exp2(np.log2(_texture(h, w, seed=1)) * 0.3) * 0.1
    top = (h - size) // 2
    frame[top : top + size, x : x + size] = _texture(size, size, seed=2) * 16.0
    return frame.astype(np.float32)


def _psnr_log(out: np.ndarray, ref: np.ndarray) -> float:
    """PSNR of the log encoding, so HDR errors count relative to the value (as a viewer sees them)."""
    mse = float(np.mean((_encode(out) - _encode(ref)) ** 2))
    return 10.0 * np.log10(1.0 / mse)


def _interpolate(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return interpolate_frame(estimate_flow(_encode(a), _encode(b), threads=2), a, b, t)


def test_identical_hdr_frames_come_back_within_two_half_ulps() -> None:
    frame = _texture(64, 96, seed=3)
    frame[10, 10] = 65504.0
    frame[20, 30] = 1000.0
    frame[30, 40] = 64.0
    frame[5, 5] = -0.01
    out = _interpolate(frame, frame.copy(), 0.5).astype(np.float16)
    ulps = np.abs(
        out.view(np.int16).astype(np.int32) - frame.astype(np.float16).view(np.int16).astype(np.int32)
    )
    assert ulps.max() <= 2


def test_static_region_stays_exact_while_an_object_moves() -> None:
    a, b = _scene(96, 160, 30, 32), _scene(96, 160, 42, 32)
    out = _interpolate(a, b, 0.5)
    top = (96 - 32) // 2
    # Rows well clear of the square's path are untouched by the motion.
    assert np.array_equal(out[: top - 8], a[: top - 8])
    assert np.array_equal(out[top + 40 :], a[top + 40 :])


def _check_translation(h: int, w: int, x: int, shift: int, size: int, t: float) -> None:
    """A square moving `shift` px: the flow finds it, its body lands exactly, the frame is close overall.

    The whole-frame bar is lower because the strips the square uncovers are blended from both frames
    (ghosting); the body must come back near-exact (above 40 dB in log terms).
    """
    a, b = _scene(h, w, x, size), _scene(h, w, x + shift, size)
    flow = estimate_flow(_encode(a), _encode(b), threads=2)
    out = interpolate_frame(flow, a, b, t)
    top, at_t = (h - size) // 2, x + round(shift * t)
    truth = _scene(h, w, at_t, size)
    body = (slice(top + 4, top + size - 4), slice(at_t + 4, at_t + size - 4))
    assert np.abs(flow.forward[top + size // 2, x + size // 2] - [shift, 0]).max() < 0.5
    assert np.isfinite(out).all()
    assert _psnr_log(out[body], truth[body]) > 40.0
    assert _psnr_log(out, truth) > 25.0


@pytest.mark.parametrize("t", [0.5, 0.25])
def test_translated_square_recovers_the_frame_at_t(t: float) -> None:
    _check_translation(96, 160, 40, 16, 32, t)


def test_large_motion_of_a_quarter_frame_width() -> None:
    _check_translation(240, 480, 60, 120, 160, 0.5)


def test_2k_translation_of_250_pixels() -> None:
    _check_translation(1080, 2048, 300, 250, 600, 0.5)


def test_hdr_highlights_pass_through_unclipped() -> None:
    a, b = _scene(96, 160, 40, 32), _scene(96, 160, 48, 32)
    a[40:44, 50:54] = 1000.0
    b[40:44, 58:62] = 1000.0
    out = _interpolate(a, b, 0.5)
    assert out.max() >= 999.0


def test_nearest_channels_only_hold_input_values() -> None:
    a, b = _scene(96, 160, 40, 32), _scene(96, 160, 52, 32)
    ids_a = np.where(a[..., 0] == _texture(96, 160, seed=1)[..., 0], 1.0, 7.0).astype(np.float32)
    ids_b = np.where(b[..., 0] == _texture(96, 160, seed=1)[..., 0], 1.0, 7.0).astype(np.float32)
    pa = np.dstack([a, ids_a, ids_a * 0.5])
    pb = np.dstack([b, ids_b, ids_b * 0.5])
    flow = estimate_flow(_encode(a), _encode(b))
    for t in (0.25, 0.5, 0.75):
        out = interpolate_frame(flow, pa, pb, t, nearest=[False, False, False, True, True])
        assert set(np.unique(out[..., 3])) <= {1.0, 7.0}
        assert set(np.unique(out[..., 4])) <= {0.5, 3.5}
        assert np.isfinite(out).all()


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _psnr8(out: np.ndarray, ref: np.ndarray) -> float:
    diff = np.rint(np.clip(out, 0, 1) * 255) - np.rint(ref * 255)
    return 10.0 * np.log10(255.0**2 / float(np.mean(diff**2)))


def _plain_dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The issue's baseline: DIS medium both ways, backward-warp each frame half way, average."""
    gray_a, gray_b = (cv2.cvtColor(np.rint(x * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY) for x in (a, b))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward, backward = dis.calc(gray_a, gray_b, None), dis.calc(gray_b, gray_a, None)
    gx, gy = np.meshgrid(np.arange(a.shape[1], dtype=np.float32), np.arange(a.shape[0], dtype=np.float32))
    warp_a = cv2.remap(a, gx + 0.5 * backward[..., 0], gy + 0.5 * backward[..., 1], cv2.INTER_LINEAR)
    warp_b = cv2.remap(b, gx + 0.5 * forward[..., 0], gy + 0.5 * forward[..., 1], cv2.INTER_LINEAR)
    return 0.5 * warp_a + 0.5 * warp_b


def test_real_pair_beats_plain_dis(shared_data: Path) -> None:
    root = shared_data / "interp" / "middlebury_others"
    a = _read(root / "input" / "Urban3" / "frame10.png")
    b = _read(root / "input" / "Urban3" / "frame11.png")
    gt = _read(root / "gt" / "Urban3" / "frame10i11.png")
    ours = interpolate_frame(estimate_flow(a, b, threads=2), a, b, 0.5)
    assert _psnr8(ours, gt) > _psnr8(_plain_dis(a, b), gt) + 0.3
