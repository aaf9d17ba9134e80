"""Natural replacement: erase a text region and write a surrogate value in its place.

The region's ``text`` holds the surrogate to render (the pipeline puts it there). Each
connected part of the region's mask is one line of the value; the surrogate's words are
spread over the parts in reading order. The background is refilled from the pixels around
each part (a flat fill on flat paper, inpainting elsewhere) and the text is drawn in the
colour and height of the original. A region with no text is only erased.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field

from veil.anonymize.operators import OperatorBase
from veil.regions import Box, Region

FLAT = 12.0
"""The paper counts as flat when 85 % of the pixels around a box are this close (grey
levels) to their median: then the box is filled flat, otherwise inpainted."""


class Replace(OperatorBase):
    """Erase the region and render ``region.text`` in place (fake but realistic text)."""

    name: Literal["replace"] = "replace"
    text_height: float = Field(default=0.7, gt=0.0, le=1.0)
    """Height of the drawn text as a share of the region's (OCR boxes and padding
    leave room above and below the glyphs)."""

    def apply_all(self, image: np.ndarray, regions: Iterable[Region]) -> np.ndarray:
        out = image.copy()
        for region in regions:
            parts = _parts(region)
            texts = _spread(region.text or "", [p[2] - p[0] for p in parts])
            for box, text in zip(parts, texts, strict=True):
                _, ink = _erase(out, box)
                if text:
                    _draw(out, box, text, ink, self.text_height)
        return out


def _parts(region: Region) -> list[Box]:
    """Boxes of the mask's connected parts (the value's lines), in reading order."""
    x1, y1 = region.box[:2]
    if region.mask is None:
        return [region.box]
    count, _, stats, _ = cv2.connectedComponentsWithStats(
        region.mask.astype(np.uint8), connectivity=8)
    boxes = [(x1 + int(s[0]), y1 + int(s[1]), x1 + int(s[0] + s[2]), y1 + int(s[1] + s[3]))
             for s in stats[1:count]]
    return sorted(boxes, key=lambda b: (b[1], b[0])) or [region.box]


def _spread(text: str, widths: list[int]) -> list[str]:
    """Cut ``text`` at word boundaries into one piece per part, in proportion to widths."""
    words = text.split()
    if len(widths) == 1 or not words:
        return [text] + [""] * (len(widths) - 1)
    cuts = [round(len(words) * w / sum(widths)) for w in itertools.accumulate(widths)]
    cuts[-1] = len(words)
    starts = [0, *cuts[:-1]]
    return [" ".join(words[a:b]) for a, b in zip(starts, cuts, strict=True)]


def _erase(image: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Refill ``box`` from its surroundings; returns the background and the ink colours."""
    x1, y1, x2, y2 = box
    h, w = image.shape[:2]
    ring = np.ones((min(h, y2 + 2) - max(0, y1 - 2), min(w, x2 + 2) - max(0, x1 - 2)), bool)
    ring[y1 - max(0, y1 - 2) : y2 - max(0, y1 - 2), x1 - max(0, x1 - 2) : x2 - max(0, x1 - 2)] = (
        False)
    around = image[max(0, y1 - 2) : y2 + 2, max(0, x1 - 2) : x2 + 2][ring]
    if around.size == 0:  # the box is the whole image
        around = image[y1:y2, x1:x2].reshape(-1, *image.shape[2:])
    background = np.median(around, axis=0)
    spread = np.abs(around.astype(np.float64) - background).reshape(len(around), -1).max(axis=1)
    flat = float(np.mean(spread <= FLAT * (257 if image.dtype == np.uint16 else 1))) >= 0.85
    ink = _ink(image[y1:y2, x1:x2], background)
    channels = 1 if image.ndim == 2 else image.shape[2]
    if not flat and image.dtype == np.uint8 and channels in (1, 3):
        mask = np.zeros((h, w), np.uint8)
        mask[y1:y2, x1:x2] = 255
        m = max(4, (y2 - y1) // 2)  # inpaint a window, not the whole image
        wy1, wy2, wx1, wx2 = max(0, y1 - m), min(h, y2 + m), max(0, x1 - m), min(w, x2 + m)
        window = np.ascontiguousarray(image[wy1:wy2, wx1:wx2])
        filled = cv2.inpaint(window, mask[wy1:wy2, wx1:wx2], 3, cv2.INPAINT_TELEA)
        image[y1:y2, x1:x2] = filled.reshape(window.shape)[y1 - wy1 : y2 - wy1,
                                                            x1 - wx1 : x2 - wx1]
    else:
        image[y1:y2, x1:x2] = background.astype(image.dtype)
    return background, ink


def _draw(image: np.ndarray, box: Box, text: str, ink: np.ndarray, share: float) -> None:
    """Draw ``text`` into the (erased) box, as tall as the original words, clipped to it."""
    x1, y1, x2, y2 = box
    text_h = max(4, round((y2 - y1) * share))
    inset = (y2 - y1 - text_h) // 2
    room = max(1, x2 - x1 - 2 * inset)
    size = text_h
    font = _font(size)
    width = font.getlength(text)
    if width > room:
        size = max(4, int(size * room / width))
        font = _font(size)
    alpha = Image.new("L", (x2 - x1, y2 - y1), 0)
    ImageDraw.Draw(alpha).text((inset, (y2 - y1) / 2), text, fill=255, font=font, anchor="lm")
    a = np.asarray(alpha, np.float64) / 255.0
    roi = image[y1:y2, x1:x2]
    if roi.ndim == 3:
        a = a[..., None]
    mixed = roi.astype(np.float64) * (1 - a) + ink * a
    roi[...] = np.clip(np.rint(mixed), 0, np.iinfo(image.dtype).max).astype(image.dtype)


def _ink(roi: np.ndarray, background: np.ndarray) -> np.ndarray:
    """The text's colour: the pixels of ``roi`` farthest from the background."""
    pixels = roi.reshape(-1, *roi.shape[2:]).astype(np.float64)
    far = np.abs(pixels - background).reshape(len(pixels), -1).sum(axis=1)
    if far.size == 0 or far.max() == 0:
        top = float(np.iinfo(roi.dtype).max)
        return np.where(background > top / 2, 0.0, top)
    return np.asarray(np.median(pixels[far >= 0.6 * far.max()], axis=0), np.float64)


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)
