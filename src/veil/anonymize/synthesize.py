"""Natural face replacement: a synthetic face drawn over each face, keeping its pose and
expression, belonging to nobody.

For each face the dense mesh (``veil.detect.landmarks``) gives 468 points. They are not
drawn on: ``veil.anonymize.face_shape`` fits MediaPipe's mean face to them (rotation,
scale, shift), reads the expression as four numbers (eye openings, mouth opening, smile)
and draws the mean face, reshaped by traits from the identity's seed, in that pose with
that expression; the gaze follows the original iris (the darkest part of each eye).
Nothing of the original face's pixels is copied: the face is painted from a procedural
albedo (skin with seeded texture; eyes, brows, lips, nostrils and teeth drawn from the
drawn mesh's contours, with seeded colours) lit by four numbers per colour channel, a
first-order lighting fit of the original skin on the mesh's normals (skin tone and light
direction, nothing finer). Which pixels are skin is judged by colour against the skin of
a few spots that hair and face masks seldom cover all at once, so that a fringe, a beard
or a mask does not count as skin. The result covers the person's face and the drawn one
and is blended into the picture with Poisson blending (OpenCV's ``seamlessClone``), which
matches its borders to the skin around it (where the original there is not skin, to the
drawn skin, so that dark hair does not spread into the face). Hair, ears and the outline
of the head stay, and hair reaching over the forehead or the temples stays over the drawn
face. A face mask stays in colour and outline: where most of the lower face is not skin,
those pixels are smoothed (no fold, nothing under it, nothing misjudged as a mask keeps
detail) and no mouth is drawn.

The identity comes from a seed: the pipeline ties it to the session (the same faces
within a session, different ones across sessions); without one each call draws anew, but
the frames of one video share a seed. In a video each track keeps one identity (the
region's ``track``); in a still picture faces take theirs by their place.
Where the mesh cannot be found (a tiny face, a profile, an occluded face, a picture that
is not 8-bit grey or RGB) the region is filled, never left as it was.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from veil.anonymize.face_shape import (
    MOUTH_BOTTOM,
    MOUTH_TOP,
    NOSE_BASE,
    Traits,
    expression,
    fit_pose,
    synthetic,
)
from veil.anonymize.operators import Fill, OperatorBase
from veil.detect.landmarks import face_mesh, topology
from veil.regions import Box, Region

WORK_SIDE = 256
"""Faces larger than this (px, longer side of the mesh) are rendered at this size and
scaled up: the synthetic face has no finer detail to lose."""
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
NOSE_RIGHT, NOSE_LEFT = 98, 327
CHEEKS = (50, 280)
EYE_CORNERS = (33, 133, 263, 362)
NOSE_BRIDGE = 197
SKIN_APART = 15.0
"""Colour distance (CIELAB, lightness counted less: ``LIGHTNESS_SLACK``) from the person's
skin beyond which a pixel is not skin (hair, a face mask, a beard)."""
OCCLUDED = 0.45
"""Share of the lower face (below the nose's middle) not skin from which it counts as
covered (a face mask): those pixels are smoothed, no mouth is drawn."""
SKIN_SPOTS = (9, 168, 6, 117, 346, 118, 347)
"""Between the brows, the nose's root and bridge, the upper cheeks (above a face mask,
below a fringe)."""
SKIN_CHROMA = 8.0
SKIN_HUES = (10.0, 90.0)
"""CIELAB chroma and hue angles (degrees, red to yellow) of skin under ordinary light; a
white or blue face mask and black or grey hair fall outside."""
LIGHTNESS_SLACK = 2.5
"""How much less a difference in lightness counts than one in hue when judging skin."""
SCLERA = (0.74, 0.70, 0.66)
"""The white of the eye under average light (linear RGB 0..1): in a face it is never
paper white."""
LID_SHADOW = 0.18
"""How much darker the fold over the upper lid is drawn."""
NESTED = 0.8
"""Share of a region's area inside a face already drawn from which it is a part of that
face, not a face of its own."""
CAVITY = 1.2
"""How much darker hollows of the mesh (eye sockets, beside the nose, under the lip) are
drawn, per eye distance of depth below the surroundings."""
IRIS_COLOURS = np.array([
    (0.22, 0.13, 0.07), (0.36, 0.22, 0.11), (0.42, 0.34, 0.17), (0.28, 0.36, 0.22),
    (0.30, 0.42, 0.56), (0.42, 0.45, 0.47)])
"""Dark brown, brown, hazel, green, blue, grey (linear RGB 0..1)."""


class Synthesize(OperatorBase):
    """Replace each face with a synthetic one aligned to its landmarks (see module).

    ``seed`` fixes the identities (the pipeline sets it from the session when the policy
    leaves it unset; unset, each call draws new ones). ``min_score`` is the landmark
    model's face-presence score below which a face is filled instead; ``min_size`` the
    face height (px) below which it is filled (too few pixels to draw a face on).
    """

    name: Literal["synthesize"] = "synthesize"
    seed: int | None = Field(default=None, ge=0)
    min_score: float = Field(default=0.5, ge=0.0, le=1.0)
    min_size: int = Field(default=16, ge=8)

    def for_session(self, session: str | None) -> Synthesize:
        """This operator with identities tied to ``session`` (unless the policy fixed a
        seed); without a session, fresh identities for this one use."""
        if self.seed is not None:
            return self
        if session is None:
            return self.model_copy(update={"seed": secrets.randbits(63)})
        digest = hashlib.sha256(b"veil synthesize\0" + session.encode()).digest()
        return self.model_copy(update={"seed": int.from_bytes(digest[:8], "big") >> 1})

    def apply_all(self, image: np.ndarray, regions: Iterable[Region]) -> np.ndarray:
        return self.apply_noting(image, list(regions))[0]

    def apply_noting(self, image: np.ndarray, regions: Sequence[Region]
                     ) -> tuple[np.ndarray, list[str]]:
        out = image.copy()
        seed = self.seed if self.seed is not None else secrets.randbits(63)
        by_place = sorted(range(len(regions)),
                          key=lambda i: (regions[i].box[0], regions[i].box[1]))
        place = {i: n for n, i in enumerate(by_place)}
        names: list[str] = [self.name] * len(regions)
        drawn: list[Box] = []
        sticking_out: list[Region] = []
        for i in sorted(by_place, key=lambda i: -_area(regions[i].box)):  # larger first
            region, index = regions[i], place[i]
            if any(_share_inside(region.box, box) >= NESTED for box in drawn):
                # a part of a face already drawn (a second, smaller box on its mouth):
                # drawing again would put a face on the face; what sticks out is filled
                sticking_out += _outside(region, drawn)
                continue
            # along a video track one identity, else one per face by its place
            who = [seed, 1, region.track] if region.track is not None else [seed, index]
            if self._synthesize(out, region, np.random.default_rng(who)):
                drawn.append(region.box)
            else:
                names[i] = Fill().name
        fallback = [r for r, name in zip(regions, names, strict=True) if name != self.name]
        fallback += sticking_out
        return (Fill().apply_all(out, fallback) if fallback else out), names

    def _synthesize(self, out: np.ndarray, region: Region, rng: np.random.Generator) -> bool:
        """Draw a synthetic face over ``region`` in place; False when it cannot."""
        grey = out.ndim == 2 or (out.ndim == 3 and out.shape[2] == 1)
        if out.dtype != np.uint8 or not (grey or (out.ndim == 3 and out.shape[2] == 3)):
            return False
        if region.height < self.min_size:
            return False
        rgb = cv2.cvtColor(out.reshape(out.shape[:2]), cv2.COLOR_GRAY2RGB) if grey else out
        mesh = face_mesh(rgb, region.box)
        if mesh.score < self.min_score or not _inside(mesh.points, region.box):
            return False
        who = _Identity.draw(rng)
        pose = fit_pose(mesh.points)
        drawn = synthetic(pose, expression(mesh.points, pose), who.shape)
        face = _render_into(rgb, mesh.points, drawn, region.box, who, rng)
        if face is None:
            return False
        if grey:
            out[...] = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).reshape(out.shape)
        return True


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _share_inside(box: Box, other: Box) -> float:
    """The share of ``box``'s area that lies inside ``other``."""
    w = min(box[2], other[2]) - max(box[0], other[0])
    h = min(box[3], other[3]) - max(box[1], other[1])
    return max(0, w) * max(0, h) / max(_area(box), 1)


def _outside(region: Region, drawn: Sequence[Box]) -> list[Region]:
    """``region`` masked to its pixels outside every box of ``drawn`` (none if none)."""
    x1, y1, x2, y2 = region.box
    outside = np.ones((y2 - y1, x2 - x1), bool) if region.mask is None else region.mask.astype(
        bool)
    for a1, b1, a2, b2 in drawn:
        outside[max(b1 - y1, 0) : max(b2 - y1, 0), max(a1 - x1, 0) : max(a2 - x1, 0)] = False
    return [replace(region, mask=outside)] if outside.any() else []


def _inside(points: np.ndarray, box: Box) -> bool:
    """The mesh lies on the detected face: its centre inside the box, its size close."""
    x1, y1, x2, y2 = box
    cx, cy = points[:, :2].mean(axis=0)
    width = np.ptp(points[:, 0])
    return bool(x1 <= cx < x2 and y1 <= cy < y2 and 0.25 < width / (x2 - x1) < 2.0)


@dataclass(frozen=True, slots=True)
class _Identity:
    """The seeded traits of one synthetic face: its shape and its colours."""

    shape: Traits
    brow_thickness: float
    brow_darkness: float
    lip_tint: tuple[float, float, float]
    iris: tuple[float, float, float]
    cheek: float
    texture: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> _Identity:
        return cls(
            shape=Traits.draw(rng),
            brow_thickness=float(rng.uniform(0.7, 1.5)),
            brow_darkness=float(rng.uniform(0.35, 0.7)),
            lip_tint=(float(rng.uniform(0.78, 0.92)), float(rng.uniform(0.5, 0.66)),
                      float(rng.uniform(0.55, 0.7))),
            iris=tuple(IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))].tolist()),
            cheek=float(rng.uniform(0.0, 0.08)),
            texture=float(rng.uniform(0.015, 0.04)),
        )


def _render_into(image: np.ndarray, points: np.ndarray, drawn: np.ndarray, box: Box,
                 who: _Identity, rng: np.random.Generator) -> np.ndarray | None:
    """Render the synthetic face on ``drawn`` (its points) and blend it into ``image`` (in
    place) within ``box``, over the person's face (``points``) and the drawn one. Returns
    the changed window, or None when too little of it is visible."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    span = max(np.ptp(points[:, 0]), np.ptp(points[:, 1]))
    pad = int(span * 0.1) + 4
    wx1, wy1 = max(0, x1 - pad), max(0, y1 - pad)
    wx2, wy2 = min(w, x2 + pad), min(h, y2 + pad)
    scale = min(1.0, WORK_SIDE / span)
    window = image[wy1:wy2, wx1:wx2]
    size = (max(8, round((wx2 - wx1) * scale)), max(8, round((wy2 - wy1) * scale)))
    dst = cv2.resize(window, size, interpolation=cv2.INTER_AREA) if scale < 1 else window.copy()
    pts = (points - [wx1, wy1, 0]) * scale
    new = (drawn - [wx1, wy1, 0]) * scale
    inside = np.zeros(dst.shape[:2], np.uint8)  # the box, 2 px in, at work scale
    bx1, by1 = round((x1 - wx1) * scale) + 2, round((y1 - wy1) * scale) + 2
    bx2, by2 = round((x2 - wx1) * scale) - 2, round((y2 - wy1) * scale) - 2
    inside[max(1, by1):min(dst.shape[0] - 1, by2), max(1, bx1):min(dst.shape[1] - 1, bx2)] = 1
    mask = np.zeros(dst.shape[:2], np.uint8)
    for face in (pts, new):
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(face[:, :2]).astype(np.int32)), 1)
    shrink = max(1, round(span * scale * 0.04))  # keep the border on skin, off the hair
    mask = cv2.erode(mask, np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8)) & inside
    if int(mask.sum()) < 64:
        return None
    painted = _paint(dst, pts, new, mask.astype(bool), who, rng)
    render, keep = painted.face, painted.covered
    mask[keep | painted.hair] = 0
    if int(mask.sum()) < 64:
        return None
    # within the box the blend takes its border from the drawn skin wherever the original
    # there is hair or a face mask, so that their colour does not spread into the face; at
    # the box's edge from the original, so that the face meets it without a step
    around = dst.copy()
    unlike = painted.foreign & inside.astype(bool)
    around[unlike] = render[unlike]
    ys, xs = np.nonzero(mask)
    rx, ry, rw, rh = xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
    blended = cv2.seamlessClone(render, around, mask * 255,
                                (int(rx + rw // 2), int(ry + rh // 2)), cv2.NORMAL_CLONE)
    if keep.any():  # a face mask keeps its colour and outline, not its folds or what is under it
        blended[keep] = _smoothed(dst, keep, span * scale * 0.06)[keep]
    alpha = (mask | keep).astype(np.float32)
    if scale < 1:
        full = (wx2 - wx1, wy2 - wy1)
        blended = cv2.resize(blended, full, interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(cv2.erode(alpha, np.ones((2, 2), np.uint8)), full,
                           interpolation=cv2.INTER_LINEAR)
    box_only = np.zeros(alpha.shape, np.float32)
    box_only[y1 - wy1 : y2 - wy1, x1 - wx1 : x2 - wx1] = 1
    a = (alpha * box_only)[..., None]
    mixed = window.astype(np.float32) * (1 - a) + blended.astype(np.float32) * a
    window[...] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
    return window


@dataclass(frozen=True, slots=True)
class _Painted:
    """A drawn face (RGB uint8, the window's size) and, in the original: the occluders of
    the lower face (a face mask, kept smoothed), the hair reaching over the forehead and
    the temples (kept as it is) and what is foreign to the face there: what is darker than
    the skin and not like it (hair), and the occluders."""

    face: np.ndarray
    covered: np.ndarray
    hair: np.ndarray
    foreign: np.ndarray


def _paint(original: np.ndarray, person: np.ndarray, pts: np.ndarray, mask: np.ndarray,
           who: _Identity, rng: np.random.Generator) -> _Painted:
    """The synthetic face drawn on ``pts`` over the whole window (blending reads it inside
    ``mask`` and just around it: beyond the face it continues the fitted skin, so that no
    step at the mask's border is carried into the blend), with what the original holds
    there (see ``_Painted``). The person's own points (``person``) only say where the
    original's features lie (kept out of the light fit) and where its lower face is."""
    lines = topology().lines
    shape = original.shape[:2]
    right, left = pts[RIGHT_EYE_OUTER, :2], pts[LEFT_EYE_OUTER, :2]
    eye_dist = float(np.linalg.norm(left - right)) or 1.0
    across = (left - right) / eye_dist  # the face's own x axis
    down = np.array([-across[1], across[0]])

    parts = {name: _features(original, person, lines, name, mask) for name in
             ("right_eye", "left_eye", "right_eyebrow", "left_eyebrow", "lips")}
    features = np.zeros(shape, bool)
    for part in parts.values():
        features |= cv2.dilate(part.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    skin = mask & ~features

    depth = _spread(shape, pts[:, :2], -pts[:, 2], eye_dist * 0.1)
    normals = _normals(depth)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    bridge = person[NOSE_BRIDGE]
    height = (cols - bridge[0]) * down[0] + (rows - bridge[1]) * down[1]
    upper = skin & (height < 0)  # above the nose's middle: rarely covered (masks, beards)
    apart = _skin_apart(original, person, eye_dist)
    like = apart < SKIN_APART  # not hair, a mask, a beard
    light = _fit_light(original, normals, next(
        (m for m in (skin & like, upper, skin, mask) if m.sum() >= 32), mask))
    keep = _occluders(mask & (height > 0), like)
    eye_line = float(((person[list(EYE_CORNERS), :2] - bridge[:2]) @ down).mean())
    grey = original.astype(np.float32).mean(axis=2)
    darker = grey < np.median(grey[mask & like]) if (mask & like).any() else True
    hair = _reaching_in(~like & darker & ~features & (height < eye_line), mask)
    foreign = (~like & darker) | keep
    tone = np.maximum(np.median(light[mask], axis=0), 1.0)
    cavity = depth - cv2.GaussianBlur(depth, (0, 0), eye_dist * 0.3)
    shading = np.clip(light * (1 + CAVITY * np.clip(cavity / eye_dist, -0.3, 0.3))[..., None],
                      1.0, 255.0)

    albedo = np.ones((*shape, 3), np.float32)
    grain = _noise(shape, rng, eye_dist * 0.15) * who.texture + _noise(
        shape, rng, 0.7) * who.texture * 0.3
    albedo *= 1 + grain[..., None]
    for index in CHEEKS:
        blob: np.ndarray = np.zeros(shape, np.float32)
        cv2.circle(blob, _pt(pts[index]), max(1, round(eye_dist * 0.25)), 1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), eye_dist * 0.15)
        albedo *= 1 - who.cheek * blob[..., None] * np.array([0.0, 0.6, 0.5], np.float32)

    def paint(where: np.ndarray, colour: np.ndarray) -> None:
        x, y, w, h = cv2.boundingRect((where > 0).astype(np.uint8))  # only where it paints
        a = where[y : y + h, x : x + w].astype(np.float32)[..., None]
        part = albedo[y : y + h, x : x + w]
        part += a * (colour.astype(np.float32) - part)

    def absolute(rgb: tuple[float, float, float]) -> np.ndarray:
        return np.asarray(np.asarray(rgb) * 255.0 / tone)  # an absolute colour under average light

    thin = max(1, round(eye_dist * 0.02))

    # eyes: the iris where the original looks
    for name in ("right_eye", "left_eye"):
        (outline,) = lines[name]
        eye = pts[outline, :2]
        sclera = _soft_poly(shape, eye)
        # the lid's fold: a soft shadow over the upper lid
        fold = np.vstack([eye[7:], (eye[7:] - down * eye_dist * 0.12)[::-1]])
        shadow = cv2.GaussianBlur(_poly(shape, fold).astype(np.float32), (0, 0),
                                  max(0.6, eye_dist * 0.04))
        albedo *= 1 - LID_SHADOW * shadow[..., None]
        paint(sclera, absolute(SCLERA))
        gaze = _gaze(original, person[outline, :2], across)
        corners = eye[[7, 15]]  # inner and outer corner
        width = float(np.linalg.norm(corners[1] - corners[0]))
        centre = corners.mean(axis=0)
        opening = float(np.ptp((eye - centre) @ down))
        if gaze is not None and opening > 0.12 * max(width, 1.0):
            iris_centre = centre + width * gaze[0] * across + opening * gaze[1] * down
            radius = 0.22 * width
            disc = np.zeros(shape, np.float32)
            cv2.circle(disc, _pt(iris_centre), max(1, round(radius)), 1.0, -1, cv2.LINE_AA)
            paint(disc * sclera, absolute(who.iris))
            pupil = np.zeros(shape, np.float32)
            cv2.circle(pupil, _pt(iris_centre), max(1, round(radius * 0.42)), 1.0, -1,
                       cv2.LINE_AA)
            paint(pupil * sclera, absolute((0.04, 0.04, 0.05)))
        # the lashes along the upper lid (inner corner, over the lid, to the outer corner),
        # drawn inside the eye so the lid's dark edge is where the lid is
        upper = eye[7:] + down * (thin + 1) / 2
        lash = np.zeros(shape, np.float32)
        cv2.polylines(lash, [np.round(upper).astype(np.int32)], False, 1.0, thin + 1,
                      cv2.LINE_AA)
        paint(lash * 0.85, absolute((0.08, 0.06, 0.05)))
        lower_lid = np.zeros(shape, np.float32)  # the lower lid's faint edge
        cv2.polylines(lower_lid, [np.round(eye[:8]).astype(np.int32)], False, 1.0, thin,
                      cv2.LINE_AA)
        albedo *= 1 - 0.25 * lower_lid[..., None]

    # brows, thickened with the identity
    for name in ("right_eyebrow", "left_eyebrow"):
        lower, upper = (pts[line, :2] for line in lines[name])
        middle = (lower + upper) / 2
        half = (upper - lower) / 2 * who.brow_thickness
        brow = np.vstack([middle - half, (middle + half)[::-1]])
        where = cv2.GaussianBlur(_poly(shape, brow).astype(np.float32), (0, 0),
                                 max(0.6, eye_dist * 0.02))
        paint(where * 0.9, np.full(3, who.brow_darkness, np.float32))

    if keep.any():  # the mouth and nostrils are under a mask: none is drawn
        return _Painted(_finish(original, albedo, shading, skin, rng), keep, hair, foreign)

    # mouth: lips tinted, the opening dark with teeth on top
    outer, inner = lines["lips"]
    lips_outer, lips_inner = pts[outer, :2], pts[inner, :2]
    lip_area = cv2.GaussianBlur(_poly(shape, lips_outer).astype(np.float32), (0, 0),
                                max(0.6, eye_dist * 0.025))
    paint(lip_area, np.asarray(who.lip_tint, np.float32))
    opening_mask = _poly(shape, lips_inner)
    gap = float(np.linalg.norm(pts[MOUTH_TOP, :2] - pts[MOUTH_BOTTOM, :2]))
    if opening_mask.any():
        paint(opening_mask, absolute((0.12, 0.05, 0.05)))
        lift = down * gap * 0.45
        shifted = _poly(shape, lips_inner - lift)
        paint(opening_mask & shifted, absolute((0.82, 0.79, 0.72)))

    # nostrils, as wide apart as the drawn nose
    base = pts[NOSE_BASE, :2]
    for index in (NOSE_RIGHT, NOSE_LEFT):
        at = base + (pts[index, :2] - base) * 0.55 - down * eye_dist * 0.03
        hole: np.ndarray = np.zeros(shape, np.float32)
        spread = float(np.linalg.norm(pts[index, :2] - base)) / 3
        axes = (max(1, round(spread)), max(1, round(eye_dist * 0.035)))
        angle = float(np.degrees(np.arctan2(across[1], across[0])))
        cv2.ellipse(hole, _pt(at), axes, angle, 0, 360, 1.0, -1, cv2.LINE_AA)
        hole = cv2.GaussianBlur(hole, (0, 0), max(0.6, eye_dist * 0.02))
        paint(hole * 0.8, np.full(3, 0.35, np.float32))

    return _Painted(_finish(original, albedo, shading, skin, rng), keep, hair, foreign)


def _finish(original: np.ndarray, albedo: np.ndarray, shading: np.ndarray, skin: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Light the albedo, soften edges by a fraction of a pixel, add the original's grain."""
    noise_level = _noise_level(original, skin)
    grain_px = rng.normal(0.0, noise_level * 0.7, albedo.shape).astype(np.float32)
    face = cv2.GaussianBlur(albedo * shading, (0, 0), 0.6) + grain_px
    return np.asarray(np.clip(np.rint(face), 0, 255), np.uint8)


def _skin_apart(original: np.ndarray, person: np.ndarray, eye_dist: float) -> np.ndarray:
    """How far each pixel is in colour from the person's skin (CIELAB; shading may darken or
    lighten skin, so lightness counts less than hue). The skin's colour is the median over
    small spots that hair, a face mask or a beard seldom cover all at once (``SKIN_SPOTS``),
    of those whose colour could be skin at all (``_could_be_skin``: not a white or blue
    mask, not black hair); of all of them where none could (a grey picture, odd light)."""
    lab = cv2.cvtColor(original.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    radius = max(1, round(eye_dist * 0.08))
    spots = []
    for index in SKIN_SPOTS:
        disc = np.zeros(original.shape[:2], np.uint8)
        cv2.circle(disc, _pt(person[index]), radius, 1, -1)
        if disc.any():
            spots.append(np.median(lab[disc.astype(bool)], axis=0))
    if not spots:
        return np.full(original.shape[:2], np.inf, np.float32)
    colours = np.array(spots)
    plausible = colours[_could_be_skin(colours)]
    seed = np.median(plausible if len(plausible) else colours, axis=0)
    apart = (lab - seed) / np.array([LIGHTNESS_SLACK, 1.0, 1.0], np.float32)
    return np.asarray(np.linalg.norm(apart, axis=2))


def _could_be_skin(lab: np.ndarray) -> np.ndarray:
    """Which CIELAB colours (N x 3) are in the range of human skin under ordinary light:
    some colour (chroma at least ``SKIN_CHROMA``) with a hue from red to yellow."""
    hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1]))
    return np.asarray((np.hypot(lab[:, 1], lab[:, 2]) >= SKIN_CHROMA)
                      & (hue >= SKIN_HUES[0]) & (hue <= SKIN_HUES[1]))


def _reaching_in(candidates: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The pixels of ``candidates`` inside ``mask`` that are connected to candidates outside
    it: hair (or a hat) reaching into the face from beyond. (Only what is darker than the
    skin is a candidate: a forehead lit white is not hair.)"""
    _, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    from_outside = np.unique(labels[candidates & ~mask])
    return np.asarray(np.isin(labels, from_outside[from_outside > 0]) & mask)


def _smoothed(image: np.ndarray, where: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` averaged over ``where`` alone (normalised Gaussian), ``sigma`` px."""
    weight = where.astype(np.float32)
    sigma = max(1.0, sigma)
    total = cv2.GaussianBlur(image.astype(np.float32) * weight[..., None], (0, 0), sigma)
    share = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    return np.asarray(np.clip(np.rint(total / np.maximum(share, 1e-6)), 0, 255), np.uint8)


def _occluders(lower: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Where a mask (or a hand, a scarf) covers the lower face: its pixels that are not
    like the skin, when they are most of the lower face; else nothing."""
    if lower.sum() < 32:
        return np.zeros(lower.shape, bool)
    far = lower & ~like
    if far.sum() < OCCLUDED * lower.sum():
        return np.zeros(lower.shape, bool)
    side = max(3, round(np.sqrt(lower.sum()) * 0.08)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    cleaned = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, kernel)
    closed: np.ndarray = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, kernel)
    return np.asarray(closed.astype(bool) & lower)


def _pt(xy: np.ndarray) -> tuple[int, int]:
    return (round(float(xy[0])), round(float(xy[1])))


def _poly(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """Boolean mask of a filled polygon."""
    out = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(out, [np.round(points).astype(np.int32)], 1)
    return out.astype(bool)


def _soft_poly(shape: tuple[int, ...], points: np.ndarray) -> np.ndarray:
    """A filled polygon's coverage of each pixel (0..1, anti-aliased at sub-pixel
    precision): small drawn parts keep their size."""
    out = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(out, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    return out.astype(np.float32) / 255


def _features(original: np.ndarray, pts: np.ndarray, lines: dict[str, tuple[np.ndarray, ...]],
              name: str, mask: np.ndarray) -> np.ndarray:
    """Where a feature of the original lies (kept out of the skin used for the light)."""
    out = np.zeros(original.shape[:2], bool)
    if name.endswith("eyebrow"):
        lower, upper = lines[name]
        return np.asarray(_poly(out.shape, np.vstack([pts[lower, :2], pts[upper, :2][::-1]]))
                          & mask)
    for line in lines[name]:
        out |= _poly(out.shape, pts[line, :2])
    return np.asarray(out & mask)


def _normals(depth: np.ndarray) -> np.ndarray:
    """Surface normals (H x W x 3) of a depth map (larger is nearer)."""
    gy, gx = np.gradient(depth)
    n = np.dstack([-gx, -gy, np.ones_like(depth)])
    return np.asarray(n / np.linalg.norm(n, axis=2, keepdims=True))


def _spread(shape: tuple[int, ...], xy: np.ndarray, values: np.ndarray,
            sigma: float) -> np.ndarray:
    """Values known at points, spread over the grid (normalised Gaussian splatting)."""
    h, w = shape[:2]
    ix = np.clip(np.round(xy[:, 0]).astype(int), 0, w - 1)
    iy = np.clip(np.round(xy[:, 1]).astype(int), 0, h - 1)
    total: np.ndarray = np.zeros((h, w), np.float64)
    weight: np.ndarray = np.zeros((h, w), np.float64)
    np.add.at(total, (iy, ix), values)
    np.add.at(weight, (iy, ix), 1.0)
    sigma = max(1.0, sigma)
    total = cv2.GaussianBlur(total, (0, 0), sigma)
    weight = cv2.GaussianBlur(weight, (0, 0), sigma)
    return np.asarray(total / np.maximum(weight, 1e-6))


def _fit_light(original: np.ndarray, normals: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """First-order lighting fit of the original skin: colour = a + b . normal per channel
    (four numbers a channel); returns the fitted colour at every pixel."""
    design = np.concatenate([np.ones((*normals.shape[:2], 1)), normals], axis=2)
    a = design[skin]
    b = original[skin].astype(np.float64)
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    return np.asarray(design @ coef, np.float32)


def _noise(shape: tuple[int, ...], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Seeded smooth noise of unit spread at the scale ``sigma`` (px)."""
    field: np.ndarray = rng.standard_normal(shape[:2]).astype(np.float32)
    if sigma > 0.8:
        field = cv2.GaussianBlur(field, (0, 0), sigma)
    return field / max(float(field.std()), 1e-6)


def _noise_level(original: np.ndarray, skin: np.ndarray) -> float:
    """The original's pixel noise on the skin (grey levels), so the new face is as grainy."""
    if skin.sum() < 32:
        return 0.0
    grey = original.astype(np.float32).mean(axis=2)
    fine = grey - cv2.GaussianBlur(grey, (0, 0), 1.0)
    return float(min(6.0, np.median(np.abs(fine[skin])) * 1.4826))


def _gaze(original: np.ndarray, eye: np.ndarray,
          across: np.ndarray) -> tuple[float, float] | None:
    """Where the original looks: the centre of the darkest part of the eye opening (the
    iris) from the middle of the eye's corners, along the face's ``across`` axis in eye
    widths and down it in eye openings; None where no iris shows. ``eye`` is the eye's
    outline (MediaPipe's order: inner corner at 7, outer at 15)."""
    where = _poly(original.shape, eye)
    if where.sum() < 6:
        return None
    grey = original.astype(np.float32).mean(axis=2)
    dark = where & (grey <= np.percentile(grey[where], 30))
    ys, xs = np.nonzero(dark)
    if not len(xs):
        return None
    down = np.array([-across[1], across[0]])
    middle = eye[[7, 15]].mean(axis=0)
    width = max(float(np.linalg.norm(eye[7] - eye[15])), 1e-6)
    opening = max(float(np.ptp((eye - middle) @ down)), 1e-6)
    offset = np.array([xs.mean(), ys.mean()]) - middle
    return (float(offset @ across) / width, float(offset @ down) / opening)
