"""`--candidates N` for any operation whose spec has the candidate settings (every `GenSpec`): draft, judge, render.

`run_operation(op, spec, **options)` is the one place the CLI and the job runner run an operation through. Without
candidates it calls the operation's run function as is. With them, in order:
1. N drafts (the operation's own draft mode), seeds spec.seed + 0..N-1, strength / guidance spread if asked, each
   into `<output stem>.candidates/cNN/`; finished drafts are kept, so a re-run (`--pick K`) re-renders none;
2. each draft scored against the run's inputs (its plate, matte, keys, prompt) by the judge's scorer;
3. refine: while the best fails a bound (`BOUNDS`) and rounds are left (`--refine`), another N drafts with what
   the failing scores point at changed (lower strength for lost structure, more steps for flicker or missed
   inputs, always a new seed range); the report says what changed and why;
4. the report (`<stem>.candidates.json`) and contact sheet (`<stem>.candidates.png`) beside the output;
5. unless `--drafts-only`: the full render of the winner (or `--pick K`) with its seed and settings.
The operation itself never knows: it runs N + 1 times with ordinary specs, looked up through the registry.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Unpack

from pydantic import BaseModel

from dreamplate.errors import Cancelled, DreamplateError, InputError, JobError
from dreamplate.gen.spec import DRAFT_STEPS_DIVISOR
from dreamplate.io.sequence import is_sequence_pattern
from dreamplate.judge.report import Candidate, build_report, write_contact_sheet, write_report
from dreamplate.judge.scores import (
    CandidateScores,
    JudgeInputs,
    analyse_reference,
    rank,
    score_candidate,
    score_prompts,
)
from dreamplate.ops import Op
from dreamplate.ops.plate.progress import RunOptions
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)

CANDIDATE_FIELDS = ("candidates", "drafts_only", "pick", "strength_spread", "guidance_spread", "refine", "judge_model")
"""The settings a spec needs for `--candidates` (declared once, on GenSpec)."""
BOUNDS = {"temporal": 0.5, "structure": 0.5, "adherence": 0.5}
"""The best candidate fails a bound when a score is below it; that starts a refine round."""
STRENGTH_STEP = 0.6
"""A refine round for lost structure multiplies the strength by this."""
STEPS_STEP = 1.5
"""A refine round for flicker or missed inputs multiplies the denoising steps by this."""
CONDITIONING_STEP = 1.5
"""A refine round for lost structure without a strength (a control model) multiplies its conditioning scale."""
COLOUR_WINDOW = 4
"""Frames per colour-drift window."""


def has_candidates(spec: BaseModel) -> bool:
    """Whether the spec declares the candidate settings."""
    return all(name in type(spec).model_fields for name in CANDIDATE_FIELDS)


def run_operation(op: Op, spec: BaseModel, **options: Unpack[RunOptions]) -> Any:
    """Run `op` on its validated `spec`: plainly, or through drafts, judging and the winner's render."""
    if not has_candidates(spec) or spec.candidates <= 1:  # type: ignore[attr-defined]
        return op.run_function()(spec, **options)
    return run_candidates(op, spec, **options)


@dataclass(frozen=True)
class CandidatePaths:
    """Where a candidates run puts its drafts, report and contact sheet: beside the output, named after it."""

    folder: Path
    report: Path
    sheet: Path
    name: str

    def draft(self, number: int) -> str:
        return str(self.folder / f"c{number:02d}" / self.name)


def candidate_paths(output: str) -> CandidatePaths:
    """`shots/relit.####.exr` -> drafts in `shots/relit.candidates/cNN/relit.####.exr`, `shots/relit.candidates.json`
    and `.png` beside it."""
    path = Path(output)
    stem = path.name.split("#")[0].split("%")[0].split("@")[0].rstrip("._") or path.stem
    stem = stem if is_sequence_pattern(output) else path.stem
    return CandidatePaths(
        path.parent / f"{stem}.candidates",
        path.parent / f"{stem}.candidates.json",
        path.parent / f"{stem}.candidates.png",
        path.name,
    )


def judge_inputs_for(op: Op, spec: Any) -> JudgeInputs:
    """What a run's drafts are judged against, read from its spec generically.

    The plate is the first input of an operation whose positional argument is a sequence (relight's plate,
    sketch's blocking pass); `mask` and `frames` when the spec has them; the keys from `judge_keys()` when the spec
    defines it (an operation whose result must pass through given images), else from a `keys` mapping.
    """
    inputs = list(getattr(spec, "inputs", []) or [])
    plate = inputs[0] if op.argument and inputs and is_sequence_pattern(inputs[0]) else None
    mask = getattr(spec, "mask", None)
    frames = getattr(spec, "frames", None)
    keys_of = getattr(spec, "judge_keys", None)
    keys = keys_of() if callable(keys_of) else getattr(spec, "keys", None)
    return JudgeInputs(
        plate=plate,
        frames=frames if isinstance(frames, str) else None,
        mask=mask if isinstance(mask, str) else None,
        mask_channel=getattr(spec, "mask_channel", None),
        keys={int(f): str(p) for f, p in keys.items()} if isinstance(keys, dict) else {},
        prompt=str(getattr(spec, "prompt", "") or ""),
        part=getattr(spec, "part", None),
        view=getattr(spec, "view", None),
        window=COLOUR_WINDOW,
        judge_model=spec.judge_model,
    )


def _spread(centre: float, spread: float, index: int, count: int, low: float, high: float) -> float:
    offset = spread * (2.0 * index / (count - 1) - 1.0) if count > 1 else 0.0
    return round(min(high, max(low, centre + offset)), 4)


def round_settings(spec: Any, base: dict[str, Any], seed_start: int) -> list[dict[str, Any]]:
    """Each candidate's settings in a round: its seed and, where the spec has them, strength and guidance spread."""
    fields = type(spec).model_fields
    count = spec.candidates
    rows = []
    for index in range(count):
        row: dict[str, Any] = {"seed": seed_start + index}
        if "strength" in fields:
            row["strength"] = _spread(base["strength"], spec.strength_spread, index, count, 0.0, 1.0)
        row["guidance"] = _spread(base["guidance"], spec.guidance_spread, index, count, 0.0, 50.0)
        row["steps"] = base["steps"]
        if "conditioning_scale" in fields:
            row["conditioning_scale"] = base["conditioning_scale"]
        rows.append(row)
    return rows


def refine_plan(spec: Any, best: CandidateScores, base: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """The next round's base settings and why, when the best candidate fails a bound; None when it passes."""
    failing = {
        name: score.value
        for name, score in best.scores.items()
        if name in BOUNDS and score.value is not None and score.value < BOUNDS[name]
    }
    if not failing:
        return None
    fields = type(spec).model_fields
    update, why = dict(base), []
    if "structure" in failing or "temporal" in failing:
        caught = ", ".join(f"{n} {failing[n]:.2f} < {BOUNDS[n]}" for n in ("structure", "temporal") if n in failing)
        if "strength" in fields and base["strength"] > 0:
            update["strength"] = round(base["strength"] * STRENGTH_STEP, 4)
            why.append(
                f"{caught}: the result left the plate too far; strength {base['strength']} -> {update['strength']}"
            )
            # img2img runs strength x steps of its steps: keep at least one in every draft of the round.
            lowest = round(update["strength"] - spec.strength_spread, 4)
            while lowest > 0 and _draft_steps(update["steps"]) * lowest < 1 and update["steps"] < 1000:
                update["steps"] += 1
            if update["steps"] != base["steps"]:
                why.append(f"steps {base['steps']} -> {update['steps']}, so the lower strength keeps a draft step")
        elif "structure" in failing and "conditioning_scale" in fields:
            update["conditioning_scale"] = round(min(10.0, base["conditioning_scale"] * CONDITIONING_STEP), 4)
            why.append(
                f"{caught}: follow the control video more closely; conditioning scale "
                f"{base['conditioning_scale']} -> {update['conditioning_scale']}"
            )
    if "temporal" in failing or "adherence" in failing:
        steps = max(update["steps"], min(1000, math.ceil(base["steps"] * STEPS_STEP)))
        if steps != update["steps"]:
            caught = ", ".join(f"{n} {failing[n]:.2f} < {BOUNDS[n]}" for n in ("temporal", "adherence") if n in failing)
            why.append(f"{caught}: more denoising steps settle flicker and inputs; steps {update['steps']} -> {steps}")
            update["steps"] = steps
    why.append("another seed range: the best of these seeds still fails " + ", ".join(sorted(failing)))
    return update, why


def _draft_steps(steps: int) -> int:
    return max(2, steps // DRAFT_STEPS_DIVISOR)


def run_candidates(op: Op, spec: Any, **options: Unpack[RunOptions]) -> PlateResult:
    """Drafts, judging, refine rounds, report and contact sheet, then the chosen candidate in full; see the module."""
    if options.get("only_frames"):
        raise JobError(f"{op.name} --candidates: drafts are judged on the whole shot; run it as one job, not in chunks")
    progress, cancelled = options.get("progress"), options.get("cancelled")
    paths = candidate_paths(spec.output)
    inputs = judge_inputs_for(op, spec)
    fields = type(spec).model_fields
    base: dict[str, Any] = {"guidance": spec.guidance, "steps": spec.steps}
    for name in ("strength", "conditioning_scale"):
        if name in fields:
            base[name] = getattr(spec, name)
    run = op.run_function()
    reference = None
    made: list[Candidate] = []
    rounds: list[dict[str, Any]] = []
    seed_start = spec.seed
    stopped = False
    for round_number in range(1, spec.refine + 2):
        # 1. This round's drafts.
        rows = round_settings(spec, base, seed_start)
        for row in rows:
            number = len(made) + 1
            draft = spec.model_copy(
                update={
                    **row,
                    "output": paths.draft(number),
                    "draft": True,
                    "candidates": 1,
                    "pick": None,
                    "drafts_only": False,
                    "refine": 0,
                }
            )
            report = _draft_progress(progress, number, len(rows) * spec.refine + len(rows))
            try:
                run(draft, progress=report, cancelled=cancelled, force=options.get("force", False))
            except Cancelled:
                raise
            except DreamplateError as exc:
                if round_number == 1:
                    raise
                # A refined setting this operation refuses: keep what the earlier rounds found.
                log.warning("%s --candidates: round %d stopped: %s", op.name, round_number, exc)
                rounds.append({"round": round_number, "stopped": str(exc)})
                stopped = True
                break
            # 2. Judge it.
            if reference is None and inputs.plate is not None:
                reference = analyse_reference(inputs, cancelled=cancelled)
            scored = score_candidate(f"c{number:02d}", paths.draft(number), inputs, reference)
            score_prompts([scored], inputs)
            made.append(Candidate(number, scored, dict(row), round_number))
        ranked = rank([c.scores for c in made])
        rounds.append({"round": round_number, "seeds": [r["seed"] for r in rows], "settings": dict(base)})
        if stopped:
            break
        # 3. Refine while the best fails a bound.
        plan = refine_plan(spec, ranked[0], base) if round_number <= spec.refine else None
        if plan is None:
            break
        new_base, why = plan
        rounds.append({"round": round_number + 1, "changed": _changes(base, new_base), "why": why})
        log.info("%s --candidates: round %d: %s", op.name, round_number + 1, "; ".join(why))
        base = new_base
        seed_start += spec.candidates
    # Rounds are listed as {round, seeds, settings} once run, with the {changed, why} that started each.
    rounds = _merge_rounds(rounds)
    best = min(made, key=lambda c: c.scores.rank)
    if spec.pick is not None and spec.pick > len(made):
        raise InputError(f"--pick: this run made candidates 1-{len(made)}, got {spec.pick}")
    chosen = next(c for c in made if c.number == spec.pick) if spec.pick is not None else best

    # 4. Report and contact sheet.
    write_contact_sheet(paths.sheet, made, inputs.part, inputs.view)
    report_data = build_report(
        made,
        plate=inputs.plate,
        prompt=inputs.prompt,
        operation=op.name,
        rounds=rounds,
        contact_sheet=paths.sheet,
        chosen=chosen.number,
    )
    report_data["output"] = spec.output
    report_data["drafts_only"] = spec.drafts_only
    write_report(paths.report, report_data)
    log.info(
        "%s --candidates: best is candidate %d (seed %s, %.3f of 1); report %s",
        op.name,
        best.number,
        best.settings["seed"],
        best.scores.overall,
        paths.report,
    )
    if spec.drafts_only:
        return PlateResult(
            written=[paths.report, paths.sheet],
            output=str(paths.report),
            method=f"{len(made)} drafts judged, best candidate {best.number} (seed {best.settings['seed']})",
        )

    # 5. The chosen candidate at full quality.
    if cancelled is not None and cancelled():
        raise Cancelled(f"{op.name}: cancelled after the drafts")
    final = spec.model_copy(
        update={**chosen.settings, "candidates": 1, "pick": None, "drafts_only": False, "refine": 0}
    )
    result = run(final, **options)
    which = "best" if chosen is best else "picked"
    result.method = (
        f"{result.method}; {which} of {len(made)} candidates: #{chosen.number} seed {chosen.settings['seed']}, "
        f"report {paths.report}"
    ).lstrip("; ")
    return result


def _draft_progress(
    progress: Callable[[int, int, str], None] | None, number: int, most: int
) -> Callable[[int, int, str], None] | None:
    """Progress of a draft as a message at 0 frames done: the output's own frames come with the final render."""
    if progress is None:
        return None

    def report(done: int, total: int, message: str) -> None:
        progress(0, total, f"candidate {number} (of up to {most}): {done}/{total} {message}")

    return report


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before[k], after[k]] for k in after if before.get(k) != after[k]}


def _merge_rounds(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[int, dict[str, Any]] = {}
    for entry in entries:
        merged.setdefault(entry["round"], {}).update(entry)
    return [merged[k] for k in sorted(merged) if "seeds" in merged[k]]
