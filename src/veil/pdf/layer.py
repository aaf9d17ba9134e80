"""A page as pypdfium2 sees it: where its text layer's words are, where its pictures are,
and its rendering, all in one device space (pixels of the page rendered at ``scale``,
origin top left, the page's /Rotate applied), so text-layer words and pixel detections
share coordinates with each other and with the renderer."""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from veil.detect.ocr import Line, Word
from veil.pdf.content import IDENTITY, MAX_DEPTH, Matrix, apply, mul
from veil.regions import Box


@dataclass(frozen=True, slots=True)
class PageView:
    """One page: its size in device pixels and the map from user space to them."""

    index: int
    width: int
    height: int
    to_device: Matrix
    scale: float


def view_of(page: pdfium.PdfPage, index: int, scale: float) -> PageView:
    """The device space pdfium renders ``page`` into at ``scale`` pixels per point."""
    x0, y0, x1, y1 = page.get_cropbox()
    rotation = page.get_rotation() % 360
    s = scale
    w, h = x1 - x0, y1 - y0
    # user (x, y) -> device (X, Y), Y downwards, the page turned clockwise by /Rotate
    matrix: Matrix = {
        0: (s, 0.0, 0.0, -s, -x0 * s, y1 * s),
        90: (0.0, s, s, 0.0, -y0 * s, -x0 * s),
        180: (-s, 0.0, 0.0, s, x1 * s, -y0 * s),
        270: (0.0, -s, -s, 0.0, y1 * s, x1 * s),
    }[rotation]
    width, height = (w, h) if rotation in (0, 180) else (h, w)
    return PageView(index, max(1, round(width * s)), max(1, round(height * s)), matrix, s)


def _device_box(view: PageView, left: float, bottom: float, right: float, top: float
                ) -> tuple[float, float, float, float]:
    xs, ys = zip(*(apply(view.to_device, x, y) for x, y in
                   ((left, bottom), (right, top), (left, top), (right, bottom))), strict=True)
    return (min(xs), min(ys), max(xs), max(ys))


def _int_box(box: tuple[float, float, float, float], view: PageView) -> Box | None:
    x1 = max(0, int(np.floor(box[0])))
    y1 = max(0, int(np.floor(box[1])))
    x2 = min(view.width, max(x1 + 1, int(np.ceil(box[2]))))
    y2 = min(view.height, max(y1 + 1, int(np.ceil(box[3]))))
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2, y2)


@dataclass(frozen=True, slots=True)
class _Char:
    char: str
    box: tuple[float, float, float, float]  # user space: left, bottom, right, top
    direction: int  # 0..3: the text runs right, down, left, up on the rendered page


def _direction(view: PageView, angle: float) -> int:
    """Which way a character's baseline runs on the rendered page (quarter turns)."""
    ux, uy = math.cos(angle), math.sin(angle)
    m = view.to_device
    dx, dy = ux * m[0] + uy * m[2], ux * m[1] + uy * m[3]
    if abs(dx) >= abs(dy):
        return 0 if dx >= 0 else 2
    return 1 if dy > 0 else 3


def frame(view: PageView, direction: int) -> PageView:
    """The page turned so that text running in ``direction`` runs left to right."""
    w, h = view.width, view.height
    turn: Matrix = {0: IDENTITY, 1: (0.0, -1.0, 1.0, 0.0, 0.0, float(w)),
                    2: (-1.0, 0.0, 0.0, -1.0, float(w), float(h)),
                    3: (0.0, 1.0, -1.0, 0.0, float(h), 0.0)}[direction]
    width, height = (w, h) if direction in (0, 2) else (h, w)
    return PageView(view.index, width, height, mul(view.to_device, turn), view.scale)


def text_lines(textpage: pdfium.PdfTextPage, view: PageView
               ) -> list[tuple[PageView, list[Line]]]:
    """The text layer as lines of words, one group per direction text runs in on the page
    (most pages: one), each in a frame where its text runs left to right; [] for a page
    without text."""
    raw = textpage.raw
    left, right, bottom, top = (ctypes.c_double() for _ in range(4))
    chars: list[_Char | None] = []  # None: a break (space or line end)
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(raw, i)
        char = chr(code) if 0 < code < 0x110000 else "\ufffd"
        if char.isspace() or code == 0:
            chars.append(None)
            continue
        if not pdfium_c.FPDFText_GetCharBox(raw, i, left, right, bottom, top):
            continue
        if right.value <= left.value or top.value <= bottom.value:
            continue  # a glyph with no extent shows nothing
        angle = float(pdfium_c.FPDFText_GetCharAngle(raw, i))
        chars.append(_Char(char, (left.value, bottom.value, right.value, top.value),
                           _direction(view, angle if angle >= 0 else 0.0)))
    directions = sorted({c.direction for c in chars if c is not None})
    out = []
    for direction in directions:
        turned = frame(view, direction)
        lines = _lines([c if c is not None and c.direction == direction else None
                        for c in chars], turned)
        if lines:
            out.append((turned, lines))
    return out


def _lines(chars: list[_Char | None], view: PageView) -> list[Line]:
    """Words break at spaces (the PDF's or pdfium's generated ones) and at wide gaps;
    lines where text jumps back or off the line."""
    lines: list[Line] = []
    words: list[Word] = []
    text: list[str] = []
    box: list[float] | None = None
    previous: tuple[float, float, float, float] | None = None

    def end_word() -> None:
        nonlocal box, text
        if text and box is not None:
            ib = _int_box((box[0], box[1], box[2], box[3]), view)
            if ib is not None:
                words.append(Word("".join(text), ib, 1.0))
        text, box = [], None

    def end_line() -> None:
        nonlocal words
        end_word()
        if words:
            lb = (min(w.box[0] for w in words), min(w.box[1] for w in words),
                  max(w.box[2] for w in words), max(w.box[3] for w in words))
            lines.append(Line(tuple(words), lb, 1.0))
        words = []

    for c in chars:
        if c is None:
            end_word()
            continue
        b = _device_box(view, *c.box)
        if previous is not None:
            height = max(previous[3] - previous[1], b[3] - b[1])
            mid, prev_mid = (b[1] + b[3]) / 2, (previous[1] + previous[3]) / 2
            if abs(mid - prev_mid) > 0.6 * height or b[0] < previous[0] - 0.5 * height:
                end_line()
            elif b[0] - previous[2] > 0.35 * height:
                end_word()
        text.append(c.char)
        box = list(b) if box is None else [min(box[0], b[0]), min(box[1], b[1]),
                                           max(box[2], b[2]), max(box[3], b[3])]
        previous = b
    end_line()
    return lines


def picture_boxes(page: pdfium.PdfPage, view: PageView, min_side: int) -> list[Box]:
    """Device boxes of the images drawn on the page (inside forms too), at least
    ``min_side`` pixels on both sides once on the page."""
    out = []
    for left, bottom, right, top in _image_bounds(page, None, IDENTITY, 0):
        box = _int_box(_device_box(view, left, bottom, right, top), view)
        if box is not None and box[2] - box[0] >= min_side and box[3] - box[1] >= min_side:
            out.append(box)
    return out


def _image_bounds(page: pdfium.PdfPage, form: pdfium.PdfObject | None, matrix: Matrix,
                  depth: int) -> Iterator[tuple[float, float, float, float]]:
    """Page-space bounds of images; a form's objects are placed by the form's matrix."""
    if depth > MAX_DEPTH:
        return
    for obj in page.get_objects(max_depth=1, form=form, level=depth):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            left, bottom, right, top = obj.get_bounds()
            xs, ys = zip(*(apply(matrix, x, y) for x, y in (
                (left, bottom), (right, top), (left, top), (right, bottom))), strict=True)
            yield (min(xs), min(ys), max(xs), max(ys))
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_FORM:
            m = obj.get_matrix()
            inner: Matrix = (m.a, m.b, m.c, m.d, m.e, m.f)
            yield from _image_bounds(page, obj, mul(inner, matrix), depth + 1)


def render(page: pdfium.PdfPage, view: PageView) -> np.ndarray:
    """The page as RGB pixels in ``view``'s device space (annotations are gone already)."""
    bitmap = page.render(scale=view.scale, rev_byteorder=True, draw_annots=False)
    pixels = bitmap.to_numpy()
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]
    if pixels.shape[0] != view.height or pixels.shape[1] != view.width:
        out = np.full((view.height, view.width, 3), 255, np.uint8)
        h, w = min(view.height, pixels.shape[0]), min(view.width, pixels.shape[1])
        out[:h, :w] = pixels[:h, :w]
        return out
    return np.ascontiguousarray(pixels)
