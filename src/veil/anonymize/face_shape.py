"""The geometry a synthetic face is drawn on: MediaPipe's mean face, not the person's.

The person's 468 landmarks give only a pose (a rotation, a scale and a shift fitted to the
mean face, Umeyama's least squares on the points that expressions move least) and an
expression of four numbers (each eye's opening, the mouth's opening, how far its corners
are raised). The drawn shape is the mean face changed by traits drawn from the identity's
seed alone (eye spacing, height and size, brow height, nose width and length, mouth
width, height and lips), then given that expression and posed where the face is. No other
measure of the person's own shape reaches it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from veil.detect.landmarks import canonical_face, topology

RIGHT_EYE = (33, 133, 159, 145)
LEFT_EYE = (263, 362, 386, 374)
"""Outer corner, inner corner, upper lid, lower lid."""
MOUTH_TOP, MOUTH_BOTTOM, MOUTH_RIGHT, MOUTH_LEFT = 13, 14, 78, 308
NOSE_BASE, NOSE_TIP = 2, 1
UPPER_LIP = (185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415)
MAX_EYE_OPENING = 0.6
MAX_MOUTH_OPENING = 1.2
MAX_SMILE = 0.15
"""Corner lift (of the mouth's width) beyond which a reading counts as a misreading."""


@dataclass(frozen=True, slots=True)
class Pose:
    """Picture point = scale * rotation @ mean-face point + shift."""

    scale: float
    rotation: np.ndarray
    shift: np.ndarray

    def place(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(self.scale * points @ self.rotation.T + self.shift)

    def undo(self, points: np.ndarray) -> np.ndarray:
        return np.asarray((points - self.shift) @ self.rotation / self.scale)


@dataclass(frozen=True, slots=True)
class Expression:
    """Eye openings (lid gap over eye width, right then left), mouth opening (lip gap over
    mouth width) and smile (corner lift over mouth width)."""

    eyes: tuple[float, float]
    mouth: float
    smile: float


@dataclass(frozen=True, slots=True)
class Traits:
    """A synthetic identity's shape, relative to the mean face's eye distance."""

    eye_gap: float
    eye_height: float
    eye_size: float
    brow_lift: float
    nose_width: float
    nose_length: float
    mouth_width: float
    mouth_height: float
    lips: float
    face_width: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Traits:
        return cls(
            eye_gap=float(rng.uniform(-0.07, 0.09)),
            eye_height=float(rng.uniform(-0.05, 0.05)),
            eye_size=float(rng.uniform(0.85, 1.2)),
            brow_lift=float(rng.uniform(-0.06, 0.12)),
            nose_width=float(rng.uniform(0.8, 1.3)),
            nose_length=float(rng.uniform(-0.06, 0.08)),
            mouth_width=float(rng.uniform(0.85, 1.2)),
            mouth_height=float(rng.uniform(-0.05, 0.06)),
            lips=float(rng.uniform(0.75, 1.4)),
            face_width=float(rng.uniform(0.92, 1.08)),
        )


@functools.cache
def _steady() -> np.ndarray:
    """Points that expressions move least: above the nose's base, off the eyes and brows."""
    mean = canonical_face()
    lines = topology().lines
    moving = {int(p) for name in ("right_eye", "left_eye", "right_eyebrow", "left_eyebrow")
              for line in lines[name] for p in line}
    return np.array([i for i in range(len(mean))
                     if mean[i, 1] < mean[NOSE_BASE, 1] and i not in moving])


def fit_pose(points: np.ndarray) -> Pose:
    """The similarity taking the mean face onto ``points`` (Umeyama's least squares)."""
    keep = _steady()
    src, dst = canonical_face()[keep], points[keep]
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - src_mean, dst - dst_mean
    u, sigma, vt = np.linalg.svd(b.T @ a / len(keep))
    flip = np.diag([1.0, 1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    rotation = u @ flip @ vt
    scale = float(np.trace(np.diag(sigma) @ flip) / (a**2).sum(axis=1).mean())
    return Pose(scale, rotation, dst_mean - scale * rotation @ src_mean)


def expression(points: np.ndarray, pose: Pose) -> Expression:
    """The expression of ``points`` (read in the mean face's frame, so turned faces count
    alike), within plausible bounds."""
    frontal = pose.undo(points)[:, :2]
    right, left = (min(MAX_EYE_OPENING, _eye_opening(frontal, eye))
                   for eye in (RIGHT_EYE, LEFT_EYE))
    mouth = min(MAX_MOUTH_OPENING, _mouth_opening(frontal))
    smile = float(np.clip(_smile(frontal), -MAX_SMILE, MAX_SMILE))
    return Expression((right, left), mouth, smile)


def synthetic(pose: Pose, face: Expression, traits: Traits) -> np.ndarray:
    """The drawn face's 468 points in the picture: the mean face, shaped by ``traits``,
    given ``face``'s expression, posed by ``pose``."""
    points = _shaped(traits)
    frontal = points[:, :2]
    for eye, opening in zip((RIGHT_EYE, LEFT_EYE), face.eyes, strict=True):
        _open_eye(frontal, eye, opening)
    _open_mouth(frontal, face.mouth)
    _raise_corners(frontal, face.smile)
    return pose.place(points)


@functools.cache
def _lips() -> np.ndarray:
    return np.unique(np.concatenate(topology().lines["lips"]))


def _shaped(traits: Traits) -> np.ndarray:
    """The mean face with the identity's traits (smooth local moves of its parts)."""
    points = canonical_face().copy()
    unit = float(np.linalg.norm(points[RIGHT_EYE[0]] - points[LEFT_EYE[0]]))
    points[:, 0] *= traits.face_width
    xy = points[:, :2]
    for eye, side in ((RIGHT_EYE, -1.0), (LEFT_EYE, 1.0)):
        centre = xy[list(eye[:2])].mean(axis=0)
        near = _near(xy, centre, 0.22 * unit)
        xy += near[:, None] * (xy - centre) * (traits.eye_size - 1)
        xy += near[:, None] * np.array([side * traits.eye_gap / 2, traits.eye_height]) * unit
    for name in ("right_eyebrow", "left_eyebrow"):
        centre = xy[np.concatenate(topology().lines[name])].mean(axis=0)
        xy[:, 1] -= _near(xy, centre, 0.25 * unit) * traits.brow_lift * unit
    base = xy[NOSE_BASE].copy()
    nose = _near(xy, base, 0.2 * unit)
    xy[:, 0] += nose * (xy[:, 0] - base[0]) * (traits.nose_width - 1)
    xy[:, 1] += _near(xy, (base + xy[NOSE_TIP]) / 2, 0.25 * unit) * traits.nose_length * unit
    centre = xy[[MOUTH_RIGHT, MOUTH_LEFT]].mean(axis=0)
    mouth = _near(xy, centre, 0.3 * unit)
    xy[:, 0] += mouth * (xy[:, 0] - centre[0]) * (traits.mouth_width - 1)
    xy[:, 1] += mouth * traits.mouth_height * unit
    lips = _lips()
    middle = xy[[MOUTH_TOP, MOUTH_BOTTOM], 1].mean()
    xy[lips, 1] = middle + (xy[lips, 1] - middle) * traits.lips
    return points


def _near(xy: np.ndarray, centre: np.ndarray, sigma: float) -> np.ndarray:
    """Weights 1 at ``centre`` falling off as a Gaussian of ``sigma``."""
    return np.asarray(np.exp(-((xy - centre) ** 2).sum(axis=1) / (2 * sigma**2)))


def _eye_opening(xy: np.ndarray, eye: tuple[int, int, int, int]) -> float:
    outer, inner, upper, lower = eye
    width = max(float(np.linalg.norm(xy[outer] - xy[inner])), 1e-6)
    return float(np.linalg.norm(xy[upper] - xy[lower])) / width


def _mouth_width(xy: np.ndarray) -> float:
    return max(float(np.linalg.norm(xy[MOUTH_RIGHT] - xy[MOUTH_LEFT])), 1e-6)


def _mouth_opening(xy: np.ndarray) -> float:
    return float(np.linalg.norm(xy[MOUTH_TOP] - xy[MOUTH_BOTTOM])) / _mouth_width(xy)


def _smile(xy: np.ndarray) -> float:
    middle = xy[[MOUTH_TOP, MOUTH_BOTTOM], 1].mean()
    corners = xy[[MOUTH_RIGHT, MOUTH_LEFT], 1].mean()
    return float(middle - corners) / _mouth_width(xy)


def _open_eye(xy: np.ndarray, eye: tuple[int, int, int, int], opening: float) -> None:
    """Move the lids (the eye's outline) so the eye opens as far as ``opening``."""
    outer, inner, *_ = eye
    now = _eye_opening(xy, eye)
    name = "right_eye" if eye == RIGHT_EYE else "left_eye"
    (outline,) = topology().lines[name]
    a, b = xy[outer], xy[inner]
    axis = (b - a) / max(float(np.linalg.norm(b - a)), 1e-6)
    normal = np.array([-axis[1], axis[0]])
    offset = (xy[outline] - a) @ normal
    xy[outline] += np.outer(offset * (opening / max(now, 1e-6) - 1), normal)


def _open_mouth(xy: np.ndarray, opening: float) -> None:
    """Drop the lower lip and jaw so the lips part as far as ``opening``."""
    drop = (opening - _mouth_opening(xy)) * _mouth_width(xy)
    corner_y = xy[[MOUTH_RIGHT, MOUTH_LEFT], 1].mean()
    reach = max(float(xy[MOUTH_BOTTOM, 1] - corner_y), 1e-6)
    weight = np.clip((xy[:, 1] - corner_y) / reach, 0.0, 1.0)
    weight[list(UPPER_LIP)] = 0.0
    xy[:, 1] += weight * drop


def _raise_corners(xy: np.ndarray, smile: float) -> None:
    """Lift the mouth's corners (and the lips towards them) to ``smile``."""
    width = _mouth_width(xy)
    lift = (smile - _smile(xy)) * width
    lips = _lips()
    centre_x = xy[[MOUTH_RIGHT, MOUTH_LEFT], 0].mean()
    weight = np.clip(np.abs(xy[lips, 0] - centre_x) / (width / 2), 0.0, 1.2) ** 2
    xy[lips, 1] -= weight * lift
