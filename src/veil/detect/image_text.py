"""Personal text inside images: OCR words -> page text -> text detector -> pixel regions.

Each personal value becomes one Region whose mask is the union of its words' boxes (a
value that wraps over two lines is masked on both), padded by shares of the line height.
Machine-readable zones of passports and ID cards are hidden whole; sex markers next to a
name, as burned into medical image headers, are hidden with it. Form fields are read by
their labels ("Passport No.", "Geburtsdatum", "Teléfono"): the value right of a label, or
below it when the label stands alone, is hidden when it has the shape of its field, since
OCR'd values often fail the text detector's strict patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from veil.detect.ocr import NAME as OCR_NAME
from veil.detect.ocr import TEXT_SCORE, Line, Word, read_upright
from veil.images import region_to_stored
from veil.regions import Box, Region, Span
from veil.text import TextDetector, resolve
from veil.text import patterns as tp
from veil.text.recognizer import Recognizer
from veil.text.recognizers.documents import label, value_ok
from veil.timing import stage

SOURCE = f"{OCR_NAME}+text@1"
PAD = (0.25, 0.05)
"""Padding of a word box (left and right, top and bottom), as shares of its height: the
OCR's word boxes are loose above and below the glyphs but may clip their first and last
letters."""
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
                 plates: bool = True, pad: tuple[float, float] = PAD,
                 scripts: tuple[str, ...] = ()) -> None:
        self._detector = detector
        self._text, self._plates, self._pad = text, plates, pad
        self._scripts = scripts

    def with_recognizers(self, extra: Iterable[Recognizer]) -> ImageTextDetector:
        """This detector with ``extra`` text rules after its own (e.g. the values a file's
        own metadata names, looked for in its pixels)."""
        return ImageTextDetector(self._text_detector().with_recognizers(extra),
                                 text=self._text, plates=self._plates, pad=self._pad)

    def warm_up(self) -> None:
        """Load the text detector's models (NER, name lists), which a blank image skips."""
        self._text_detector().scan("Warm-up call for Jane Roe, jane@example.org.")

    def detect(self, image: np.ndarray) -> list[Region]:
        # a page turned sideways or upside down is read upright, so that labels, fields and
        # lines keep their layout; plates need the lines OCR could not read (min_score 0)
        orientation, upright, lines = read_upright(image, 0.0, self._scripts)
        with stage("text"):
            found = self.text_regions(upright, lines) if self._text else []
        if self._plates:
            from veil.detect.plates import plate_regions

            with stage("plates"):
                found += plate_regions(upright, lines)
        size = (image.shape[1], image.shape[0])
        return [region_to_stored(r, orientation, size) for r in found]

    def text_regions(self, image: np.ndarray, lines: Sequence[Line]) -> list[Region]:
        """Regions for the personal values in ``lines`` (already read from ``image``; lines
        read with less confidence than ``ocr.TEXT_SCORE`` are left out)."""
        height, width = image.shape[:2]
        page = page_of([line for line in lines if line.score >= TEXT_SCORE])
        text = _letters_read(page.text)
        spans = self._text_detector().scan(text) if text.strip() else []
        spans += _address_spans(page.text)
        spans = resolve(spans + _sex_spans(page, spans))
        spans = _with_fields(spans, _field_spans(page))
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


def _sex_spans(page: Page, found: Sequence[Span]) -> list[Span]:
    """A sex marker ("[M]", "F", "Female") on the same row as a person's name."""
    rows_with_name = {page.rows[i] for i, (s, e) in enumerate(page.spans)
                      for f in found if f.entity == "PERSON" and s < f.end and e > f.start}
    out = []
    for i, (start, end) in enumerate(page.spans):
        if page.rows[i] in rows_with_name and _SEX.fullmatch(page.words[i].text.strip(" ,;")):
            out.append(Span(start, end, "GENDER", 0.8, "sex-marker"))
    return out


# --- form fields --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Segment:
    """Words of one row between two wide gaps."""

    row: int
    first: int
    last: int
    box: Box


def _segments(page: Page) -> list[_Segment]:
    out: list[_Segment] = []
    start = 0
    for i in range(1, len(page.words) + 1):
        if i == len(page.words) or page.rows[i] != page.rows[start] or (
                page.text[page.spans[i - 1][1]] == "\t"):
            boxes = [w.box for w in page.words[start:i]]
            box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
                   max(b[2] for b in boxes), max(b[3] for b in boxes))
            out.append(_Segment(page.rows[start], start, i - 1, box))
            start = i
    return out


def _field_spans(page: Page) -> list[Span]:
    """Values of labelled form fields: in the label's segment after it, else in the next
    segment of its row, else in the segment just below it, aligned with it."""
    segments = _segments(page)
    out: list[Span] = []
    for n, seg in enumerate(segments):
        start, end = page.spans[seg.first][0], page.spans[seg.last][1]
        text = _letters_read(page.text[start:end])
        found = label(text)
        if found is None:
            continue
        entity, cut = found
        if cut < len(text):
            # Values right after a label: whole words only, and all of what follows.
            if value_ok(entity, text[cut:]):
                out.append(Span(start + cut, end, entity, 0.9, "field"))
            continue
        height = seg.box[3] - seg.box[1]
        nxt = segments[n + 1] if n + 1 < len(segments) else None
        below = [s for s in segments[n + 1:]
                 if s.row > seg.row and s.box[1] > seg.box[1] + height / 2
                 and s.box[1] - seg.box[3] < 1.5 * height
                 and abs(s.box[0] - seg.box[0]) < 2.5 * height]
        # the value right of a label, on its row, comes before one below it
        for cand in ([nxt] if nxt is not None and nxt.row == seg.row else []) + below[:1]:
            c_start, c_end = page.spans[cand.first][0], page.spans[cand.last][1]
            value = page.text[c_start:c_end]
            if label(value) is not None:
                continue
            if value_ok(entity, value):
                out.append(Span(c_start, c_end, entity, 0.9, "field"))
                break
    return out + _header_names(page, segments, out)


_HEADER_NAME = re.compile(r"[^\W\d_]{2,}(?:(?:, ?| )[^\W\d_]{2,}){1,3}")


def _header_names(page: Page, segments: Sequence[_Segment], fields: Sequence[Span]
                  ) -> list[Span]:
    """The patient's name atop a block of patient data burned into a medical image: a
    capitalised run ("DOE, JANE", "DOE^JANE") up to two rows above an ID or a birth date
    field, aligned with it on the left."""
    starts = [f.start for f in fields if f.entity in ("ID_NUMBER", "DATE_OF_BIRTH")]
    anchors = [seg for seg in segments
               if any(page.spans[seg.first][0] <= x < page.spans[seg.last][1] for x in starts)]
    out = []
    for seg in segments:
        start, end = page.spans[seg.first][0], page.spans[seg.last][1]
        value = _letters_read(page.text[start:end])
        if not (value.isupper() and _HEADER_NAME.fullmatch(value)) or label(value):
            continue
        height = seg.box[3] - seg.box[1]
        if any(0 < a.row - seg.row <= 2 and abs(a.box[0] - seg.box[0]) < 2 * height
               and a.box[1] - seg.box[3] < 3 * height for a in anchors):
            out.append(Span(start, end, "PERSON", 0.7, "header-name"))
    return out


def _with_fields(spans: list[Span], fields: list[Span]) -> list[Span]:
    """Add field values: one replaces the findings inside it, and gives way to a finding
    reaching out of it."""
    out = list(spans)
    for field_ in fields:
        inside = [s for s in out if s.start >= field_.start and s.end <= field_.end]
        across = [s for s in out if s.start < field_.end and s.end > field_.start
                  and s not in inside]
        if across:
            continue
        score = max([field_.score, *(s.score for s in inside)])
        out = [s for s in out if s not in inside]
        out.append(Span(field_.start, field_.end, field_.entity, score, field_.source))
    return sorted(out, key=lambda s: s.start)


# --- OCR slips and upper-case addresses -----------------------------------------------------

_ZERO_IN_WORD = re.compile(r"(?<=[^\W\d_])0(?=[^\W\d_])|(?<!\w)0(?=[a-z]{2})")
_UPPER_WORD = re.compile(r"\b[A-Z][A-Z]+\b")
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP"
)
_US_CITY_LINE = re.compile(
    rf"(?<![\w-])[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){{0,2}}, (?:{_US_STATES}) \d{{5}}(?:-\d{{4}})?\b")


def _letters_read(text: str) -> str:
    """``text`` with a zero read inside a word taken as the letter O ("0val", "HARB0R") and
    DICOM's name separator as a space ("SMITH^JOHN"); same length, so spans found in it
    apply to ``text``."""
    return _ZERO_IN_WORD.sub("O", text).replace("^", " ")


def _address_spans(text: str) -> list[Span]:
    """Addresses printed in capitals ("12 MAIN STREET APT. 4"), which the text detector's
    patterns expect in mixed case, and US city lines ("Springfield, IL 62704")."""
    titled = _UPPER_WORD.sub(lambda m: m.group(0).capitalize(), _letters_read(text))
    spans = [Span(m.start(), m.end(), "ADDRESS", 0.9, "pattern")
             for m in tp.ADDRESS.finditer(titled) if not m.group(0).isspace()]
    spans += [Span(m.start(), m.end(), "ADDRESS", 0.8, "pattern")
              for m in _US_CITY_LINE.finditer(text)]
    return spans
