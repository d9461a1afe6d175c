"""A written frame's header: what still holds of the source, the colour tags, provenance, timecode and rate."""

from fractions import Fraction
from pathlib import Path

import OpenEXR
import pytest

from dreamplate.color.ocio import load_config, resolve_input_space
from dreamplate.io.provenance import Provenance
from dreamplate.ops.plate.provenance import frame_header, spec_parameters

AP0 = (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767)
SOURCE = {
    "owner": "plate dept",
    "timeCode": OpenEXR.TimeCode(),
    "framesPerSecond": Fraction(24),
    "colorInteropID": "lin_ap0_scene",
    "chromaticities": AP0,
    "software": "Nuke",
    "dreamplate/operation": "relight",
}
PROVENANCE = Provenance(operation="interpolate", method="flow", parameters={"t": 0.5})


@pytest.fixture(scope="module")
def colour():
    cfg = load_config()
    return cfg, resolve_input_space(cfg, {"colorInteropID": "lin_ap1_scene"})


def test_source_attributes_that_still_hold_are_kept_and_the_old_provenance_replaced(colour) -> None:
    header = frame_header(SOURCE, PROVENANCE, *colour)
    assert header["owner"] == "plate dept" and header["framesPerSecond"] == Fraction(24)
    assert header["timeCode"] is SOURCE["timeCode"]  # same frame time as its source
    assert header["dreamplate/operation"] == "interpolate" and header["software"].startswith("dreamplate ")


def test_colour_tags_are_rewritten_as_a_set_for_the_space(colour) -> None:
    header = frame_header(SOURCE, PROVENANCE, *colour)
    assert header["colorInteropID"] == "lin_ap1_scene"
    assert header["chromaticities"][:2] == pytest.approx((0.713, 0.293))  # AP1 red: no stale AP0 tag left
    untagged = frame_header(SOURCE, PROVENANCE, colour[0], None)  # display-referred output: tags left as they were
    assert untagged["colorInteropID"] == "lin_ap0_scene" and untagged["chromaticities"] == AP0


def test_an_in_between_has_no_timecode_and_a_rate_change_retags_the_rate(colour) -> None:
    assert "timeCode" not in frame_header(SOURCE, PROVENANCE, *colour, keep_timecode=False)
    retimed = frame_header(SOURCE, PROVENANCE, *colour, fps=60000 / 1001)
    assert "timeCode" not in retimed and retimed["framesPerSecond"] == Fraction(60000, 1001)


class _Spec:
    fps = (24.0, 60.0)
    retime = Path("/maps/reverse.txt")
    frames = "1-10"
    part = None


def test_settings_become_json_data_that_compares_equal_after_a_round_trip() -> None:
    params = spec_parameters(_Spec(), ("fps", "retime", "frames", "part", "not_a_setting"))
    assert params == {"fps": [24.0, 60.0], "retime": "/maps/reverse.txt", "frames": "1-10"}
    stored = Provenance(operation="interpolate", method="flow", parameters=params).to_attributes()
    assert Provenance.from_attributes(stored).parameters == params
