"""`dreamplate edges` end to end with the real HED weights (converted to ONNX once), and the line finish."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from subjects import SIZE, write_subject_plate
from typer.testing import CliRunner

from dreamplate.analyse.edges import run_edges
from dreamplate.analyse.hed import line_art, load_edge_net, thin_lines, working_size
from dreamplate.analyse.spec import EdgesSpec
from dreamplate.cli import app
from dreamplate.errors import ModelError
from dreamplate.io.exr import read_exr
from dreamplate.io.provenance import Provenance
from dreamplate.runtime.weights import PINNED


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_cli_edges_writes_white_lines_on_black(tmp_path: Path, analysis_models: list[Path]) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 4))
    result = _run("edges", plate, "-o", tmp_path / "out" / "e.####.exr")
    assert result.exit_code == 0, result.output
    assert "wrote 3 frames" in result.output and "hed-bsds500 on onnxruntime" in result.output
    source, image = read_exr(tmp_path / "in" / "plate.0002.exr"), read_exr(tmp_path / "out" / "e.0002.exr")
    assert set(image.channels) == {"R", "G", "B"} and set(image.pixel_types.values()) == {"half"}
    assert (image.data_window, image.display_window) == (source.data_window, source.display_window)
    assert "colorInteropID" not in image.attributes
    edges = image.channels["R"]
    np.testing.assert_array_equal(edges, image.channels["G"])
    assert edges.min() >= 0.0 and edges.max() <= 1.0
    # The disc's outline is the strongest line: HED rings it, far above the flat orange inside it.
    ring, inside = _ring(source.channels["A"])
    assert edges[ring].mean() > 0.6 and edges[inside].mean() < 0.2, (edges[ring].mean(), edges[inside].mean())
    prov = Provenance.from_attributes(image.attributes)
    assert prov.operation == "edges" and prov.model == "hed-bsds500"
    assert prov.weights_sha256 == PINNED["hed-bsds500"].sha256 and prov.parameters["resolution"] == 1024


def _ring(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    inside = alpha > 0.5
    grown = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    shrunk = cv2.erode(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    deep = cv2.erode(inside.astype(np.uint8), np.ones((13, 13), np.uint8)).astype(bool)
    return grown & ~shrunk, deep


def test_threshold_thin_and_invert(tmp_path: Path, analysis_models: list[Path]) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 2))
    outs = {}
    for name, extra in {"soft": {}, "thin": {"thin": True}, "bin": {"threshold": 0.5}, "inv": {"invert": True}}.items():
        run_edges(EdgesSpec(inputs=[plate], output=str(tmp_path / name / "e.####.exr"), **extra))
        outs[name] = read_exr(tmp_path / name / "e.0001.exr").channels["R"]
    assert set(np.unique(outs["bin"])) <= {0.0, 1.0} and outs["bin"].mean() > 0
    assert (outs["thin"] > 0.3).sum() < 0.6 * (outs["soft"] > 0.3).sum()  # thinner lines, fewer line pixels
    np.testing.assert_allclose(outs["inv"], 1.0 - outs["soft"], rtol=0, atol=2**-11)


def test_a_flat_frame_has_no_border_line(analysis_models: list[Path]) -> None:
    """VGG's zero padding draws the frame border as an edge; the mirrored border keeps it off."""
    net = load_edge_net()
    edges = line_art(net, np.full((48, 64, 3), 0.4, np.float32), (64, 48))
    assert edges.max() < 0.2, edges.max()


def test_thin_lines_keeps_a_ridge_crest_only() -> None:
    x = np.arange(21, dtype=np.float32)
    ridge = np.tile(np.exp(-(((x - 10) / 2.0) ** 2)), (9, 1))  # a vertical soft line, 9 rows
    thin = thin_lines(ridge)
    assert (thin[2:-2] > 0).sum(axis=1).tolist() == [1] * 5 and (thin[2:-2, 10] == ridge[2:-2, 10]).all()


def test_working_size_only_shrinks() -> None:
    assert working_size(4096, 2160, 1024) == (1024, 540)
    assert working_size(640, 360, 1024) == (640, 360)
    assert working_size(640, 360, None) == (640, 360)


def test_missing_weights_are_one_error(tmp_path: Path) -> None:
    plate = write_subject_plate(tmp_path / "in", range(1, 2), size=SIZE)
    with pytest.raises(ModelError, match="dreamplate models pull hed-bsds500"):
        run_edges(EdgesSpec(inputs=[plate], output=str(tmp_path / "e.####.exr")))
