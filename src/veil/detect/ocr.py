"""OCR with word boxes: PP-OCRv6 (small) from the rapidocr wheel, run by onnxruntime.

What it costs follows what the picture needs. Text is first *found* (the detection model)
on the picture scaled to a bounded area; a photo without text costs that one pass. Only
the lines found are *read* (the recognition model, batched), each cut from the picture at
full resolution. Where the lines found are too small for the bounded pass to outline
well, only the tiles that hold them are searched again at full resolution. The engine
loads once per process.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from veil.regions import Box
from veil.timing import stage

NAME = "rapidocr@3.10"
DET_PIXELS = 2_000_000
"""Largest area (pixels) the text finder works on in one pass; larger pictures are
scaled down to it first."""
DET_MIN_SIDE = 736
"""Small pictures are enlarged until their shorter side has this many pixels (as PP-OCR
does), within ``DET_PIXELS``: thin strokes of small scans are otherwise lost."""
DET_TILE = 1024
"""The text finder runs on tiles of at most this side: it finds text more reliably near the
sizes it was trained at (a 40 px line on a 4000x3000 page shrunk to 2 MP is missed in one
1632x1224 input and found in 1024 px tiles), and memory stays bounded for long strips."""
MIN_LINE = 12
"""Median line height (px, as the bounded pass saw it) under which the tiles holding those
lines are searched again at full resolution."""
OVERLAP = 160
"""Overlap between tiles: taller than a line of text, so every line is whole in one tile."""
TEXT_SCORE = 0.3
"""Recognition confidence from which a line counts as read (low: it may still be personal).
Lines below it are text the detector saw but could not read; ``read_lines`` leaves them out
unless asked (a plate OCR cannot read is still text)."""
_MAX_LINES = 2000
"""Lines read per picture at most: a picture of noise cannot make recognition run away."""


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


@dataclass(frozen=True, slots=True)
class _Models:
    det: Any
    cls: Any
    rec: Any
    word_boxes: Any


@functools.cache
def _models() -> _Models:
    logging.getLogger("RapidOCR").setLevel(logging.ERROR)
    from rapidocr import RapidOCR  # imported here: it is slow to import and logs on import

    threads = int(os.environ.get("VEIL_THREADS", "-1") or -1)
    engine = RapidOCR(params={
        "Global.log_level": "error",
        "EngineConfig.onnxruntime.intra_op_num_threads": threads if threads > 0 else -1,
    })
    # rapidocr is pinned (3.10.0): its loaders give the three models apart.
    loaded: Any = engine
    det = loaded._load_det_model()
    det.limit_type, det.limit_side_len = "min", 32  # Veil scales the input itself
    return _Models(det, loaded._load_cls_model(), loaded._load_rec_model(), engine.cal_rec_boxes)


def read_lines(image: np.ndarray, min_score: float = TEXT_SCORE) -> list[Line]:
    """Every line of text read with at least ``min_score`` confidence in an RGB uint8 image
    (display orientation), top to bottom."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("read_lines expects an RGB uint8 array")
    bgr = np.ascontiguousarray(image[..., ::-1])
    with stage("ocr.detect"):
        quads = find_text(bgr)
    return _read(bgr, quads, min_score)


def _read(bgr: np.ndarray, quads: Sequence[np.ndarray], min_score: float) -> list[Line]:
    if not quads:
        return []
    with stage("ocr.read"):
        lines = _recognise(bgr, quads[:_MAX_LINES])
    return sorted((ln for ln in lines if ln.score >= min_score),
                  key=lambda ln: (ln.box[1], ln.box[0]))


TURN_LINES = 4
"""Lines of text (long enough to tell their direction) a picture needs before Veil judges
that it is turned: a photo with a sign or two is never turned."""
TURN_RATIO = 2.5
"""A line tells its direction when it is this many times longer than high."""
TURN_SHARE = 0.7
"""Share of those lines that must agree (running across the picture, or upside down) for
the picture to be read turned."""
_TURN_SAMPLE = 24
"""Lines whose direction the classifier checks at most: enough to outvote a few odd ones."""


def page_orientation(bgr: np.ndarray, quads: Sequence[np.ndarray]) -> int:
    """The EXIF orientation (1, 3, 6 or 8) under which the text lines ``quads`` of a BGR
    picture read upright: 1 when the text already reads upright or when there is too little
    text to tell. Lines that run down the picture mean a page turned by 90 degrees; the
    direction classifier, run on them (or on the lines across), tells which way. The text
    finder often merges the lines of a sideways page into blocks; when the blocks mostly
    stand upright, it looks again at the picture turned a quarter."""
    judged = _judge(bgr, quads)
    if judged is not None:
        return judged
    tall = sum(1 for q in quads if _quad_height(q) > np.linalg.norm(q[0] - q[1]))
    if len(quads) < TURN_LINES or tall <= len(quads) - tall:
        return 1
    turned = np.ascontiguousarray(np.rot90(bgr))  # a quarter counter-clockwise: EXIF 8
    again = _judge(turned, find_text(turned))
    return {1: 8, 3: 6}.get(again or 0, 1)


def _judge(bgr: np.ndarray, quads: Sequence[np.ndarray]) -> int | None:
    """``page_orientation`` from lines clear enough to tell, or None when too few are."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    def sides(q: np.ndarray) -> tuple[float, float]:
        return (float(np.linalg.norm(q[0] - q[1])), _quad_height(q))

    clear = [q for q in quads if max(sides(q)) >= TURN_RATIO * min(sides(q))
             and min(sides(q)) >= 6]
    if len(clear) < TURN_LINES:
        return None
    down = [q for q in clear if sides(q)[1] > sides(q)[0]]
    vertical = len(down) >= TURN_SHARE * len(clear)
    if not vertical and len(down) > (1 - TURN_SHARE) * len(clear):
        return 1  # lines both ways: a poster or a form with side labels, read as it is
    sample = sorted(down if vertical else clear, key=lambda q: -max(sides(q)))
    crops = [get_rotate_crop_image(bgr, q) for q in sample[:_TURN_SAMPLE]]
    labels = [label for label, _ in _models().cls(crops).cls_res]
    flipped = sum("180" in label for label in labels) / len(labels)
    if vertical:
        # a tall line is cut out turned a quarter counter-clockwise: upright when the page
        # was turned clockwise
        return 8 if flipped < 0.5 else 6
    return 3 if flipped >= TURN_SHARE else 1


def read_upright(image: np.ndarray, min_score: float = TEXT_SCORE,
                 scripts: tuple[str, ...] = ()) -> tuple[int, np.ndarray, list[Line]]:
    """Like ``read_lines``, for a picture that may be turned (a page scanned or photographed
    sideways or upside down): the EXIF orientation that makes its text upright, the
    upright RGB picture, and the lines read in the upright picture's pixels. Lines left
    unread are read again in ``scripts`` (``veil.detect.scripts``)."""
    from veil.detect.scripts import reread
    from veil.images import to_display

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("read_upright expects an RGB uint8 array")
    bgr = np.ascontiguousarray(image[..., ::-1])
    with stage("ocr.detect"):
        quads = find_text(bgr)
        orientation = page_orientation(bgr, quads)
        if orientation != 1:
            image = to_display(image, orientation)
            bgr = np.ascontiguousarray(image[..., ::-1])
            quads = find_text(bgr)
    lines = _read(bgr, quads, min_score)
    return orientation, image, reread(bgr, lines, scripts) if scripts else lines


def det_scale(height: int, width: int) -> float:
    """The scale of the bounded pass: small pictures enlarged toward ``DET_MIN_SIDE``,
    large ones shrunk to ``DET_PIXELS``, both within the area bound."""
    area_bound = math.sqrt(DET_PIXELS / (height * width))
    return min(max(1.0, DET_MIN_SIDE / min(height, width)), area_bound)


def find_text(bgr: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals (4x2 float32, picture pixels) of the text lines in a BGR picture."""
    height, width = bgr.shape[:2]
    scale = det_scale(height, width)
    quads = _detect(bgr, scale)
    if not quads or scale >= 1.0:
        return quads
    heights = [_quad_height(q) * scale for q in quads]
    if float(np.median(heights)) >= MIN_LINE:
        return quads
    small = [q for q, h in zip(quads, heights, strict=True) if h < MIN_LINE]
    kept = [q for q, h in zip(quads, heights, strict=True) if h >= MIN_LINE]
    return kept + _detect_where(bgr, small)


def _detect(bgr: np.ndarray, scale: float) -> list[np.ndarray]:
    """Text quads found in the whole picture at ``scale``, tile by tile."""
    height, width = bgr.shape[:2]
    if abs(scale - 1.0) > 1e-3:
        size = (max(32, round(width * scale)), max(32, round(height * scale)))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(bgr, size, interpolation=interp)
    else:
        scaled = bgr
    sy, sx = scaled.shape[0] / height, scaled.shape[1] / width
    return [q / np.array([sx, sy], np.float32)
            for q in _detect_tiles(scaled, _tiles(scaled.shape[1], scaled.shape[0]))]


def _detect_where(bgr: np.ndarray, small: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Text quads at full resolution, in the tiles that hold the centre of a small line."""
    height, width = bgr.shape[:2]
    centres = [q.mean(axis=0) for q in small]
    tiles = [t for t in _tiles(width, height)
             if any(t.x0 <= cx < t.x1 and t.y0 <= cy < t.y1 for cx, cy in centres)]
    return _detect_tiles(bgr, tiles)


@dataclass(frozen=True, slots=True)
class _Tile:
    x0: int
    y0: int
    x1: int
    y1: int


def _tiles(width: int, height: int) -> list[_Tile]:
    return [_Tile(x0, y0, x1, y1) for (y0, y1) in _spans(height) for (x0, x1) in _spans(width)]


def _spans(size: int) -> list[tuple[int, int]]:
    """Evenly spread spans of at most ``DET_TILE`` along one side, overlapping by
    ``OVERLAP``."""
    if size <= DET_TILE:
        return [(0, size)]
    count = math.ceil((size - OVERLAP) / (DET_TILE - OVERLAP))
    length = math.ceil((size + (count - 1) * OVERLAP) / count)
    starts = [min(i * (length - OVERLAP), size - length) for i in range(count)]
    return [(s, s + length) for s in starts]


def _detect_tiles(bgr: np.ndarray, tiles: Sequence[_Tile]) -> list[np.ndarray]:
    """Text quads of every tile, in picture pixels. A line that crosses a tile's edge is
    seen in pieces by the tiles on both sides; the pieces are joined back into one line."""
    det = _models().det
    found: list[np.ndarray] = []
    edge: list[np.ndarray] = []
    for tile in tiles:
        crop = np.ascontiguousarray(bgr[tile.y0:tile.y1, tile.x0:tile.x1])
        out = det(crop)
        if out.boxes is None:
            continue
        height, width = bgr.shape[:2]
        inner = (tile.x0 > 0, tile.y0 > 0, tile.x1 < width, tile.y1 < height)
        for quad in out.boxes:
            moved = np.asarray(quad, np.float32) + np.array([tile.x0, tile.y0], np.float32)
            (x1, y1), (x2, y2) = moved.min(axis=0), moved.max(axis=0)
            near = (x1 - tile.x0 < OVERLAP, y1 - tile.y0 < OVERLAP,
                    tile.x1 - x2 < OVERLAP, tile.y1 - y2 < OVERLAP)
            if any(i and n for i, n in zip(inner, near, strict=True)):
                edge.append(moved)
            else:
                found.append(moved)
    return found + _join_pieces(edge)


def _join_pieces(quads: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Join quads near tile edges that are pieces (or copies) of one line: on the same
    row, of like height, overlapping or touching side by side."""
    boxes = [np.concatenate([q.min(axis=0), q.max(axis=0)]) for q in quads]
    groups = list(range(len(boxes)))

    def root(i: int) -> int:
        while groups[i] != i:
            groups[i] = groups[groups[i]]
            i = groups[i]
        return i

    for i, j in itertools.combinations(range(len(boxes)), 2):
        a, b = boxes[i], boxes[j]
        ha, hb = a[3] - a[1], b[3] - b[1]
        rows = min(a[3], b[3]) - max(a[1], b[1])
        gap = max(a[0], b[0]) - min(a[2], b[2])
        if rows > 0.6 * min(ha, hb) and max(ha, hb) < 1.6 * min(ha, hb) and gap < 0.5 * min(ha, hb):
            groups[root(i)] = root(j)
    joined: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        joined.setdefault(root(i), []).append(i)
    out: list[np.ndarray] = []
    for members in joined.values():
        if len(members) == 1:
            out.append(quads[members[0]])
            continue
        x1, y1 = np.min([boxes[m][:2] for m in members], axis=0)
        x2, y2 = np.max([boxes[m][2:] for m in members], axis=0)
        out.append(np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32))
    return out


def _quad_height(quad: np.ndarray) -> float:
    return float(min(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[1] - quad[2])))


def _recognise(bgr: np.ndarray, quads: Sequence[np.ndarray]) -> list[Line]:
    """Read each quad from the picture at full resolution, or from the picture enlarged as
    the text finder saw it when it is small (thin strokes read better enlarged once than
    stretched line by line); lines with their word boxes in picture pixels."""
    from rapidocr.ch_ppocr_rec import TextRecInput
    from rapidocr.utils.process_img import get_rotate_crop_image

    models = _models()
    height, width = bgr.shape[:2]
    factor = max(1.0, det_scale(height, width))
    source = bgr if factor == 1.0 else cv2.resize(
        bgr, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_LINEAR)
    crops = [get_rotate_crop_image(source, q * factor) for q in quads]
    keep = [i for i, c in enumerate(crops) if c.size and min(c.shape[:2]) > 1]
    crops, quads = [crops[i] for i in keep], [quads[i] for i in keep]
    if not crops:
        return []
    crops = models.cls(crops).img_list
    rec = models.rec(TextRecInput(img=crops, return_word_box=True))
    texts = list(rec.txts)
    valid = [i for i, t in enumerate(texts) if t.strip()]
    if not valid:
        return []
    rec.txts = tuple(texts[i] for i in valid)
    rec.scores = tuple(rec.scores[i] for i in valid)
    rec.word_results = tuple(rec.word_results[i] for i in valid)
    boxes = np.stack([quads[i] for i in valid])
    word_results = models.word_boxes([crops[i] for i in valid], boxes * factor, rec).word_results
    lines: list[Line] = []
    for quad, score, words in zip(boxes, rec.scores, word_results, strict=True):
        found = tuple(
            Word(text, box, float(word_score))
            for text, word_score, word_quad in words
            if text.strip() and word_quad is not None
            and (box := _bounds(np.asarray(word_quad) / factor, width, height)) is not None
        )
        box = _bounds(quad, width, height)
        if found and box is not None:
            lines.append(Line(_to_line_ends(found, box), box, float(score)))
    return lines


def _to_line_ends(words: tuple[Word, ...], line: Box) -> tuple[Word, ...]:
    """Stretch the first and last words to the line's ends: the recogniser places word
    edges to a few pixels, the detector's line box bounds the glyphs."""
    first, last = words[0], words[-1]
    words = (Word(first.text, (min(first.box[0], line[0]), *first.box[1:]), first.score),
             *words[1:])
    last = words[-1]
    return (*words[:-1], Word(last.text, (*last.box[:2], max(last.box[2], line[2]),
                                          last.box[3]), last.score))


def _bounds(quad: object, width: int, height: int) -> Box | None:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    x1, y1 = np.floor(points.min(axis=0))
    x2, y2 = np.ceil(points.max(axis=0))
    box = (max(0, int(x1)), max(0, int(y1)), min(width, int(x2)), min(height, int(y2)))
    return box if box[2] > box[0] and box[3] > box[1] else None
