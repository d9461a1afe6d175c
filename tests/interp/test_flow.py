"""The `flow` in-between method: exactness, synthetic motion, large motion, occlusion, nearest channels, real data."""

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from dreamplate.interp.flow import estimate_flow, interpolate_frame


def _texture(h: int, w: int, seed: int) -> np.ndarray:
    """A random HDR texture with detail at every scale (as real surfaces have), float32 H x W x 3.

    Octaves of blurred noise up to 32 px, so the coarse levels of a flow pyramid still see structure;
    exponentiated to span about 0.01 to 100 scene-linear. A fresh copy: callers may write into it.
    """
    return _cached_texture(h, w, seed).copy()


@lru_cache(maxsize=8)
def _cached_texture(h: int, w: int, seed: int) -> np.ndarray:
    """The texture itself, built once per size and seed: the 2k case costs seconds per build."""
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
    ulps = np.abs(out.view(np.int16).astype(np.int32) - frame.astype(np.float16).view(np.int16).astype(np.int32))
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

    The whole-frame bar is lower because the strips the square covers and uncovers are seen by one frame
    only; the body must come back near-exact (above 40 dB in log terms).
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


def _noise(h: int, w: int, seed: int, cells: tuple[int, ...]) -> np.ndarray:
    """Fixed-seed multi-octave value noise, float32 H x W, zero mean and unit deviation.

    Each octave is a grid of random values every `cell` pixels resized up with cv2 (bicubic): no period
    for a flow estimator to lock onto at the wrong shift. Finer octaves are weaker, as on real surfaces.
    """
    rng = np.random.default_rng(seed)
    total = np.zeros((h, w), np.float32)
    for cell in cells:
        grid = rng.standard_normal((h // cell + 2, w // cell + 2)).astype(np.float32)
        octave = cv2.resize(grid, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)
        total += octave[cell : cell + h, cell : cell + w] * (cell / max(cells)) ** 0.25
    return (total - total.mean()) / total.std()


def _log_range(noise: np.ndarray, low: float, high: float) -> np.ndarray:
    """Map noise onto [low, high] scene-linear evenly in stops, clipping its tails."""
    return low * (high / low) ** ((np.clip(noise / 2.5, -1.0, 1.0) + 1.0) / 2.0)


OCCLUSION_SIZE = (160, 256)
DISC_RADIUS = 30


def _occlusion_scene(centre_x: int, pan: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured 61 px disc at `centre_x` over a textured ground panned by `pan` px: (frame, disc mask).

    HDR as a plate is: ground 0.05-0.5, disc 0.1-2.0 with two highlights at 50, both with detail down to
    2 px and similar contrast in stops, so a ghost of either over the other is plain to a PSNR.
    """
    h, w = OCCLUSION_SIZE
    ground = _log_range(_noise(h, w + 64, seed=5, cells=(2, 4, 8, 16, 32, 64)), 0.05, 0.5)[:, pan : pan + w]
    frame = ground[..., None] * np.float32([1.0, 0.9, 0.8])
    size = 2 * DISC_RADIUS + 1
    skin = _log_range(_noise(size + 32, size + 32, seed=6, cells=(2, 4, 8, 16)), 0.1, 2.0)[16:-16, 16:-16]
    disc = skin[..., None] * np.float32([0.8, 1.0, 1.1])
    disc[DISC_RADIUS - 10, DISC_RADIUS + 5] = 50.0
    disc[DISC_RADIUS + 12, DISC_RADIUS - 8] = 50.0
    yy, xx = np.mgrid[-DISC_RADIUS : DISC_RADIUS + 1, -DISC_RADIUS : DISC_RADIUS + 1]
    inside = xx**2 + yy**2 <= DISC_RADIUS**2
    top, left = h // 2 - DISC_RADIUS, centre_x - DISC_RADIUS
    frame[top : top + size, left : left + size][inside] = disc[inside]
    mask = np.zeros((h, w), bool)
    mask[top : top + size, left : left + size] = inside
    return frame.astype(np.float32), mask


def _motion_signal(linear: np.ndarray) -> np.ndarray:
    """The lead's motion signal: log2 at 0.08 per stop, linear 16 -> 1.0 (0.18 -> 0.48), clipped to [0, 1]."""
    return np.clip(1.0 + (np.log2(np.maximum(linear, 2.0**-12)) - 4.0) * 0.08, 0.0, 1.0).astype(np.float32)


@pytest.mark.parametrize(("shift", "pan", "t"), [(24, 0, 0.5), (30, 2, 0.5), (-20, 0, 0.5), (24, 4, 0.25)])
def test_occlusion_leaves_no_ghost(shift: int, pan: int, t: float) -> None:
    """Ground covered or uncovered by a moving disc comes from the one frame that sees it, not a 50/50 mix.

    Measured in the log encoding (`_psnr_log`) over the pixels the disc holds in A or B but not at t.
    Before occlusion handling: 28.1-29.4 dB there, 30-48% of those pixels off by more than half a stop
    (the ghost), 40.6-44.2 dB over the whole frame; after: 32.0-36.2 dB, 9-14% (mostly the disc's own
    1 px edge) and 45.7-48.0 dB.
    """
    x = 90
    a, in_a = _occlusion_scene(x, 0)
    b, in_b = _occlusion_scene(x + shift, pan)
    truth, in_t = _occlusion_scene(x + round(shift * t), round(pan * t))
    out = interpolate_frame(estimate_flow(_motion_signal(a), _motion_signal(b), threads=2), a, b, t)
    region = (in_a | in_b) & ~in_t
    stops = np.abs(np.log2(np.maximum(out, 2.0**-8)) - np.log2(np.maximum(truth, 2.0**-8))).max(axis=2)
    assert _psnr_log(out[region], truth[region]) > 31.0
    assert (stops[region] > 0.5).mean() < 0.2
    assert _psnr_log(out, truth) > 45.0


@pytest.mark.parametrize("t", [0.25, 0.5, 0.75])
def test_nearest_channels_follow_the_side_that_sees_the_pixel(t: float) -> None:
    """An ID channel over covered and uncovered ground holds the ground's ID, whichever frame is nearer.

    A guard rather than a regression test: the old rule (A up to t = 0.5) also passed here, the smeared
    motion it used happening to sample ground.
    """
    a, in_a = _occlusion_scene(90, 0)
    b, in_b = _occlusion_scene(114, 0)
    _, in_t = _occlusion_scene(90 + round(24 * t), 0)
    ids = [np.where(m, 7.0, 1.0).astype(np.float32)[..., None] for m in (in_a, in_b)]
    flow = estimate_flow(_motion_signal(a), _motion_signal(b), threads=2)
    out = interpolate_frame(flow, np.dstack([a, ids[0]]), np.dstack([b, ids[1]]), t, nearest=[False] * 3 + [True])
    region = (in_a | in_b) & ~in_t
    assert (out[..., 3][region] == 1.0).mean() > 0.97
    assert (out[..., 3] == np.where(in_t, 7.0, 1.0)).mean() > 0.995


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


def test_every_half_value_of_identical_frames_comes_back_bit_exact() -> None:
    # All 63488 finite halves, -0.0 and denormals included (a blend would turn -0.0 into +0.0).
    halves = np.arange(65536, dtype=np.uint16).view(np.float16)
    finite = halves[np.isfinite(halves)].astype(np.float32)
    frame = np.resize(finite, 128 * 496).reshape(128, 496, 1).repeat(3, axis=2)
    out = _interpolate(frame, frame.copy(), 0.5)
    np.testing.assert_array_equal(out.astype(np.float16).view(np.uint16), frame.astype(np.float16).view(np.uint16))


@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (11, 200)])
def test_frames_smaller_than_the_estimator_needs_still_interpolate(shape: tuple[int, int]) -> None:
    # DIS refuses frames under 12 px on both sides; thumbnails and test patches must still work.
    rng = np.random.default_rng(11)
    a = rng.random((*shape, 3)).astype(np.float32) * 4.0
    b = np.roll(a, 1, axis=1)
    out = _interpolate(a, b, 0.5)
    assert out.shape == a.shape and np.isfinite(out).all()
    np.testing.assert_array_equal(_interpolate(a, a.copy(), 0.5), a)


def test_flat_bright_square_moves_instead_of_cross_fading() -> None:
    # Issue 19: DIS found the square's motion forward but not backward, the flows disagreed and the in-between was
    # two half-bright squares (peak 25.1). Through the retimer's motion signal, as `--method flow` runs it.
    from dreamplate.interp.retime import linear_motion_signal

    def frame(x: int) -> np.ndarray:
        pixels = np.full((98, 130, 3), 0.18, np.float32)
        pixels[41:57, x : x + 16] = 50.0
        return pixels

    a, b = frame(40), frame(64)
    signals = [linear_motion_signal(p) for p in (a, b)]
    out = interpolate_frame(estimate_flow(*signals, threads=2), a, b, 0.5)[..., 0]
    assert out.max() > 37.5, f"the square must move whole, not cross-fade (peak {out.max():.1f})"
    rows, cols = np.nonzero(out > 25.0)
    assert abs(rows.mean() - 48.5) <= 2.0 and abs(cols.mean() - 59.5) <= 2.0, (rows.mean(), cols.mean())


def test_large_frames_run_the_two_directions_in_turn_with_the_same_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    # Side by side, each DIS direction held its own buffers at once: 4.1 GB at 4K against 2.4 GB in turn, in the
    # same time. Past SIDE_BY_SIDE_MAX_PIXELS the directions run one after the other, and the flow is unchanged.
    from dreamplate.interp import flow

    a, b = _encode(_scene(96, 160, 40, 24)), _encode(_scene(96, 160, 52, 24))
    side_by_side = estimate_flow(a, b, threads=2)

    def no_pool(*args: object, **kwargs: object) -> None:
        raise AssertionError("the directions must run in turn")

    monkeypatch.setattr(flow, "SIDE_BY_SIDE_MAX_PIXELS", 96 * 160 - 1)
    monkeypatch.setattr(flow, "ThreadPoolExecutor", no_pool)
    in_turn = estimate_flow(a, b, threads=2)
    np.testing.assert_array_equal(in_turn.forward, side_by_side.forward)
    np.testing.assert_array_equal(in_turn.backward, side_by_side.backward)
