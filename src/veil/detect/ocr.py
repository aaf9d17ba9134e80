"""OCR with word boxes: PP-OCRv6 (small) from the rapidocr wheel, run by onnxruntime.

The engine loads once per process. Pages larger than the engine's working size are read
in overlapping tiles, so that the text of a 10,000 px scan is not shrunk to illegibility.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from veil.regions import Box

NAME = "rapidocr@3.10"
MAX_SIDE = 2000
"""rapidocr reads up to this many pixels per side without shrinking the image."""
MIN_LINE = 20
"""Median line height (px, after shrinking) under which a large page is read in tiles."""
TILE = 1600
"""Side of the tiles a larger page is read in."""
OVERLAP = 160
"""Overlap between tiles: taller than a line of text, so every line is whole in one tile."""
TEXT_SCORE = 0.3
"""Recognition confidence from which a line counts as read (low: it may still be personal).
Lines below it are text the detector saw but could not read; ``read_lines`` leaves them out
unless asked (a plate OCR cannot read is still text)."""


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word: its axis-aligned box in image pixels and the OCR's confidence."""

    text: str = field(repr=False)
    box: Box
    score: float


@dataclass(frozen=True, slots=True)
class Line:
    """A line of text as the OCR segmented it, with its words in reading order."""

    words: tuple[Word, ...]
    box: Box
    score: float

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@functools.cache
def _engine() -> object:
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    from rapidocr import RapidOCR  # imported here: it is slow to import and logs on import

    threads = int(os.environ.get("VEIL_THREADS", "-1") or -1)
    return RapidOCR(params={
        "Global.log_level": "error",
        "Global.text_score": 0.0,  # every line the detector finds; read_lines filters
        "Global.max_side_len": MAX_SIDE,
        "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
    })


def read_lines(image: np.ndarray, min_score: float = TEXT_SCORE) -> list[Line]:
    """Every line of text read with at least ``min_score`` confidence in an RGB uint8 image
    (display orientation), top to bottom."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("read_lines expects an RGB uint8 array")
    height, width = image.shape[:2]
    if max(height, width) > MAX_SIDE:
        # Read it whole first (rapidocr shrinks it); tile only if the text came out small.
        lines = _read_tile(image)
        scale = MAX_SIDE / max(height, width)
        if lines and np.median([ln.box[3] - ln.box[1] for ln in lines]) * scale >= MIN_LINE:
            return _ordered(lines, min_score)
    lines = []
    for (x0, x1, keep_x), (y0, y1, keep_y) in itertools.product(_spans(width), _spans(height)):
        for line in _read_tile(image[y0:y1, x0:x1]):
            moved = _shift(line, x0, y0)
            cx, cy = (moved.box[0] + moved.box[2]) / 2, (moved.box[1] + moved.box[3]) / 2
            if keep_x[0] <= cx < keep_x[1] and keep_y[0] <= cy < keep_y[1]:
                lines.append(moved)
    return _ordered(lines, min_score)


def _ordered(lines: list[Line], min_score: float) -> list[Line]:
    return sorted((ln for ln in lines if ln.score >= min_score),
                  key=lambda ln: (ln.box[1], ln.box[0]))


def _spans(size: int) -> list[tuple[int, int, tuple[float, float]]]:
    """Overlapping tiles along one side: (start, end, the part of it this tile owns).
    A line read in two tiles is kept once, by the tile owning its centre."""
    if size <= MAX_SIDE:
        return [(0, size, (0.0, float(size)))]
    starts = [*range(0, size - TILE, TILE - OVERLAP), size - TILE]
    cuts = [0.0, *((s + prev + TILE) / 2 for prev, s in itertools.pairwise(starts)), float(size)]
    return [(s, s + TILE, (cuts[i], cuts[i + 1])) for i, s in enumerate(starts)]


def _read_tile(tile: np.ndarray) -> list[Line]:
    result = _engine()(np.ascontiguousarray(tile[..., ::-1]),  # type: ignore[operator]
                       return_word_box=True)
    if result.boxes is None or result.txts is None:
        return []
    height, width = tile.shape[:2]
    lines = []
    for quad, score, words in zip(result.boxes, result.scores, result.word_results,
                                  strict=True):
        found = tuple(
            Word(text, box, float(word_score))
            for text, word_score, word_quad in words
            if text.strip() and (box := _bounds(word_quad, width, height)) is not None
        )
        box = _bounds(quad, width, height)
        if found and box is not None:
            lines.append(Line(found, box, float(score)))
    return lines


def _bounds(quad: object, width: int, height: int) -> Box | None:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    x1, y1 = np.floor(points.min(axis=0))
    x2, y2 = np.ceil(points.max(axis=0))
    box = (max(0, int(x1)), max(0, int(y1)), min(width, int(x2)), min(height, int(y2)))
    return box if box[2] > box[0] and box[3] > box[1] else None


def _shift(line: Line, dx: int, dy: int) -> Line:
    def move(b: Box) -> Box:
        return (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy)

    return Line(tuple(Word(w.text, move(w.box), w.score) for w in line.words),
                move(line.box), line.score)
