"""Provenance to and from EXR string attributes, and the source attributes a derived frame carries."""

import json
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

from dreamplate import __version__
from dreamplate.errors import InputError
from dreamplate.io.provenance import DROPPED_ATTRIBUTES, Provenance, carried_attributes


def _full() -> Provenance:
    return Provenance(
        operation="relight",
        method="wan",
        parameters={"steps": 30, "guidance": 5.5, "light": {"azimuth": -40}},
        sources=["plate.1001.exr", "plate.1002.exr"],
        source_frames=[1001.0, 1001.25],
        model="wan2.1-i2v-14b",
        weights_sha256="ab" * 32,
        seed=1234,
        prompt="golden hour, café sign ☕",
        strength=0.1 + 0.2,  # 0.30000000000000004: must come back bit for bit
        colorspace="ACEScg",
    )


def test_attributes_are_strings_with_the_documented_names() -> None:
    attributes = _full().to_attributes()
    assert all(isinstance(value, str) for value in attributes.values())
    assert attributes["software"] == f"dreamplate {__version__}"
    assert attributes["dreamplate/schema"] == "dreamplate.provenance/1"
    assert attributes["dreamplate/version"] == __version__
    assert attributes["dreamplate/parameters"] == '{"guidance":5.5,"light":{"azimuth":-40},"steps":30}'
    assert json.loads(attributes["dreamplate/sources"]) == ["plate.1001.exr", "plate.1002.exr"]
    assert json.loads(attributes["dreamplate/sourceFrames"]) == [1001.0, 1001.25]
    assert attributes["dreamplate/seed"] == "1234"
    assert attributes["dreamplate/weightsSha256"] == "ab" * 32
    assert len(attributes) == 14  # software, 7 always, 6 optional


def test_optional_fields_are_written_only_when_set() -> None:
    attributes = Provenance(operation="interpolate", method="flow").to_attributes()
    assert sorted(attributes) == [
        "dreamplate/method",
        "dreamplate/operation",
        "dreamplate/parameters",
        "dreamplate/schema",
        "dreamplate/sourceFrames",
        "dreamplate/sources",
        "dreamplate/version",
        "software",
    ]
    assert attributes["dreamplate/parameters"] == "{}"


def test_round_trip_through_attributes() -> None:
    original = _full()
    assert Provenance.from_attributes(original.to_attributes()) == original
    minimal = Provenance(operation="interpolate", method="flow", source_frames=[1001.5])
    assert Provenance.from_attributes(minimal.to_attributes()) == minimal


def test_round_trip_through_an_exr_file(tmp_path: Path) -> None:
    original = _full()
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, **original.to_attributes()}
    OpenEXR.File(header, {"RGB": np.zeros((2, 2, 3), np.float16)}).write(str(tmp_path / "p.exr"))
    with OpenEXR.File(str(tmp_path / "p.exr"), header_only=True) as exr:
        read = Provenance.from_attributes(exr.header())
    assert read == original
    assert read.strength == 0.30000000000000004


def test_no_dreamplate_attributes_gives_none() -> None:
    assert Provenance.from_attributes({"software": "Nuke 15", "owner": "comp"}) is None


def test_newer_schema_still_reads_the_known_fields() -> None:
    attributes = _full().to_attributes()
    attributes["dreamplate/schema"] = "dreamplate.provenance/7"
    attributes["dreamplate/version"] = "3.0.0"
    attributes["dreamplate/futureField"] = "whatever"
    read = Provenance.from_attributes(attributes)
    assert read is not None
    assert (read.operation, read.seed, read.version) == ("relight", 1234, "3.0.0")
    assert read.schema == "dreamplate.provenance/1"


def test_bytes_values_are_decoded() -> None:
    read = Provenance.from_attributes(
        {"owner": "comp", "dreamplate/operation": b"relight", "dreamplate/method": b"wan"}
    )
    assert read == Provenance(operation="relight", method="wan", version="unknown")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("dreamplate/parameters", "{not json", "dreamplate/parameters is not valid JSON"),
        ("dreamplate/parameters", "[1, 2]", "dreamplate/parameters should be a JSON dict"),
        ("dreamplate/sourceFrames", '["a"]', "dreamplate/sourceFrames should hold frame numbers only"),
        ("dreamplate/seed", "12.5", "dreamplate/seed is not a number: '12.5'"),
        ("dreamplate/strength", "strong", "dreamplate/strength is not a number"),
    ],
)
def test_damaged_values_name_file_and_attribute(key: str, value: str, message: str) -> None:
    attributes = _full().to_attributes()
    attributes[key] = value
    with pytest.raises(InputError, match=f"^out.1001.exr: {message}"):
        Provenance.from_attributes(attributes, name="out.1001.exr")


def test_missing_operation_is_an_error() -> None:
    with pytest.raises(InputError, match="header: dreamplate/operation missing"):
        Provenance.from_attributes({"dreamplate/method": "flow"})


def test_carried_attributes_keep_what_still_holds() -> None:
    source = {
        "channels": ["R", "G", "B"],
        "compression": "PIZ",
        "dataWindow": (0, 0),
        "displayWindow": (0, 0),
        "lineOrder": 0,
        "type": "scanlineimage",
        "tiles": None,
        "chunkCount": 4,
        "name": "rgba",
        "view": "left",
        "multiView": ["left", "right"],
        "version": 1,
        "preview": b"...",
        "software": "Nuke 15",
        "dreamplate/operation": "relight",
        "dreamplate/schema": "dreamplate.provenance/1",
        "chromaticities": (0.713, 0.293, 0.165, 0.83, 0.128, 0.044, 0.32168, 0.33767),
        "timeCode": "01:00:00:00",
        "framesPerSecond": (24, 1),
        "owner": "comp",
        "comments": "hero plate",
        "pixelAspectRatio": 2.0,
        "screenWindowWidth": 1.0,
        "interim/camera/focalLength": 35.0,
    }
    carried = carried_attributes(source)
    assert sorted(carried) == [
        "chromaticities",
        "comments",
        "framesPerSecond",
        "interim/camera/focalLength",
        "owner",
        "pixelAspectRatio",
        "screenWindowWidth",
        "timeCode",
    ]
    assert carried["pixelAspectRatio"] == 2.0
    assert "channels" in DROPPED_ATTRIBUTES and "preview" in DROPPED_ATTRIBUTES
