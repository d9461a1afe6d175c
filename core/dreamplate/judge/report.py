"""What a judging leaves beside its output: the JSON report (`dreamplate.judge/1`) and the contact sheet PNG.

The report lists every candidate best first with each score, its parts, its range and what it means, the score
that caught each losing candidate, the refine rounds (what changed and why) and the cost of scoring. The contact
sheet shows a few frames per candidate, one row each, with its scores; the winner's row is framed in green.
Both are written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dreamplate.errors import InputError
from dreamplate.io.atomic import atomic_path
from dreamplate.judge.image_text import display_picture
from dreamplate.judge.scores import SCORES, CandidateScores, read_linear, sequence_paths

REPORT_SCHEMA = "dreamplate.judge/1"
SHEET_FRAMES = 4
"""Frames per candidate on the contact sheet: spread from first to last."""
THUMB_HEIGHT = 120
_TEXT_WIDTH = 300
_WINNER = (60, 200, 60)  # BGR for OpenCV


@dataclass
class Candidate:
    """A candidate as the report shows it: its scores, and the settings that made it (a generated one)."""

    number: int  # 1-based, as --pick takes it
    scores: CandidateScores
    settings: dict[str, Any] = field(default_factory=dict)
    round: int = 1


def build_report(
    candidates: list[Candidate],
    *,
    plate: str | None,
    prompt: str,
    operation: str | None = None,
    rounds: list[dict[str, Any]] | None = None,
    cost: dict[str, Any] | None = None,
    contact_sheet: Path | None = None,
    chosen: int | None = None,
) -> dict[str, Any]:
    """The report as JSON data; `chosen` is the candidate rendered in full (default: the winner)."""
    ordered = sorted(candidates, key=lambda c: c.scores.rank)
    winner = ordered[0]
    entries = []
    for candidate in ordered:
        scored = candidate.scores
        entries.append(
            {
                "number": candidate.number,
                "label": scored.label,
                "path": scored.path,
                "round": candidate.round,
                "rank": scored.rank,
                "overall": round(scored.overall, 4),
                "caught_by": scored.caught_by,
                "scores": {name: score.to_json() for name, score in scored.scores.items()},
                "settings": candidate.settings,
            }
        )
    return {
        "schema": REPORT_SCHEMA,
        "operation": operation,
        "plate": plate,
        "prompt": prompt,
        "winner": winner.number,
        "chosen": chosen if chosen is not None else winner.number,
        "ranking": [c.number for c in ordered],
        "candidates": entries,
        "scores": SCORES,
        "rounds": rounds or [],
        "cost": cost or {},
        "contact_sheet": str(contact_sheet) if contact_sheet is not None else None,
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(report, indent=2) + "\n")


def _thumbnails(pattern: str, part: str | None, view: str | None) -> list[np.ndarray]:
    paths = sequence_paths(pattern, None, "candidate")
    frames = sorted(paths)
    picks = sorted({frames[round(i * (len(frames) - 1) / max(1, SHEET_FRAMES - 1))] for i in range(SHEET_FRAMES)})
    thumbs = []
    for frame in picks:
        picture = display_picture(read_linear(paths[frame], part, view))
        width = max(1, round(picture.shape[1] * THUMB_HEIGHT / picture.shape[0]))
        small = cv2.resize(picture, (width, THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
        thumb = np.ascontiguousarray((small[..., ::-1] * 255.0 + 0.5).astype(np.uint8))
        cv2.putText(thumb, str(frame), (4, THUMB_HEIGHT - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        thumbs.append(thumb)
    return thumbs


def _score_lines(candidate: Candidate) -> list[str]:
    scored = candidate.scores
    lines = [f"#{candidate.number} {scored.label}  rank {scored.rank}  overall {scored.overall:.3f}"]
    for name, score in scored.scores.items():
        lines.append(f"{name}: {'not scored' if score.value is None else f'{score.value:.3f}'}")
    if candidate.settings:
        shown = ", ".join(f"{k} {v}" for k, v in candidate.settings.items() if k in ("seed", "strength", "guidance"))
        lines.append(shown)
    if scored.caught_by:
        lines.append(f"caught by {scored.caught_by}")
    return lines


def write_contact_sheet(path: Path, candidates: list[Candidate], part: str | None, view: str | None) -> None:
    """One row per candidate, best first: its scores, then `SHEET_FRAMES` frames; the winner framed in green."""
    rows = []
    for candidate in sorted(candidates, key=lambda c: c.scores.rank):
        thumbs = _thumbnails(candidate.scores.path, part, view)
        text = np.full((THUMB_HEIGHT, _TEXT_WIDTH, 3), 32, np.uint8)
        for index, line in enumerate(_score_lines(candidate)):
            cv2.putText(text, line[:48], (6, 16 + 15 * index), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1)
        row = np.concatenate([text, *thumbs], axis=1)
        colour = _WINNER if candidate.scores.rank == 1 else (16, 16, 16)
        rows.append(cv2.copyMakeBorder(row, 4, 4, 4, 4, cv2.BORDER_CONSTANT, value=colour))
    width = max(row.shape[1] for row in rows)
    sheet = np.concatenate(
        [cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1], cv2.BORDER_CONSTANT, value=(16, 16, 16)) for r in rows]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as partial:
        if not cv2.imwrite(str(partial), sheet):
            raise InputError(f"{path}: OpenCV could not write the contact sheet")
