"""Learned and flow in-betweens fused per pixel: each pixel takes the motion that explains the pair better.

RIFE-class nets are the better method on most footage, and the flow method is better where the net's receptive
field and training run out: small objects moving further than their size, flat CG surfaces, motion past what the
net saw. Neither wins everywhere, so the in-between takes, pixel by pixel, the candidate whose two warped frames
agree (photo-consistency over a window of the motion signal), with margins measured on the shared sets and the CG
ball of issue 19 (benchmarks/bench_retime_quality.py):

- where the candidates disagree by more than AGREE_PIXELS, the flow candidate must be clearly better (its cost at most
  FLOW_ADVANTAGE times the learned one's): on real footage the learned motion is right more often where the costs are
  close. Its cost there leaves out the pixels its own weights take from one frame alone: at an occlusion no motion
  makes both frames agree, and counting them favoured the net's smooth motion, which drags the ground along the
  edges of a bright subject (a 24 px square moving 16 px over texture: 2.8 dB below the flow method alone, now
  level; the issue's ball 0.35 dB lower, still 0.8 above either method alone; the shared sets within 0.01 dB).
  The pixels whose sample falls outside a frame count in full: a real EXR panned 24 px a frame (Tree, from the
  OpenEXR samples) went from 38.4 to 50.1 dB, the shared sets with a pan added gained 0.2 to 0.3 dB;
- where they agree to within AGREE_PIXELS, the flow's motion is taken only where it matches far better
  (REFINE_ADVANTAGE): on CG the net's motion is often a pixel off along sharp edges (a doubled edge) where the flow's
  matches exactly, while on real footage the small differences are mostly the flow's noise;
- where they agree, the flow's match is clean (CLEAN_COST: no grain) and the picture is flat there (CLEAN_DETAIL:
  the flat-shaded patches of a CG ball), its plain lower cost will do: there a lower cost is the flow's sharper
  motion, not its noise. Textured CG (a rendered city) matches cleanly too, and there the net's motion is the better;
- where they disagree, the flow's also needs its match made on picture detail (DETAIL_SHARE): a subject moving
  further than its size leaves the flow motion sampling black on black half way, a perfect and meaningless match
  against the net's subject on subject, and the subject vanished;
- and there it needs the flow to be confirmed by its other direction somewhere in the window (UNCONFIRMED_SHARE): a
  flow that failed outright is inconsistent nearly everywhere, yet can still match a smooth subject onto itself;
- last, where the flow's motion has won a good share of the window (REGION_SHARE), it wins at a smaller margin
  (REGION_ADVANTAGE) on the pixels where the motions agree but are still a visible fraction of a pixel apart
  (REGION_APART): a motion field is smooth within a surface, so the edges between a CG ball's flat patches follow
  the patches' motion, while on real footage and textured CG, where the flow seldom wins whole regions, the stricter
  margin stays;
- where the motions agree and the net's is kept, it is moved a quarter of the way toward the flow's (AGREE_SHARE):
  the two estimates' sub-pixel errors are their own, and their average is the better estimate;
- and where the net and the flow disagree, a pixel takes a whole-subject translation (phase correlation's,
  `translations`) where both frames place that subject there: a subject moving further than its size leaves the
  ground visible at its in-between position in both frames, so both motions matched "still ground" there and lost
  it (a 32 px bright square moving 48 px: 1.0 dB below the net alone, now 1.0 dB above; the dim squares up to 3.7
  dB above both methods; the shared sets and the balls within 0.01 dB).

Both candidates only say where to sample A and B and with what weight; the scene-linear pixels are resampled and
blended once, after the choice, so a highlight is moved by one motion and never averaged between two. The same rules
hold with `--tta`. The fused motion's blend weights are then settled by `rife.blend_by_agreement`, as the net's own.
The figures under each constant were measured when it was chosen, with the other rules as they were then.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import cv2
import numpy as np

from dreamplate.interp.flow import PairFlow, PatchGrid, estimate_flow, inbetween_motion
from dreamplate.interp.rife import LearnedMotion
from dreamplate.interp.translations import shifted, translated_difference, translations
from dreamplate.interp.warp import (
    absolute_difference,
    outside,
    photo_cost,
    photo_difference,
    remap,
    sampled_detail,
    squared_length,
)

FUSION_WINDOW = 15
"""Side (pixels) of the square over which a candidate's photo-consistency is summed: of 7, 15 and 31, 15 and 31 tie
on middlebury_others and 15 leads on ucf101 (+0.02 dB)."""
FLOW_ADVANTAGE = 0.5
"""Where the candidates disagree, the flow's wins where its cost is at most this share of the learned one's. Of 1.0,
0.8, 0.6, 0.5 and 0.4, 0.5 gave the best mean of the two shared sets; 1.0 (the plain lower cost) lost 0.2 dB to RIFE
HDv3 alone on ucf101."""
AGREE_PIXELS = 2.0
"""Candidates closer than this (pixels, both displacements together) count as the same motion: 1, 2 and 4 are
within 0.01 dB on the shared sets; 0 (every pixel judged by FLOW_ADVANTAGE) lost 0.2 dB on both."""
REFINE_ADVANTAGE = 0.1
"""Where the candidates agree, the flow's is taken where its cost is at most this share of the learned one's. With
the blend weights settled by agreement (`rife.blend_by_agreement`) and no clean-match rule, middlebury_others (sRGB /
through the retimer) and two slowly spinning CG balls: 0.3 gave 35.20 / 34.76 / 31.32 / 34.83 dB, 0.2 35.36 / 34.91 /
31.23 / 34.71, 0.1 35.43 / 34.97 / 31.16 / 34.65 (ucf101 within 0.01 dB); the balls' loss is won back by the
clean-match rule (CLEAN_COST). Before the weights were settled, 0.3 was best: the flow's occlusion-aware weights,
taken with its motion, made up for the net's mask."""
DETAIL_SHARE = 0.25
"""Where the candidates disagree, the flow's wins only where the detail it samples (both frames) is at least this
share of what the learned one samples. On the CG ball moving further than its own size: 0 (no such rule) 11.6 dB,
0.25 13.6 dB, 0.5 13.8 dB; the shared sets are unchanged at 0.25 (ucf101 -0.03 dB at 0.5), the issue's ball loses
0.15 dB (0.35 at 0.5)."""
UNCONFIRMED_SHARE = 0.6
"""Where the candidates disagree, the flow's loses where at least this share of what it samples over the window (both
frames) fails the forward-backward check. Scored through the retimer's own path (scene-linear frames, the log motion
signal), without this rule the fusion was 0.11 dB below RIFE HDv3 alone on ucf101 (34.27 against 34.38 dB): small,
compressed frames whose DIS flow the other direction often does not confirm. Of 0.9, 0.7, 0.6, 0.5 and 0.4 (with
CLEAN_COST 0.02), 0.6 gave ucf101 34.37 and middlebury_others 34.43 (RIFE HDv3 34.38 / 34.42) on that path, 34.74 /
34.93 on the sRGB one. On the 64 px CG ball moving 80 px, DIS followed none of it (91% of the frame inconsistent) and
87 pixels still took its motion: 13.51 dB against the net's 13.83, 13.81 with this rule."""
CLEAN_COST = 0.04
"""A photo cost below which the flow's match counts as clean (the mean over the window of |A - B| summed over the
signal's channels; grain and compression on real footage stay mostly above it). Where it is clean and flat
(CLEAN_DETAIL), the flow's lower cost wins outright. Middlebury_others (sRGB / retimer), ucf101 (the same) and the
two spinning balls, against the flow method alone on the balls (31.63 / 35.13 dB): without the rule 35.43 / 34.97,
34.82 / 34.47, 31.16 / 34.65; CLEAN_COST 0.02 (margin 0.7) 35.42 / 34.95, 34.82 / 34.47, 31.29 / 34.91; 0.04 35.42 /
34.96, 34.82 / 34.47, 31.36 / 34.99. The earlier rule, 0.02 with no flatness test, kept the balls (31.44 / 35.02) but
took the flow over three quarters of Urban2, a textured CG city, 0.8 dB below the net alone there."""
CLEAN_DETAIL = 0.05
"""The picture detail (see `_detail`, the learned motion's samples) below which a clean match counts as flat: of the
pixels the earlier rule gave the flow, half had under 0.03 on the spinning balls and over 0.10 on Urban2. 0.04 gave
the balls 31.22 / 34.86 dB, 0.05 31.29 / 34.91, 0.07 31.31 / 34.93 but Walking 0.12 dB below the net (CLEAN_COST 0.02,
the sets within 0.01 dB)."""
REGION_SHARE = 0.2
"""The share of the fusion window whose pixels took the flow's motion for a pixel nearby to take it at
REGION_ADVANTAGE. Measured with REGION_ADVANTAGE 0.7 and no REGION_APART floor, on the two slowly spinning balls and
Walking through the retimer's path (0.07 dB below the net without the rule): 0.1 31.59 / 35.14 dB and Walking 0.20
below, 0.2 31.54 / 35.13 and 0.14 below, 0.3 31.51 / 35.11 and 0.11 below. With the floor, 0.2 gives 31.49 / 35.10
and 0.08 below."""
REGION_ADVANTAGE = 0.7
"""Within a region the flow has won, the flow's cost must be at most this share of the learned one's. 0.5 (with
REGION_SHARE 0.2, REGION_APART 0.5) gave the balls 31.48 / 35.07 dB and Walking 0.11 below the net, 1.0 (0.3, 0.5)
31.49 / 35.10 and 0.10 below, 0.7 (0.2, 0.75) 31.49 / 35.10 and 0.08 below."""
REGION_APART = 0.75
"""Pixels apart (both displacements together) the two motions must be for the region rule to apply: on real
footage and Urban2 the pixels it would give the flow are mostly under a pixel apart, its noise, and on the balls
mostly over. With REGION_SHARE 0.2: none 31.54 / 35.13 dB on the balls and Walking 0.14 dB below the net, 0.75
31.49 / 35.10 and 0.08 below, 1.0 31.47 / 35.08 and 0.08 below; both shared sets within 0.01 dB throughout."""
AGREE_SHARE = 0.25
"""Where the candidates agree and the learned one is kept, its motion moves this share of the way toward the flow's:
two estimates whose sub-pixel errors are their own average to a better one (both motions still move the pixels, one
warp: nothing is blended between them). On middlebury_others (sRGB / through the retimer), ucf101 (the same), the
two slowly spinning CG balls and the 24 textured squares: 0 (no such rule) 35.34 / 34.91, 34.78 / 34.45, 31.49 /
35.10, 36.22 / 33.81 dB; 0.15 35.40 / 34.95, 34.81 / 34.48, 31.54 / 35.13, the squares within 0.01 dB; 0.25 35.42 /
34.95, 34.82 / 34.49, 31.57 / 35.15; 0.35 35.40 / 34.92, 34.82 / 34.49, 31.60 / 35.17. Walking through the
retimer's path, where the net's motion is right along the chair's edges and the flow's a fraction off, falls to
0.15 dB below the better method alone at 0.25 (0.10 without the rule); counting only where the flow's samples pass its
forward-backward check, or weighting by the two photo costs, measured the same."""
TRANSLATION_ADVANTAGE = 0.5
"""A frame's pixel belongs to the part moving by a translation where that matches it into the other frame at most
this share of its own flow's cost (`_translated`). On the 24 squares (mean, and how many stay more than 0.1 dB below
the better method alone; 34.69 dB and 5 without translations), with TRANSLATION_OPENING 3: 0.2 34.87 dB and 4, 0.3
34.95 and 4, 0.4 35.00 and 3, 0.5 35.06 and 3 but the issue's ball 0.12 dB lower on one frame; with the opening at 5,
0.4 34.96 and 3, 0.5 35.01 and 3 and the balls unchanged. The shared sets moved by 0.01 dB at most throughout."""
TRANSLATION_OPENING = 5
"""Side (pixels) of the opening applied to the pixels given a translation: slivers along a spinning ball's rim are
not a subject (see TRANSLATION_ADVANTAGE)."""
FUSION_GRID = PatchGrid(stride=4, descent_iterations=50, coarse_scale=2)
"""DIS's patch grid for the flow candidate: the flow method's grid down to a quarter of the size, then a quarter of
its patches at full resolution (stride 4, not 2) with twice the descent steps. DIS runs in about half the time
(0.25 against 0.49 s a direction on a 960x540 pair, one thread) and the fusion's figures against the flow method's
own grid: both shared sets +0.03 and +0.02 dB, two slowly spinning CG balls +0.04 and +0.02 dB, the issue's ball
0.11 dB lower (still 1.5 dB above RIFE HDv3 and 1.2 above the flow method), the 64 px ball 0.05 lower. One pass at
stride 4 missed motion at the coarse levels; the first pass to half size instead of a quarter took 0.34 s for the
same figures; a half-size finest level, even refined variationally at full size, lost 0.6 dB on two spinning balls
(benchmarks/bench_retime_quality.py)."""


def candidate_flow(
    signal_a: np.ndarray, signal_b: np.ndarray, size: tuple[int, int], *, threads: int | None = None
) -> PairFlow:
    """The fusion's flow candidate for a pair of motion signals, estimated at `size` (width, height).

    `size` is the network's working size (`rife.working_size`): a plate larger than 2K has its motion estimated
    by the net at half size or less, and the flow candidate, its photo costs and the choice between them are made at
    that size too, so the fusion's cost follows the net's instead of the plate's (at 4096x2160 an in-between took
    19 to 22 s with them at full size, the net 2.6 s of it, and takes 6 to 7.5 s). `fuse` takes it at either size.
    """
    height, width = signal_a.shape[:2]
    if size != (width, height):
        signal_a, signal_b = (cv2.resize(s, size, interpolation=cv2.INTER_AREA) for s in (signal_a, signal_b))
    return estimate_flow(signal_a, signal_b, threads=threads, grid=FUSION_GRID)


def fuse(learned: LearnedMotion, flow: PairFlow, t: float) -> LearnedMotion:
    """The learned motion at t with the flow method's taken wherever that explains the pair clearly better.

    `flow` is the flow method's estimate of the same pair (its motion signals are the ones judged on), `learned`
    the network's motion at the same t, at the flow's size or larger (`candidate_flow`). Returns the same kind of
    motion at the learned motion's size, ready for `interpolate_learned`.
    """
    if flow.forward.shape[:2] != learned.to_a.shape[:2]:
        return _fused_at_flow_size(learned, flow, t)
    to_a, to_b, weight_b = inbetween_motion(flow, t)
    apart = squared_length(to_a - learned.to_a) + squared_length(to_b - learned.to_b)
    disagree = apart > AGREE_PIXELS * AGREE_PIXELS
    cost_learned = photo_cost(flow.signal_a, learned.to_a, flow.signal_b, learned.to_b, FUSION_WINDOW)
    difference = photo_difference(flow.signal_a, to_a, flow.signal_b, to_b)
    cost_flow = cv2.blur(difference, (FUSION_WINDOW, FUSION_WINDOW))
    detail_learned = _detail(flow, learned.to_a, learned.to_b)
    clean = (cost_flow < CLEAN_COST) & (detail_learned < CLEAN_DETAIL)
    use_flow = cost_flow < np.where(clean, 1.0, REFINE_ADVANTAGE).astype(np.float32) * cost_learned
    if disagree.any():
        # The pixels the flow's own weights take from one frame alone (an occlusion) are no evidence against it:
        # the two frames cannot agree there, whatever the motion. Those whose sample falls outside a frame (the
        # strip a pan brings in) are no evidence for it either, and count in full: the net, shown that strip moving
        # with the pan (`shared_motion`), keeps it unless the flow matches clearly better.
        beyond_a, beyond_b = outside(to_a), outside(to_b)
        cost_seen = cv2.blur(
            difference * np.maximum(_seen_by_both(weight_b, t), np.maximum(beyond_a, beyond_b)),
            (FUSION_WINDOW, FUSION_WINDOW),
        )
        wins = cost_seen < np.float32(FLOW_ADVANTAGE) * cost_learned
        detail_flow = _detail(flow, to_a, to_b)
        wins &= detail_flow >= DETAIL_SHARE * detail_learned
        use_flow = np.where(disagree, wins & _confirmed(flow, to_a, to_b, beyond_a, beyond_b), use_flow)
    within = ~disagree & ~use_flow & (apart >= REGION_APART * REGION_APART)
    within &= cost_flow < REGION_ADVANTAGE * cost_learned
    if within.any():
        won = cv2.blur(use_flow.astype(np.float32), (FUSION_WINDOW, FUSION_WINDOW))
        use_flow |= within & (won >= REGION_SHARE)
    pick = use_flow[..., None]
    toward = np.where(disagree, np.float32(0.0), np.float32(AGREE_SHARE))[..., None]
    fused = LearnedMotion(
        to_a=np.where(pick, to_a, learned.to_a + toward * (to_a - learned.to_a)),
        to_b=np.where(pick, to_b, learned.to_b + toward * (to_b - learned.to_b)),
        weight_b=np.where(use_flow, weight_b, learned.weight_b).astype(np.float32),
    )
    if not disagree.any():
        return fused
    return _translated(fused, np.where(use_flow, detail_flow, detail_learned), flow, t, disagree)


def _fused_at_flow_size(learned: LearnedMotion, flow: PairFlow, t: float) -> LearnedMotion:
    """`fuse` made at the flow's (smaller) size: the learned motion is reduced to it, fused there, and what the
    fusion changed is brought back up and added to the full-size learned motion, so a pixel the fusion left alone
    keeps the net's motion exactly."""
    height, width = learned.to_a.shape[:2]
    small_h, small_w = flow.forward.shape[:2]
    down = np.float32([small_w / width, small_h / height])
    small = LearnedMotion(
        to_a=_resized(learned.to_a, (small_w, small_h)) * down,
        to_b=_resized(learned.to_b, (small_w, small_h)) * down,
        weight_b=_resized(learned.weight_b, (small_w, small_h)),
    )
    fused = fuse(small, flow, t)
    full = (width, height)
    return LearnedMotion(
        to_a=learned.to_a + _resized(fused.to_a - small.to_a, full) / down,
        to_b=learned.to_b + _resized(fused.to_b - small.to_b, full) / down,
        weight_b=np.clip(learned.weight_b + _resized(fused.weight_b - small.weight_b, full), 0.0, 1.0),
    )


def _resized(field: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float32 field (H x W or H x W x 2) at `size` (width, height): area-averaged down, bilinear up."""
    shrink = size[0] < field.shape[1]
    out = cv2.resize(field, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out.reshape(size[1], size[0], *field.shape[2:]).astype(np.float32, copy=False)


def _translated(
    motion: LearnedMotion, detail: np.ndarray, flow: PairFlow, t: float, where: np.ndarray
) -> LearnedMotion:
    """`motion` with a whole-subject translation (`translations`) taken where both frames place that subject.

    Photo-consistency at the in-between cannot see a subject that moved further than its own size over a textured
    ground: the ground is visible at x in both frames, so "still ground" matches there perfectly, yet the subject
    must be somewhere at time t. The frames' own pixels say where: a pixel x of `where` (the net and the flow
    disagree there) can take a translation d when A's pixel at x - t d and B's at x + (1 - t) d both belong to the
    part moving by d (d matches them into the other frame far better than their own flow does, `_part_of`). Of those,
    it takes the one that explains it best (the lowest photo cost, on at least DETAIL_SHARE of `detail`, the picture
    detail `motion` samples, as for the flow's motion). The pixels taken are opened by TRANSLATION_OPENING: slivers
    along a spinning subject's rim are not a subject.
    """
    signal_a, signal_b = flow.signal_a, flow.signal_b
    pair = _translation_parts(flow)
    if not pair.shifts:
        return motion
    window = (FUSION_WINDOW, FUSION_WINDOW)
    floor = np.float32(DETAIL_SHARE) * detail
    best = np.full(where.shape, np.inf, np.float32)
    index = np.zeros(where.shape, np.uint8)
    for k, (d, (in_a, in_b)) in enumerate(zip(pair.shifts, pair.parts, strict=True)):
        placed = where & (shifted(in_a.astype(np.float32), -t * d) > 0.5)
        placed &= shifted(in_b.astype(np.float32), (1.0 - t) * d) > 0.5
        if not placed.any():
            continue
        cost = cv2.blur(translated_difference(signal_a, signal_b, d, t), window)
        cost[~placed | (shifted(pair.own_a, -t * d) + shifted(pair.own_b, (1.0 - t) * d) < floor)] = np.inf
        index[cost < best] = k
        np.minimum(best, cost, out=best)
    chosen = np.float32(pair.shifts)[index]
    to_a, to_b = np.float32(-t) * chosen, np.float32(1.0 - t) * chosen
    apart = squared_length(to_a - motion.to_a) + squared_length(to_b - motion.to_b)
    take = (np.isfinite(best) & (apart > AGREE_PIXELS * AGREE_PIXELS)).astype(np.uint8)
    opening = np.ones((TRANSLATION_OPENING, TRANSLATION_OPENING), np.uint8)
    take = cv2.morphologyEx(take, cv2.MORPH_OPEN, opening).astype(bool)
    if not take.any():
        return motion
    pick = take[..., None]
    return LearnedMotion(
        to_a=np.where(pick, to_a, motion.to_a),
        to_b=np.where(pick, to_b, motion.to_b),
        weight_b=np.where(take, np.float32(t), motion.weight_b).astype(np.float32),
    )


@dataclass(frozen=True)
class _TranslationParts:
    """What the translation rule needs of a pair whatever the time: the translations, each frame's own detail and,
    per translation, the parts of A and of B that move by it (`_part_of`, uint8)."""

    shifts: list[np.ndarray]
    own_a: np.ndarray
    own_b: np.ndarray
    parts: list[tuple[np.ndarray, np.ndarray]]


_PARTS: weakref.WeakKeyDictionary[PairFlow, _TranslationParts] = weakref.WeakKeyDictionary()
"""`_TranslationParts` kept for as long as their pair's estimate lives: a 4x slow-down fuses three times per pair, and
about 45 ms of the translation rule's time per in-between at 960x540 is the same each time."""


def _translation_parts(flow: PairFlow) -> _TranslationParts:
    """The pair's `_TranslationParts`, worked out on its first in-between."""
    kept = _PARTS.get(flow)
    if kept is not None:
        return kept
    signal_a, signal_b = flow.signal_a, flow.signal_b
    shifts = translations(signal_a, signal_b)
    parts = []  # 0 / 1 bytes: a pair's estimate is kept for its in-betweens, and these with it
    if shifts:
        flow_cost_a = photo_cost(signal_a, None, signal_b, flow.forward, FUSION_WINDOW)
        flow_cost_b = photo_cost(signal_b, None, signal_a, flow.backward, FUSION_WINDOW)
        parts = [
            (_part_of(signal_a, signal_b, flow_cost_a, d), _part_of(signal_b, signal_a, flow_cost_b, -d))
            for d in shifts
        ]
    own_a, own_b = sampled_detail(signal_a, None, FUSION_WINDOW), sampled_detail(signal_b, None, FUSION_WINDOW)
    kept = _PARTS[flow] = _TranslationParts(shifts, own_a, own_b, parts)
    return kept


def _part_of(signal_from: np.ndarray, signal_to: np.ndarray, flow_cost: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Where a frame's pixels move by d: d matches them into the other frame far better than their own flow does.

    `flow_cost` is the photo cost of the frame's own flow over the fusion window (where that flow is d already,
    the two costs are equal and the test fails). Uint8 H x W, 1 where (resampled to the in-between as float32).
    """
    moved = cv2.blur(absolute_difference(signal_from, shifted(signal_to, d)), (FUSION_WINDOW, FUSION_WINDOW))
    return (moved < np.float32(TRANSLATION_ADVANTAGE) * flow_cost).astype(np.uint8)


def _seen_by_both(weight_b: np.ndarray, t: float) -> np.ndarray:
    """1 where the flow's weights blend A and B by t, falling to 0 where they take one frame alone (H x W)."""
    toward_a = (np.float32(t) - weight_b) / np.float32(max(t, 1e-6))
    toward_b = (weight_b - np.float32(t)) / np.float32(max(1.0 - t, 1e-6))
    return np.clip(1.0 - np.maximum(toward_a, toward_b), 0.0, 1.0)


def _confirmed(
    flow: PairFlow, to_a: np.ndarray, to_b: np.ndarray, beyond_a: np.ndarray, beyond_b: np.ndarray
) -> np.ndarray:
    """Where the flow's own samples pass its forward-backward check often enough over the window (bool H x W).

    A sample whose partner in the other frame falls outside it (`beyond_a`, `beyond_b`: `warp.outside` of `to_a`,
    `to_b`; a pan bringing in new picture) has nothing to be confirmed by, and its failed check is no evidence:
    counted, it kept the net's motion along the borders of the shared sets with a pan added (+0.07 to 0.10 dB there;
    without a pan within 0.01 dB).
    """
    failed_a = remap(flow.inconsistent_a[..., None], to_a, nearest=False)[..., 0] * (1.0 - beyond_b)
    failed_b = remap(flow.inconsistent_b[..., None], to_b, nearest=False)[..., 0] * (1.0 - beyond_a)
    return cv2.blur(failed_a + failed_b, (FUSION_WINDOW, FUSION_WINDOW)) < 2.0 * UNCONFIRMED_SHARE


def _detail(flow: PairFlow, to_a: np.ndarray, to_b: np.ndarray) -> np.ndarray:
    """The picture detail a motion samples from both frames (H x W), over the fusion window."""
    return sampled_detail(flow.signal_a, to_a, FUSION_WINDOW) + sampled_detail(flow.signal_b, to_b, FUSION_WINDOW)
