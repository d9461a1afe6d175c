"""Keyframe shots longer than one model window: the chain plan, the conditioning per family, exact keys, resume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plates import half_bits, write_plate

from dreamplate.errors import JobError
from dreamplate.gen.keyframes import run_keyframes
from dreamplate.gen.spec import KeyframesSpec
from dreamplate.gen.stream import condition_inputs
from dreamplate.gen.windows import Window, plan_chain, plan_windows
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "a slow orbit", "steps": 2, "device": "cpu"}


def test_chain_windows_share_the_keys_they_end_on() -> None:
    # Keys at 0, 6, 14, 24 of a 25-frame shot, 9-frame windows (4k+1): each window ends on the furthest key it
    # reaches and the next one starts on it; a window ending short of a valid length is padded past the key.
    windows = plan_chain(25, 9, 2, 4, stops=[6, 14, 24])
    assert windows == [Window(0, 0, 9, 2), Window(1, 6, 9), Window(2, 14, 9), Window(3, 21, 5, 1)]
    assert [(w.start, w.stop) for w in windows] == [(0, 7), (6, 15), (14, 23), (21, 25)]  # 14 -> 24: too far
    assert all((w.length - 1) % 4 == 0 and w.length <= 9 for w in windows)
    assert [w.index for w in windows] == [0, 1, 2, 3]


def test_chain_continues_from_context_frames_between_distant_keys() -> None:
    windows = plan_chain(30, 9, 2, 4, stops=[29])
    assert [(w.start, w.stop) for w in windows] == [(0, 9), (7, 16), (14, 23), (21, 30)]
    assert windows[-1].padded == 0
    assert plan_chain(7, 9, 2, 4) == plan_windows(7, 9, 2, 4)  # one window: as a plain run makes it
    with pytest.raises(JobError, match=r"context must be in \[1, 8\]"):
        plan_chain(30, 9, 9, 4)


def test_condition_inputs_place_frames_for_each_family() -> None:
    frames = {0: np.full((16, 16, 3), 0.25, np.float32), 8: np.full((16, 16, 3), 0.75, np.float32)}
    vace = condition_inputs("keyframes", "wan", 9, frames, (16, 16))
    masks = [np.asarray(m) for m in vace["mask"]]
    assert [int(m.max()) for m in masks] == [0, 255, 255, 255, 255, 255, 255, 255, 0]
    assert np.asarray(vace["video"][8])[0, 0].tolist() == [191, 191, 191]
    moving = np.zeros((16, 16), np.float32)
    moving[:, :8] = 1.0
    held = condition_inputs("keyframes", "wan", 9, {0: frames[0]}, (16, 16), frames[8], moving)
    assert np.asarray(held["mask"][4])[:, :8].min() == 255 and np.asarray(held["mask"][4])[:, 8:].max() == 0
    assert np.asarray(held["video"][4])[0, 0].tolist() == [191, 191, 191]  # what may not move shows the held frame
    ltx = condition_inputs("keyframes", "ltx", 9, {0: frames[0], 1: frames[0], 5: frames[8]}, (16, 16))
    lead, key = ltx["conditions"]
    assert (lead.frame_index, len(lead.video), lead.image) == (0, 2, None) and key.frame_index == 5
    i2v = condition_inputs("flf2v", "wan", 9, frames, (16, 16))
    assert set(i2v) == {"image", "last_image"}
    with pytest.raises(JobError, match="first frame and a last frame only"):
        condition_inputs("flf2v", "wan", 9, {0: frames[0], 4: frames[8]}, (16, 16))


@pytest.mark.parametrize("family", ["vace", "ltx"])
def test_three_window_keyframe_shot_is_exact_at_every_key(
    tmp_path: Path, family: str, tiny_wan_vace: Path, tiny_ltx: Path
) -> None:
    model = tiny_wan_vace if family == "vace" else tiny_ltx
    write_plate(tmp_path / "keys", range(1, 5), SIZE)
    keys = {1001: 1, 1009: 2, 1017: 3, 1025: 4}
    keys = {f: str(tmp_path / "keys" / f"plate.{i:04d}.exr") for f, i in keys.items()}
    spec = KeyframesSpec(keys=keys, output=str(tmp_path / "out" / "o.####.exr"), model=str(model), **FAST)
    result = run_keyframes(spec)
    assert sorted(p.name for p in result.written) == [f"o.{f}.exr" for f in range(1001, 1026)]
    for frame, key in keys.items():
        src, dst = read_exr(Path(key)), read_exr(tmp_path / "out" / f"o.{frame}.exr")
        for name in src.channels:
            np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(dst.channels[name]))
        assert Provenance.from_attributes(dst.attributes).method == "key"
    windows = {
        Provenance.from_attributes(read_exr(tmp_path / "out" / f"o.{f}.exr").attributes).parameters["window_index"]
        for f in range(1001, 1026)
        if f not in keys
    }
    assert windows == {0, 1, 2}  # 25 frames in three 9-frame windows that share keys 1009 and 1017
    # Frame 1012 lies in the window from key 1009 to key 1017: conditioned on exactly those two.
    prov = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.1012.exr").attributes)
    assert prov.source_frames == [1009.0, 1017.0] and prov.parameters["window_index"] == 1
    (tmp_path / "out" / "o.1020.exr").unlink()
    again = run_keyframes(spec)
    assert [p.name for p in again.written] == ["o.1020.exr"] and len(again.skipped) == 24
