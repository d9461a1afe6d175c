"""Line art (HED through `dreamplate edges`' own path): seconds per frame, and a picture for the README.

    .venv/bin/python benchmarks/bench_edges.py            # timings + docs/images/edges_stilllife.png

Times a 1920x1080 frame (picture, network, resize back; 2 threads) at working resolutions 512, 1024 (the default)
and 1920, soft and thinned, on ONNX Runtime, beside the same network in torch eager and OpenCV's Canny (no network)
in the same run. Then draws StillLife.exr from the shared samples (through the video model space, as the network
sees it) beside its line art: soft, and thinned at threshold 0.3.
Needs the weights: `dreamplate models pull hed-bsds500`.
"""

import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))

from common import DEFAULT_DATA, REPO_ROOT  # noqa: E402

from dreamplate.analyse.hed import MODEL, line_art, load_edge_net, working_size  # noqa: E402
from dreamplate.analyse.plate import plate_picture  # noqa: E402
from dreamplate.io.exr import ExrImage, read_exr, window_size  # noqa: E402
from dreamplate.runtime.weights import pinned, verified_weights  # noqa: E402

THREADS = 2
REPEATS = 3
PICTURE = REPO_ROOT / "docs" / "images" / "edges_stilllife.png"


def seconds(run, repeats: int = REPEATS) -> float:
    run()  # warm
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def frame_1080p(data: Path) -> ExrImage:
    """StillLife resized to 1920x1080: a real picture, so the timings include real work in every stage."""
    image = read_exr(data / "exr" / "ScanLines" / "StillLife.exr")
    box = (0, 0, 1919, 1079)
    channels = {c: cv2.resize(image.channels[c].astype(np.float32), (1920, 1080)) for c in "RGB"}
    return ExrImage(channels, {}, box, box, dict(image.attributes))


def timings(data: Path) -> None:
    import torch

    from dreamplate.analyse.hed_net import load_hed

    torch.set_num_threads(THREADS)
    image = frame_1080p(data)
    picture = plate_picture(None, image.attributes, None)
    net = load_edge_net(THREADS)
    size = window_size(image.data_window)
    print(f"one 1920x1080 frame, {THREADS} threads, HED on {net.runtime}")
    print(f"{'working size':<16} {'soft s/frame':>13} {'thin s/frame':>13} {'network alone':>14}")
    for resolution in (512, 1024, 1920):
        work = working_size(*size, resolution)
        small = picture.picture(image, work)
        soft = seconds(lambda work=work: line_art(net, picture.picture(image, work), size))
        thin = seconds(lambda work=work: line_art(net, picture.picture(image, work), size, thin=True))
        alone = seconds(lambda small=small: net.run(small))
        print(f"{f'{work[0]}x{work[1]}':<16} {soft:>13.3f} {thin:>13.3f} {alone:>14.3f}")
    work = working_size(*size, 1024)
    small = np.ascontiguousarray(picture.picture(image, work), np.float32)
    eager = load_hed(verified_weights(pinned(MODEL))).eval()
    tensor = torch.from_numpy(small.transpose(2, 0, 1)[None].copy())

    def torch_run() -> None:
        with torch.inference_mode():
            eager(tensor)

    with torch.inference_mode():
        difference = float(np.abs(eager(tensor)[0, 0].numpy() - net.run(small)).max())
    grey = cv2.cvtColor((small * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    print(f"network at {work[0]}x{work[1]}: ONNX Runtime {seconds(lambda: net.run(small)):.3f} s, torch eager "
          f"{seconds(torch_run):.3f} s (largest difference {difference:.1e}); OpenCV Canny (no network) "
          f"{seconds(lambda: cv2.Canny(grey, 50, 150)):.4f} s")  # fmt: skip


def picture_for_readme(data: Path) -> None:
    """StillLife as the network sees it | HED line art (soft) | thinned, threshold 0.3; 400 px wide each."""
    image = read_exr(data / "exr" / "ScanLines" / "StillLife.exr")
    picture = plate_picture(None, image.attributes, None)
    net = load_edge_net(THREADS)
    size = window_size(image.data_window)
    work = working_size(*size, 1024)
    soft = line_art(net, picture.picture(image, work), size)
    thin = line_art(net, picture.picture(image, work), size, thin=True, threshold=0.3)
    shown = (400, round(400 * size[1] / size[0]))
    panels = [picture.picture(image, shown)] + [
        np.repeat(cv2.resize(e, shown, interpolation=cv2.INTER_AREA)[..., None], 3, axis=-1) for e in (soft, thin)
    ]
    row = np.concatenate(panels, axis=1)
    PICTURE.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(PICTURE), cv2.cvtColor(np.rint(row * 255).astype(np.uint8), cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])  # fmt: skip
    print(f"picture: {PICTURE.relative_to(REPO_ROOT)} ({PICTURE.stat().st_size / 1024:.0f} KiB)")


def main() -> None:
    timings(DEFAULT_DATA)
    picture_for_readme(DEFAULT_DATA)


if __name__ == "__main__":
    main()
