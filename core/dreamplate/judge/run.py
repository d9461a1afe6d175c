"""`dreamplate judge`: score existing candidate sequences and write the report and contact sheet.

Steps: 1. check every input exists before any work; 2. analyse the plate and score each candidate (the scorer the
`--candidates` runs use); 3. write the report and the contact sheet, atomically. Nothing is written when an input
is missing or mismatched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Unpack

from dreamplate.judge.report import Candidate, build_report, write_contact_sheet, write_report
from dreamplate.judge.scores import JudgeInputs, score_set, sequence_paths
from dreamplate.judge.spec import JudgeSpec
from dreamplate.ops.plate.progress import FrameProgress, RunOptions
from dreamplate.ops.plate.result import PlateResult

log = logging.getLogger(__name__)


def judge_inputs(spec: JudgeSpec) -> JudgeInputs:
    return JudgeInputs(
        plate=spec.plate,
        frames=spec.frames,
        mask=spec.mask,
        mask_channel=spec.mask_channel,
        keys=dict(spec.keys),
        prompt=spec.prompt,
        part=spec.part,
        view=spec.view,
        window=spec.window,
        judge_model=spec.judge_model,
    )


def labels(patterns: list[str]) -> list[str]:
    """Short names for candidates: the file names' stems without the frame token, numbered when they repeat."""
    stems = [Path(p).name.split("#")[0].split("%")[0].rstrip("._") or Path(p).parent.name for p in patterns]
    return [stem if stems.count(stem) == 1 else f"{index + 1}:{stem}" for index, stem in enumerate(stems)]


def run_judge(spec: JudgeSpec, **options: Unpack[RunOptions]) -> PlateResult:
    """Rank `spec.candidates`; writes the report (spec.output) and the contact sheet; returns both as written."""
    # 1. Every input there before any work.
    frames = judge_frames(spec)
    for index, pattern in enumerate(spec.candidates):
        sequence_paths(pattern, None, f"--candidate {index + 1}")
    for frame, key in spec.keys.items():
        sequence_paths(key, None, f"--key {frame}")
    progress = FrameProgress.of("judge", len(frames), options)

    # 2. Score.
    def scored(done: int, total: int) -> None:
        progress.done = round(len(frames) * done / total)
        progress.report(f"judge: scored {done} of {total} candidates")

    names = labels(spec.candidates)
    ranked, cost = score_set(
        judge_inputs(spec),
        list(zip(names, spec.candidates, strict=True)),
        cancelled=progress.cancelled,
        on_scored=scored,
    )

    # 3. The report and the contact sheet.
    by_label = {c.label: c for c in ranked}
    candidates = [Candidate(index + 1, by_label[name]) for index, name in enumerate(names)]
    sheet = spec.sheet_path()
    write_contact_sheet(sheet, candidates, spec.part, spec.view)
    report = build_report(
        candidates, plate=spec.plate, prompt=spec.prompt, operation="judge", cost=cost, contact_sheet=sheet
    )
    output = Path(spec.output)
    write_report(output, report)
    for candidate in sorted(candidates, key=lambda c: c.scores.rank):
        scores = ", ".join(
            f"{k} {'-' if v.value is None else f'{v.value:.3f}'}" for k, v in candidate.scores.scores.items()
        )
        caught = f" (caught by {candidate.scores.caught_by})" if candidate.scores.caught_by else ""
        log.info(
            "%d. %s: %.3f; %s%s",
            candidate.scores.rank,
            candidate.scores.label,
            candidate.scores.overall,
            scores,
            caught,
        )
    winner = ranked[0]
    return PlateResult(
        written=[output, sheet], output=str(output), method=f"judge: best {winner.label} ({winner.overall:.3f})"
    )


def judge_frames(spec: JudgeSpec) -> list[int]:
    """The plate frames judged (what a job's progress counts)."""
    return sorted(sequence_paths(spec.plate or "", spec.frames, "--plate"))
