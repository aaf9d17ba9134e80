"""Personal text inside images: OCR words -> page text -> text detector -> pixel regions.

Each personal value becomes one Region whose mask is the union of its words' boxes (a
value that wraps over two lines is masked on both), padded by shares of the line height.
Machine-readable zones of passports and ID cards are hidden whole; sex markers next to a
name, as burned into medical image headers, are hidden with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from veil.detect.ocr import NAME as OCR_NAME
from veil.detect.ocr import Line, Word, read_lines
from veil.detect.text_pii import TextDetector, resolve
from veil.regions import Box, Region, Span

SOURCE = f"{OCR_NAME}+text@1"
PAD = (0.25, 0.05)
"""Padding of a word box (left and right, top and bottom), as shares of its height: the
OCR's word boxes are loose above and below the glyphs but may clip their first and last
letters."""
_MRZ = re.compile(r"[A-Z0-9<]{28,46}")
_SEX = re.compile(r"[\[(]?(?:M|F|X|MALE|FEMALE)[\])]?", re.I)


@dataclass(frozen=True, slots=True)
class Page:
    """The OCR words of an image as one text: ``spans[i]`` is where ``words[i]`` sits in it."""

    text: str
    words: tuple[Word, ...]
    spans: tuple[tuple[int, int], ...]
    rows: tuple[int, ...]
    """Row number of each word: words of one row are on one visual line."""


def page_of(lines: Sequence[Line]) -> Page:
    """Lay the OCR's line fragments out as rows, left to right, rows top to bottom."""
    parts: list[str] = []
    words: list[Word] = []
    spans: list[tuple[int, int]] = []
    rows: list[int] = []
    pos = 0
    for r, row in enumerate(_rows(lines)):
        if r:
            parts.append("\n")
            pos += 1
        previous: Word | None = None
        for word in (w for line in row for w in line.words):
            if previous is not None:
                gap = word.box[0] - previous.box[2]
                sep = "\t" if gap > 2 * (previous.box[3] - previous.box[1]) else " "
                parts.append(sep)
                pos += 1
            parts.append(word.text)
            spans.append((pos, pos + len(word.text)))
            words.append(word)
            rows.append(r)
            pos += len(word.text)
            previous = word
    return Page("".join(parts), tuple(words), tuple(spans), tuple(rows))


def _rows(lines: Sequence[Line]) -> list[list[Line]]:
    """Group line fragments whose vertical extents mostly overlap; sort each row by x."""
    rows: list[list[Line]] = []
    extents: list[tuple[int, int]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        y1, y2 = line.box[1], line.box[3]
        for i, (r1, r2) in enumerate(extents):
            overlap = min(y2, r2) - max(y1, r1)
            if overlap > 0.5 * min(y2 - y1, r2 - r1):
                rows[i].append(line)
                extents[i] = (min(r1, y1), max(r2, y2))
                break
        else:
            rows.append([line])
            extents.append((y1, y2))
    order = sorted(range(len(rows)), key=lambda i: extents[i][0])
    return [sorted(rows[i], key=lambda ln: ln.box[0]) for i in order]


class ImageTextDetector:
    """Reads an image's text once (OCR) and finds in it personal values (kinds
    ``text.<ENTITY>``) and licence plates (kind ``plate``)."""

    name = SOURCE
    kinds: tuple[str, ...] = ("text", "plate")

    def __init__(self, detector: TextDetector | None = None, *, text: bool = True,
                 plates: bool = True, pad: tuple[float, float] = PAD) -> None:
        self._detector = detector
        self._text, self._plates, self._pad = text, plates, pad

    def warm_up(self) -> None:
        """Load the text detector's models (NER, name lists), which a blank image skips."""
        self._text_detector().scan("Warm-up call for Jane Roe, jane@example.org.")

    def detect(self, image: np.ndarray) -> list[Region]:
        lines = read_lines(image)
        found = self.text_regions(image, lines) if self._text else []
        if self._plates:
            from veil.detect.plates import plate_regions

            found += plate_regions(image, lines)
        return found

    def text_regions(self, image: np.ndarray, lines: Sequence[Line]) -> list[Region]:
        """Regions for the personal values in ``lines`` (already read from ``image``)."""
        height, width = image.shape[:2]
        page = page_of(lines)
        spans = self._text_detector().scan(page.text) if page.text.strip() else []
        spans = resolve(spans + _mrz_spans(page) + _sex_spans(page, spans))
        regions = []
        for span in spans:
            region = self._region(page, span, width, height)
            if region is not None:
                regions.append(region)
        return regions

    def _text_detector(self) -> TextDetector:
        if self._detector is None:
            self._detector = TextDetector()
        return self._detector

    def _region(self, page: Page, span: Span, width: int, height: int) -> Region | None:
        rows: dict[int, list[tuple[float, float, float, float]]] = {}
        for word, (start, end), row in zip(page.words, page.spans, page.rows, strict=True):
            if start < span.end and end > span.start:
                rows.setdefault(row, []).append(_part(word, start, end, span))
        if not rows:
            return None
        # One box per row the value is on: its words and the spaces between them.
        boxes = [_padded((min(b[0] for b in bs), min(b[1] for b in bs),
                          max(b[2] for b in bs), max(b[3] for b in bs)), self._pad, width, height)
                 for bs in rows.values()]
        x1, y1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
        x2, y2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
        mask = np.zeros((y2 - y1, x2 - x1), bool)
        for bx1, by1, bx2, by2 in boxes:
            mask[by1 - y1 : by2 - y1, bx1 - x1 : bx2 - x1] = True
        return Region((x1, y1, x2, y2), f"text.{span.entity}", span.score, SOURCE,
                      None if mask.all() else mask, page.text[span.start : span.end])


def _part(word: Word, start: int, end: int, span: Span) -> tuple[float, float, float, float]:
    """The share of a word's box the span covers, assuming even character widths,
    widened by one character on each cut side because widths are not even."""
    x1, y1, x2, y2 = word.box
    n = end - start
    a, b = max(span.start, start) - start, min(span.end, end) - start
    if a == 0 and b == n:
        return (x1, y1, x2, y2)
    step = (x2 - x1) / n
    left = x1 + step * max(0, a - 1) if a else x1
    right = x1 + step * min(n, b + 1) if b < n else x2
    return (left, y1, right, y2)


def _padded(box: tuple[float, float, float, float], pad: tuple[float, float], width: int,
            height: int) -> Box:
    dx, dy = (box[3] - box[1]) * pad[0], (box[3] - box[1]) * pad[1]
    return (max(0, int(box[0] - dx)), max(0, int(box[1] - dy)),
            min(width, int(np.ceil(box[2] + dx))), min(height, int(np.ceil(box[3] + dy))))


def _mrz_spans(page: Page) -> list[Span]:
    """Each row of a machine-readable zone (TD1/TD2/TD3): the whole row is personal."""
    out = []
    for row in sorted(set(page.rows)):
        idx = [i for i, r in enumerate(page.rows) if r == row]
        start, end = page.spans[idx[0]][0], page.spans[idx[-1]][1]
        compact = re.sub(r"\s", "", page.text[start:end]).upper()
        if _MRZ.fullmatch(compact) and (compact.count("<") >= 2 or compact[:2] in _MRZ_STARTS):
            out.append(Span(start, end, "MRZ", 1.0, "mrz"))
    return out


_MRZ_STARTS = frozenset({"P<", "I<", "ID", "IP", "AC", "V<", "VI", "C<", "A<"})


def _sex_spans(page: Page, found: Sequence[Span]) -> list[Span]:
    """A sex marker ("[M]", "F", "Female") on the same row as a person's name."""
    rows_with_name = {page.rows[i] for i, (s, e) in enumerate(page.spans)
                      for f in found if f.entity == "PERSON" and s < f.end and e > f.start}
    out = []
    for i, (start, end) in enumerate(page.spans):
        if page.rows[i] in rows_with_name and _SEX.fullmatch(page.words[i].text.strip(" ,;")):
            out.append(Span(start, end, "GENDER", 0.8, "sex-marker"))
    return out
