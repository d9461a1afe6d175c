"""Each tiny model loads for every purpose it serves and runs 2 denoising steps end to end on the CPU."""

from pathlib import Path

import numpy as np
import pytest

from dreamplate.errors import ModelError
from dreamplate.gen.models import resolve_model
from dreamplate.gen.pipelines import describe_device, load_pipeline, make_generator
from dreamplate.runtime.model_cache import cached_keys

FRAMES, SIZE = 9, 32
COMMON = {
    "prompt": "warm sunset light",
    "negative_prompt": "",
    "num_inference_steps": 2,
    "height": SIZE,
    "width": SIZE,
    "max_sequence_length": 16,
    "output_type": "np",
}


def _video(frames: int = FRAMES) -> list:
    from PIL import Image

    rng = np.random.default_rng(7)
    return [Image.fromarray((rng.random((SIZE, SIZE, 3)) * 255).astype(np.uint8)) for _ in range(frames)]


def _check(frames: np.ndarray) -> np.ndarray:
    assert frames.shape == (1, FRAMES, SIZE, SIZE, 3) and frames.dtype == np.float32
    assert frames.min() >= 0.0 and frames.max() <= 1.0 and np.isfinite(frames).all()
    return frames[0]


def test_wan_v2v(tiny_wan_t2v: Path) -> None:
    pipe = load_pipeline(resolve_model(str(tiny_wan_t2v)), "v2v", device="cpu")
    assert type(pipe).__name__ == "WanVideoToVideoPipeline"
    runs = [pipe(video=_video(), strength=0.7, generator=make_generator(3), **COMMON).frames for _ in range(2)]
    np.testing.assert_array_equal(_check(runs[0]), _check(runs[1]))  # same seed, same frames
    other = pipe(video=_video(), strength=0.7, generator=make_generator(4), **COMMON).frames
    assert np.abs(other - runs[0]).max() > 1e-4


def test_wan_flf2v(tiny_wan_i2v: Path) -> None:
    pipe = load_pipeline(resolve_model(str(tiny_wan_i2v)), "flf2v", device="cpu")
    video = _video()
    out = pipe(image=video[0], last_image=video[-1], num_frames=FRAMES, generator=make_generator(0), **COMMON)
    _check(out.frames)


def test_wan_vace_control_and_keyframes(tiny_wan_vace: Path) -> None:
    from PIL import Image

    info = resolve_model(str(tiny_wan_vace))
    pipe = load_pipeline(info, "control", device="cpu")
    mask = [Image.new("L", (SIZE, SIZE), 255)] * FRAMES  # white: generate everywhere, following the control video
    _check(pipe(video=_video(), mask=mask, num_frames=FRAMES, generator=make_generator(0), **COMMON).frames)
    # Keyframes: known frames in the video with black (keep) masks, grey frames with white (generate) masks between.
    keys = {0: _video()[0], 4: _video()[4], 8: _video()[8]}
    grey, black, white = Image.new("RGB", (SIZE, SIZE), (128,) * 3), Image.new("L", (SIZE, SIZE), 0), mask[0]
    video = [keys.get(i, grey) for i in range(FRAMES)]
    masks = [black if i in keys else white for i in range(FRAMES)]
    keyed = load_pipeline(info, "keyframes", device="cpu")
    _check(keyed(video=video, mask=masks, num_frames=FRAMES, generator=make_generator(0), **COMMON).frames)


def test_ltx_conditions(tiny_ltx: Path) -> None:
    from diffusers.pipelines.ltx.pipeline_ltx_condition import LTXVideoCondition

    info = resolve_model(str(tiny_ltx))
    pipe = load_pipeline(info, "flf2v", device="cpu")
    assert type(pipe).__name__ == "LTXConditionPipeline"
    video = _video()
    ends = [
        LTXVideoCondition(image=video[0], frame_index=0),
        LTXVideoCondition(image=video[-1], frame_index=FRAMES - 1),
    ]
    first = _check(pipe(conditions=ends, num_frames=FRAMES, generator=make_generator(1), **COMMON).frames)
    again = _check(pipe(conditions=ends, num_frames=FRAMES, generator=make_generator(1), **COMMON).frames)
    np.testing.assert_array_equal(first, again)
    v2v = load_pipeline(info, "v2v", device="cpu")
    cond = [LTXVideoCondition(video=video, frame_index=0, strength=0.5)]
    _check(v2v(conditions=cond, num_frames=FRAMES, generator=make_generator(1), **COMMON).frames)


def test_pipelines_stay_warm(tiny_ltx: Path) -> None:
    info = resolve_model(str(tiny_ltx))
    assert load_pipeline(info, "keyframes", device="cpu") is load_pipeline(info, "keyframes", device="cpu")
    assert (str(info.path), info.weights_sha256, "keyframes", "cpu", "torch.float32", "auto") in cached_keys()


def test_refuses_a_purpose_the_model_cannot_serve(tiny_wan_t2v: Path, tiny_wan_i2v: Path) -> None:
    with pytest.raises(ModelError, match=r"\(wan, WanPipeline\) cannot do 'control'; it can do: t2v, v2v"):
        load_pipeline(resolve_model(str(tiny_wan_t2v)), "control", device="cpu")
    with pytest.raises(ModelError, match="cannot do 'v2v'; it can do: flf2v"):
        load_pipeline(resolve_model(str(tiny_wan_i2v)), "v2v", device="cpu")
    with pytest.raises(ModelError, match="offload: expected one of"):
        load_pipeline(resolve_model(str(tiny_wan_t2v)), "v2v", device="cpu", offload="always")


def test_describe_device() -> None:
    assert describe_device("cpu").startswith("cpu (") and describe_device("cpu").endswith("float32")
