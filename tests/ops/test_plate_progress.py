"""Progress and cancel over a run's output frames: counted, reported after each, a cancel naming how far it got."""

import pytest

from dreamplate.errors import Cancelled
from dreamplate.ops.plate.progress import FrameProgress


def test_each_finished_frame_is_counted_and_reported() -> None:
    seen: list[tuple[int, int, str]] = []
    progress = FrameProgress.of("relight", 3, {"progress": lambda *call: seen.append(call)})
    progress.report("window 1/2: step 1/4")
    progress.frame_done("wrote a.exr")
    progress.frame_done("wrote b.exr")
    assert seen == [(0, 3, "window 1/2: step 1/4"), (1, 3, "wrote a.exr"), (2, 3, "wrote b.exr")]


def test_a_cancel_names_the_operation_and_how_far_it_got() -> None:
    asked = False
    progress = FrameProgress.of("interpolate", 5, {"cancelled": lambda: asked})
    progress.frame_done("wrote a.exr")
    progress.check_cancelled()
    asked = True
    with pytest.raises(Cancelled, match=r"^interpolate: cancelled after 1 of 5 frames$"):
        progress.check_cancelled()


def test_no_callback_and_no_cancel_check_are_fine() -> None:
    progress = FrameProgress.of("keyframes", 1, {})
    progress.check_cancelled()
    progress.frame_done("wrote a.exr")
    assert progress.done == 1
