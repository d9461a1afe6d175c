"""Generative keyframes on tiny random models: exact keys at arbitrary frames, each family, resume, limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plates import half_bits, write_plate

from dreamplate.errors import ModelError
from dreamplate.gen.keyframes import run_keyframes
from dreamplate.gen.spec import KeyframesSpec
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance

SIZE = (48, 32)
FAST = {"prompt": "slow camera move", "steps": 2, "device": "cpu"}


def _keys(tmp_path: Path, frames: list[int]) -> dict[int, str]:
    """Distinct demo frames written as separate key files, keyed by the given frame numbers."""
    write_plate(tmp_path / "keys", range(1, len(frames) + 1), SIZE)
    return {f: str(tmp_path / "keys" / f"plate.{i:04d}.exr") for i, f in enumerate(frames, start=1)}


def _assert_passes_through_keys(keys: dict[int, str], out: Path) -> None:
    for frame, key in keys.items():
        src, dst = read_exr(Path(key)), read_exr(out / f"o.{frame:04d}.exr")
        assert set(src.channels) == set(dst.channels)
        for name in src.channels:
            np.testing.assert_array_equal(half_bits(src.channels[name]), half_bits(dst.channels[name]))


def test_vace_passes_exactly_through_three_keys_at_arbitrary_frames(tmp_path: Path, tiny_wan_vace: Path) -> None:
    keys = _keys(tmp_path, [1001, 1004, 1009])
    spec = KeyframesSpec(keys=keys, output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_wan_vace), **FAST)
    result = run_keyframes(spec)
    assert [p.name for p in result.written] == [f"o.{f}.exr" for f in range(1001, 1010)]
    _assert_passes_through_keys(keys, tmp_path / "out")
    mid = read_exr(tmp_path / "out" / "o.1006.exr")
    assert set(mid.channels) == {"R", "G", "B", "A"} and set(mid.pixel_types.values()) == {"half"}
    prov = Provenance.from_attributes(mid.attributes)
    assert prov.method == "keyframes WanVACEPipeline" and prov.source_frames == [1001.0, 1004.0, 1009.0]
    assert prov.parameters["keys"] == {str(f): p for f, p in keys.items()}


def test_ltx_keys_on_a_frame_count_it_cannot_take_are_padded(tmp_path: Path, tiny_ltx: Path) -> None:
    keys = _keys(tmp_path, [1, 3, 7])  # 7 frames: LTX tiny takes 4k+1, so 9 are generated and 2 dropped
    spec = KeyframesSpec(keys=keys, output=str(tmp_path / "out" / "o.####.exr"), model=str(tiny_ltx), **FAST)
    result = run_keyframes(spec)
    assert len(result.written) == 7
    _assert_passes_through_keys(keys, tmp_path / "out")
    prov = Provenance.from_attributes(read_exr(tmp_path / "out" / "o.0002.exr").attributes)
    assert prov.parameters["generated_frames"] == 9


def test_wan_flf2v_takes_two_keys_and_resumes(tmp_path: Path, tiny_wan_i2v: Path) -> None:
    keys = _keys(tmp_path, [10, 14])
    spec = KeyframesSpec(keys=keys, output=str(tmp_path / "o.####.exr"), model=str(tiny_wan_i2v), **FAST)
    run_keyframes(spec)
    _assert_passes_through_keys(keys, tmp_path)
    (tmp_path / "o.0012.exr").unlink()
    again = run_keyframes(spec)
    assert [p.name for p in again.written] == ["o.0012.exr"] and len(again.skipped) == 4
    with pytest.raises(ModelError, match=r"cannot do keyframes \(more than two keys\)"):
        run_keyframes(spec.model_copy(update={"keys": _keys(tmp_path / "3", [10, 12, 14])}))
    with pytest.raises(ModelError, match="must be k\\*4\\+1 frames; 6 is not"):
        run_keyframes(spec.model_copy(update={"keys": _keys(tmp_path / "6", [10, 15])}))


def test_one_key_is_refused_before_anything_runs() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="two or more keyframes, got 1"):
        KeyframesSpec(keys={1: "a.exr"}, output="o.####.exr", prompt="x", model="m")
