"""Output paths and the output check made before any work: never over an input, always a writable folder."""

from pathlib import Path

import pytest

from dreamplate.errors import InputError
from dreamplate.ops.plate.outputs import check_only_frames, check_outputs, output_paths


def test_a_pattern_names_one_file_per_frame(tmp_path: Path) -> None:
    label, paths = output_paths(str(tmp_path / "out.####.exr"), [1001, 1002])
    assert label == str(tmp_path / "out.####.exr")
    assert paths == {1001: tmp_path / "out.1001.exr", 1002: tmp_path / "out.1002.exr"}


def test_a_plain_name_serves_one_frame_only_where_the_op_allows_it(tmp_path: Path) -> None:
    name = str(tmp_path / "mid.exr")
    assert output_paths(name, [0], single_file=True) == (name, {0: Path(name)})
    with pytest.raises(InputError, match=r"mid\.exr: give an output pattern such as out\.####\.exr"):
        output_paths(name, [0, 1], single_file=True)
    with pytest.raises(InputError, match=r"mid\.exr: give an output pattern"):
        output_paths(name, [0])


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    plate = tmp_path / "plate.0001.exr"
    plate.write_bytes(b"")
    with pytest.raises(InputError, match=r"plate\.0001\.exr: output frame 1 would overwrite an input"):
        check_outputs({1: tmp_path / "." / "plate.0001.exr"}, [plate])


def test_output_folders_are_made_and_an_unwritable_one_is_refused(tmp_path: Path) -> None:
    check_outputs({1: tmp_path / "new" / "deep" / "o.0001.exr"}, [])
    assert (tmp_path / "new" / "deep").is_dir() and not list((tmp_path / "new" / "deep").iterdir())
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InputError, match="output folder is not writable"):
        check_outputs({1: tmp_path / "file" / "o.0001.exr"}, [])


def test_a_chunk_naming_frames_the_run_does_not_make_is_refused() -> None:
    check_only_frames("o.####.exr", [1, 2, 3], None)
    check_only_frames("o.####.exr", [1, 2, 3], [2, 3])
    with pytest.raises(InputError, match=r"o\.####\.exr: frames \[6, 7\] are not among this run's output frames"):
        check_only_frames("o.####.exr", [1, 2, 3], [3, 6, 7])
