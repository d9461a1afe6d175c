"""One pipeline call: out-of-memory becomes a ModelError that says what to change, whoever allocates."""

import pytest
import torch

from dreamplate.errors import ModelError
from dreamplate.gen.pipeline_call import call_pipeline


def test_out_of_memory_says_what_to_change() -> None:
    def pipe(**kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(ModelError, match=r"relight window 0: out of memory.*--draft.*--size.*--window.*offload"):
        call_pipeline(pipe, {"num_inference_steps": 2}, "relight window 0")
