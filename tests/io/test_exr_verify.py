"""verify_exr: the structural pass over offset tables and chunk leaders, and the deep decode, on real and made files."""

import struct
from pathlib import Path

import numpy as np
import pytest

from dreamplate.errors import InputError
from dreamplate.io.exr import ExrImage, read_exr, read_info, verify_exr, write_exr


def _assert_one_line(message: str, path: Path) -> None:
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    assert len(message) < len(str(path)) + 300


def test_corpus_is_complete(exr_corpus: tuple[list[str], list[str]]) -> None:
    damaged, good = exr_corpus
    assert len(damaged) == 185 + 2  # Damaged/ plus compression-variants/invalid.exr and tiled.exr
    assert len(good) == 65


def test_damaged_file_fails_as_info_reads_it(exr_root: Path, damaged_exr: str, capfd: pytest.CaptureFixture) -> None:
    path = exr_root / damaged_exr
    with pytest.raises(InputError) as caught:
        infos = read_info(path)
        verify_exr(path)
        for info in infos:
            if not info.storage.startswith("deep"):
                read_exr(path, part=info.index)
    _assert_one_line(str(caught.value), path)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        # The library spends 3.6 s and 1.5 GB on this one before giving up on part 0.
        (
            "signal_sigsegv_7ffff7b21e8a_389_bf048bf41ca71b4e00d2b0edd0a39e27_exr",
            "part 0 declares 814 chunks but its header implies 23",
        ),
        # Level 0 decodes cleanly; the damage sits in a chunk of ripmap level (3, 5).
        (
            "imf_test_deep_tile_file_fuzz_broken_exr",
            "chunk 173 at offset .*: packed sample data of 549 bytes does not match 672 unpacked",
        ),
    ],
)
def test_damaged_deep_files_are_caught_by_the_structural_pass(exr_root: Path, name: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        verify_exr(exr_root / "Damaged" / name)


def test_good_sample_verifies(exr_root: Path, good_exr: str, capfd: pytest.CaptureFixture) -> None:
    verify_exr(exr_root / good_exr)
    assert capfd.readouterr() == ("", "")


def _written(tmp_path: Path) -> Path:
    """A 64x40 ZIP file from write_exr: 3 chunks of 16 lines."""
    rng = np.random.default_rng(7)
    image = ExrImage(
        channels={c: rng.random((40, 64), dtype=np.float32) for c in "RGB"},
        pixel_types={},
        data_window=(0, 0, 63, 39),
        display_window=(0, 0, 63, 39),
    )
    path = tmp_path / "frame.exr"
    write_exr(path, image, compression="zip")
    verify_exr(path)
    return path


def _offsets(path: Path, count: int) -> tuple[int, list[int]]:
    """Where the offset table starts, and its entries: it ends where the first chunk begins."""
    data = path.read_bytes()
    for start in range(8, len(data) - 8 * count):
        entries = list(struct.unpack_from(f"<{count}Q", data, start))
        if entries[0] == start + 8 * count and entries == sorted(entries):
            return start, entries
    raise AssertionError("no offset table found")


def test_truncated_file_fails(tmp_path: Path) -> None:
    path = _written(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    with pytest.raises(InputError, match=r"part 0 chunk 2 .*: data runs 100 bytes past the end of the file$") as caught:
        verify_exr(path)
    _assert_one_line(str(caught.value), path)
    with pytest.raises(InputError, match="past the end of the file"):
        read_exr(path)


def test_file_cut_inside_its_offset_table_fails(tmp_path: Path) -> None:
    path = _written(tmp_path)
    start, _ = _offsets(path, 3)
    path.write_bytes(path.read_bytes()[: start + 12])
    with pytest.raises(InputError, match=r": truncated: part 0 offset table of 3 chunks$"):
        verify_exr(path)


def test_offset_table_entry_past_the_end_fails(tmp_path: Path) -> None:
    path = _written(tmp_path)
    start, _ = _offsets(path, 3)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, start + 8, len(data) + 1000)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"part 0 chunk 1 offset \d+ is outside the chunk area") as caught:
        verify_exr(path)
    _assert_one_line(str(caught.value), path)


def test_offset_table_entry_pointing_at_another_chunk_fails(tmp_path: Path) -> None:
    path = _written(tmp_path)
    start, entries = _offsets(path, 3)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, start + 16, entries[1])
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="two chunks hold the same scanlines"):
        verify_exr(path)


def test_chunk_leader_with_a_wrong_scanline_fails(tmp_path: Path) -> None:
    path = _written(tmp_path)
    _, entries = _offsets(path, 3)
    data = bytearray(path.read_bytes())
    struct.pack_into("<i", data, entries[1], 17)
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"chunk 1 at offset \d+: scanline 17 is not a chunk start in 0..39$"):
        verify_exr(path)
