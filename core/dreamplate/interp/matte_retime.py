"""Matte-separated in-betweens: the foreground and the background moved by their own motion, then composited.

Kronos's Matte input (https://learn.foundry.com/nuke/8.0/content/reference_guide/time_nodes/kronos.html) is there
because one motion field cannot hold both a subject and the background it crosses: at the subject's edge the
estimate smears one motion into the other, and a panning background is dragged along with the subject. Given the
subject's matte in every source frame, each layer gets a motion estimated on its own picture (the subject on black;
the background with the subject filled in from its surroundings) and is resampled along it:

- the plate is first split into the two layers (`split_layers`): at a soft edge a pixel holds both, and the share the
  matte gives the background is the background's own colour filled in from where the matte shows it alone; the rest
  is the subject's, so the layers composite back to the plate;
- foreground: the premultiplied subject and the matte, carried by the subject's motion and blended by t;
- background: each side's sample weighted by how much of it is background, so that what the subject covers in one
  frame is taken from the other; where neither frame shows it, the filled-in estimate;
- composite: foreground over background, `fg + (1 - matte) * bg`, in scene-linear; depth and IDs whole from the layer
  that covers the pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dreamplate.interp.warp import fill_holes, remap, resample_pair

# A background sample counts in proportion to how much background it is; this floor keeps the plain blend of the
# filled-in estimates where the subject covers the pixel in both frames.
_COVERED = 1e-3


@dataclass(frozen=True)
class LayerMotion:
    """Where a layer's pixel at time t is found in A and in B: float32 H x W x 2 displacements (dx, dy) each."""

    to_a: np.ndarray
    to_b: np.ndarray

    @property
    def motion(self) -> np.ndarray:
        """The A->B motion of each pixel at t (pixels per pair)."""
        return self.to_b - self.to_a


PURE = 0.95
"""Matte values at or below 1 - PURE count as the background alone (their faint share of the subject taken out), at
or above PURE as the subject alone: the background's colour is filled in from the former into the subject and its
soft edge (`split_layers`), the subject's colour carried out from the latter. Both layers moved by their true
motion, the mean error in the band around the subject, for a textured subject with a 50.0 highlight feathered by a
Gaussian of 1, 1.5, 3 and 5 px, and for a flat 20.0 disc feathered by 3 px over a real plate (MtTamWest, Reinhard
view): 0.9 gave 0.0013 / 0.0024 / 0.0035 / 0.5905 and 0.0009; 0.95 0.0026 / 0.0026 / 0.0040 / 0.0073 and 0.0010;
0.99 0.0027 / 0.0030 / 0.0054 / 0.0082 and 0.0012."""


def background_fill(pixels: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The plate with the subject and its soft edge replaced by their surroundings (H x W x C): push-pull from the
    pixels of background alone (matte at most 1 - PURE), or by each pixel's share of background where the matte
    leaves none alone.

    A pixel counted as background alone can still hold a few percent of the subject, and in scene-linear a few
    percent of a bright subject is a lot (3% of a 20.0 subject over a 0.05 background is 0.6): that share is taken
    out with the colour of the nearest pixel of the subject alone (`_nearest_subject`). Pixels the matte gives no
    subject at all come back exactly; under the subject the values are coarse, but they only stand where neither
    frame saw the background, and the subject is composited over them.
    """
    alone = matte <= 1.0 - PURE
    if not alone.any():
        share = np.clip(1.0 - matte, 0.0, 1.0).astype(np.float32)
        return fill_holes(pixels * share[..., None], share)
    cover = matte[alone][:, None]
    own = np.zeros_like(pixels)
    own[alone] = (pixels[alone] - cover * _nearest_subject(pixels, matte)[alone]) / (1.0 - cover)
    return fill_holes(own, alone.astype(np.float32))


def _nearest_subject(pixels: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """Each pixel's subject colour (H x W x C): that of the nearest pixel of the subject alone (matte at least PURE),
    unpremultiplied by its matte, as Nuke's EdgeExtend carries a subject's colour outward; zero where the matte has no
    pixel of the subject alone."""
    subject = matte >= PURE
    if not subject.any():
        return np.zeros_like(pixels)
    _, labels = cv2.distanceTransformWithLabels(
        (~subject).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    rows, columns = np.nonzero(subject)  # label k is the k-th subject pixel in raster order
    colours = pixels[rows, columns] / matte[rows, columns][:, None]
    return colours[labels - 1]


def split_layers(pixels: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(foreground premultiplied, background) with `foreground + (1 - matte) * background == pixels` (to float32
    rounding).

    A soft edge (a feathered roto, a keyed edge, motion blur) holds both layers, `matte * subject + (1 - matte) *
    background`. The background's share there is its filled-in colour (`background_fill`) and the rest of the pixel
    is the subject's, so the edge moves with the subject instead of being left behind with the background. On the
    subjects of `PURE` (both layers moved by their true motion), the band's error: 0.0026 to 0.0073 on the textured
    subject and 0.0010 on the real plate (0.017 there while the faint share of the subject in a pixel counted as
    background stayed in it); 0.021 to 0.041 on the textured subject with the subject taken as the pixel times the
    matte and the background filled by every pixel's share of it; 0.11 to 0.45 with the subject's colour filled in
    from its inside and the remainder shared by the matte (its highlight smeared into its edge).
    """
    background = background_fill(pixels, matte)
    return pixels - (1.0 - matte[..., None]) * background, background


def foreground_signal(signal: np.ndarray, matte: np.ndarray) -> np.ndarray:
    """The motion signal of the subject alone, on black (H x W x C): the signal's foreground layer, so the
    background's texture in a soft edge does not pull the subject's motion toward the background's."""
    return split_layers(signal, matte)[0]


def composite(
    a: np.ndarray,
    b: np.ndarray,
    matte_a: np.ndarray,
    matte_b: np.ndarray,
    t: float,
    fg: LayerMotion,
    bg: LayerMotion,
    nearest: np.ndarray,
    resample: str = "bilinear",
) -> tuple[np.ndarray, np.ndarray]:
    """The in-between at t (float32 H x W x C) and its foreground matte (H x W) from the two layers' motions.

    `a`, `b`: scene-linear frames (H x W x C); `matte_a`, `matte_b`: the subject's coverage in them (H x W, 0-1);
    `nearest`: per channel, True for channels sampled nearest and never blended; `resample`: how each layer's
    colour is sampled (`warp.RESAMPLES`; the mattes are sampled bilinear).
    """
    smooth = ~nearest
    out = np.empty(a.shape, np.float32)
    # Foreground: the matte, carried by the subject's motion (its premultiplied colour below).
    cover_a = remap(matte_a[..., None], fg.to_a, nearest=False)[..., 0]
    cover_b = remap(matte_b[..., None], fg.to_b, nearest=False)[..., 0]
    cover = cover_a + t * (cover_b - cover_a)
    # Background: each side weighted by how much background its sample is.
    seen_a = (1.0 - t) * (1.0 - remap(matte_a[..., None], bg.to_a, nearest=False)[..., 0])
    seen_b = t * (1.0 - remap(matte_b[..., None], bg.to_b, nearest=False)[..., 0])
    if smooth.any():
        front_a, back_a = split_layers(a[..., smooth], matte_a)
        front_b, back_b = split_layers(b[..., smooth], matte_b)
        fa, fb = resample_pair(front_a, front_b, fg.to_a, fg.to_b, resample)
        front = fa + t * (fb - fa)
        ba, bb = resample_pair(back_a, back_b, bg.to_a, bg.to_b, resample)
        # The weighted mean of both sides (and, with the floor's weight, of their plain blend by t), written as
        # A plus a share of (B - A): exact wherever both sides agree, a still plate included.
        share_b = (seen_b + _COVERED * t) / (seen_a + seen_b + _COVERED)
        back = ba + share_b[..., None] * (bb - ba)
        out[..., smooth] = front + (1.0 - cover)[..., None] * back
    if nearest.any():
        # From the nearer frame in time, as the plain in-between takes them.
        frame, fg_shift, bg_shift = (a, fg.to_a, bg.to_a) if t < 0.5 else (b, fg.to_b, bg.to_b)
        front_ids = remap(frame[..., nearest], fg_shift, nearest=True)
        back_ids = remap(frame[..., nearest], bg_shift, nearest=True)
        out[..., nearest] = np.where((cover > 0.5)[..., None], front_ids, back_ids)
    return out, cover.astype(np.float32)


def layered_motion(fg: LayerMotion, bg: LayerMotion, cover: np.ndarray) -> np.ndarray:
    """The A->B motion of what each pixel shows (H x W x 2): the subject's where it covers the pixel, else the
    background's, mixed by coverage at soft edges."""
    return bg.motion + cover[..., None] * (fg.motion - bg.motion)
