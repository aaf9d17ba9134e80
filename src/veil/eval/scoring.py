"""The corpus scoring rule (``../shared/corpus/README.md``) on grey-level pixels.

A ground-truth box is *protected* when the SSIM (7x7 uniform window, grey levels) of its
crop before and after is below 0.5; a ``word`` box is *kept* when it is >= 0.8; background
pixels (outside every labelled box grown by 25 %) should stay within 30 grey levels. Boxes
are in stored pixels, x2/y2 exclusive. SSIM is computed here with numpy (the same
formula as scikit-image's ``structural_similarity`` with ``gaussian_weights=False``), so
the product does not depend on scikit-image.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

Grey = npt.NDArray[np.float64]

PROTECTED_BELOW = 0.5
KEPT_FROM = 0.8
GREY_TOLERANCE = 30.0
BOX_GROWTH = 0.25
_K1, _K2, _RANGE = 0.01, 0.03, 255.0


def load_manifest(path: Path) -> list[dict[str, Any]]:
    """The records of a ``manifest.jsonl`` (one JSON object per non-empty line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def grey(data: bytes | Path) -> Grey:
    """Stored pixels (EXIF orientation NOT applied) as float64 grey levels 0..255."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(source) as im:
        return np.asarray(im.convert("L"), dtype=np.float64)


def _box_mean(a: Grey, win: int) -> Grey:
    """Mean of every full ``win`` x ``win`` window (the 'valid' positions only)."""
    pad = (win - 1) // 2
    means = np.asarray(cv2.blur(a, (win, win), borderType=cv2.BORDER_REFLECT), np.float64)
    return means[pad : a.shape[0] - pad, pad : a.shape[1] - pad]


def ssim(a: npt.NDArray[Any], b: npt.NDArray[Any], win: int = 7) -> float:
    """Mean SSIM of two equal-size grey images (uniform window, sample covariance),
    over the positions where the window fits whole, as scikit-image computes it."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    mean_x, mean_y = float(x.mean()), float(y.mean())
    x, y = x - mean_x, y - mean_y  # centred: the running sums stay small and exact
    mx, my = _box_mean(x, win), _box_mean(y, win)
    norm = win * win / (win * win - 1)
    vx = norm * (_box_mean(x * x, win) - mx * mx)
    vy = norm * (_box_mean(y * y, win) - my * my)
    vxy = norm * (_box_mean(x * y, win) - mx * my)
    ux, uy = mx + mean_x, my + mean_y
    c1, c2 = (_K1 * _RANGE) ** 2, (_K2 * _RANGE) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s.mean())


def crop_ssim(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> float:
    """SSIM of two equal-size grey crops with a 7x7 window.

    Crops narrower than 7 px in a side use the largest odd window that fits (3 or 5).
    Crops under 3 px in a side score 1.0 ("unchanged") when the mean absolute difference
    is below 30 grey levels, else 0.0. Empty crops score 1.0.
    """
    if a.shape != b.shape:
        raise ValueError(f"crop shapes differ: {a.shape} vs {b.shape}")
    if a.size == 0:
        return 1.0
    side = min(a.shape[:2])
    if side < 3:
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        return 1.0 if float(np.mean(diff)) < GREY_TOLERANCE else 0.0
    return ssim(a, b, min(7, side if side % 2 else side - 1))


def clip_box(xyxy: Sequence[float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A box rounded outwards to whole pixels and clipped to an image of ``shape``."""
    h, w = shape[:2]
    x1, y1 = math.floor(xyxy[0]), math.floor(xyxy[1])
    x2, y2 = math.ceil(xyxy[2]), math.ceil(xyxy[3])
    return (min(max(x1, 0), w), min(max(y1, 0), h), min(max(x2, 0), w), min(max(y2, 0), h))


def box_ssim(before: Grey, after: Grey, xyxy: Sequence[float]) -> float:
    """SSIM of one box's crop before and after."""
    x1, y1, x2, y2 = clip_box(xyxy, before.shape)
    return crop_ssim(before[y1:y2, x1:x2], after[y1:y2, x1:x2])


def box_protected(before: Grey, after: Grey, xyxy: Sequence[float]) -> bool:
    """The crop no longer resembles the original (SSIM < 0.5)."""
    return box_ssim(before, after, xyxy) < PROTECTED_BELOW


def word_kept(before: Grey, after: Grey, xyxy: Sequence[float]) -> bool:
    """A non-sensitive box stays readable (SSIM >= 0.8)."""
    return box_ssim(before, after, xyxy) >= KEPT_FROM


def background_changed_share(before: Grey, after: Grey,
                             boxes: Sequence[Sequence[float]]) -> float:
    """Share of background pixels whose grey level moved by more than 30.

    Background is everything outside all ``boxes``, each grown by 25 % of its width and
    height about its centre (12.5 % a side, rounded outwards, clipped); 0.0 when none is left.
    """
    background = np.ones(before.shape[:2], dtype=bool)
    for x1, y1, x2, y2 in boxes:
        dx, dy = (x2 - x1) * BOX_GROWTH / 2, (y2 - y1) * BOX_GROWTH / 2
        gx1, gy1, gx2, gy2 = clip_box((x1 - dx, y1 - dy, x2 + dx, y2 + dy), before.shape)
        background[gy1:gy2, gx1:gx2] = False
    n = int(background.sum())
    if n == 0:
        return 0.0
    changed = np.abs(before - after) > GREY_TOLERANCE
    return float(np.count_nonzero(changed & background)) / n
