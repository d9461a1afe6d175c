"""What judging costs beside rendering the drafts it judges: `--candidates` on CPU at 480p.

    .venv/bin/python benchmarks/bench_judge.py                 # 3 relight drafts of a 17-frame 854x480 plate
    .venv/bin/python benchmarks/bench_judge.py --candidates 4 --frames 33

In one run: the drafts are rendered by relight itself (tiny random Wan T2V, draft mode, CPU), then scored by the
model-free scorer (plate analysed once: flow, warping error, gradients; each candidate read once). Prints seconds
for each part and the ratio scoring / drafting. Tiny random models draft far faster than real ones (a 1.3B Wan
draft at 416x240 takes tens of seconds per window on a GPU; see bench_gen.py), so the ratio here is an upper
bound of the ratio with a real model. Random weights: timing only, the pictures are noise.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from plates import write_plate  # noqa: E402

from dreamplate.gen.random_models import build_random_model  # noqa: E402
from dreamplate.gen.spec import RelightSpec  # noqa: E402
from dreamplate.judge.candidates import candidate_paths, judge_inputs_for  # noqa: E402
from dreamplate.judge.scores import score_set  # noqa: E402
from dreamplate.ops import OPS  # noqa: E402

SIZE = (854, 480)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    import cv2

    cv2.setNumThreads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = build_random_model("wan", "wan-t2v", folder / "wan", size="tiny", seed=0)
        plate = write_plate(folder / "plate", range(1001, 1001 + args.frames), SIZE)
        spec = RelightSpec(
            inputs=[plate], output=str(folder / "out" / "o.####.exr"), prompt="warm dusk light", model=str(model),
            device="cpu", steps=8, candidates=args.candidates, refine=0,
        )  # fmt: skip
        op = OPS.get("relight")
        run = op.run_function()
        paths = candidate_paths(spec.output)
        drafts = []
        started = time.perf_counter()
        for number in range(1, args.candidates + 1):
            draft = spec.model_copy(
                update={"seed": number, "draft": True, "candidates": 1, "output": paths.draft(number)}
            )
            run(draft)
            drafts.append((f"c{number:02d}", paths.draft(number)))
        drafting = time.perf_counter() - started
        inputs = judge_inputs_for(op, spec)
        started = time.perf_counter()
        _, cost = score_set(inputs, drafts, threads=args.threads)
        scoring = time.perf_counter() - started
    frames = args.frames * args.candidates
    print(
        f"bench_judge: {args.candidates} relight drafts of {args.frames} frames at {SIZE[0]}x{SIZE[1]}, CPU, "
        f"{args.threads} threads; tiny random Wan T2V (timing only)"
    )
    print(f"  drafting (tiny model)   {drafting:8.2f} s   {drafting / frames * 1000:7.1f} ms per draft frame")
    print(
        f"  scoring, model-free     {cost['model_free_seconds']:8.2f} s   "
        f"{cost['model_free_seconds'] / frames * 1000:7.1f} ms per draft frame "
        f"(plate analysis {cost['plate_seconds']:.2f} s once, working size {cost['working_size']})"
    )
    print(f"  scoring, all            {scoring:8.2f} s   (prompt: not scored, no image-text model)")
    print(
        f"  ratio scoring / drafting: {cost['model_free_seconds'] / drafting:.3f} "
        f"(tiny drafts; an upper bound for real models)"
    )


if __name__ == "__main__":
    main()
