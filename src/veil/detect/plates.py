"""Licence plates, found from OCR lines plus plate rules (no plate model installs offline).

A line, a run of its words or two stacked lines become a plate when their box is
plate-shaped, they hold 4 to 9 letters and digits, and the text reads as a plate: a
national format or a mix of letters and digits. Text that may be a plate but need not be
(all digits, all letters, a format only once OCR confusions such as O/0 or B/8 are
undone) must also stand alone and look like one: strokes on a light (or dark) field that
ends close around them. Text printed on a page (a scan, a receipt) is never a plate.
Boxes are grown to cover the plate's border and the bands above and below the characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from veil.detect.ocr import Line, read_lines
from veil.regions import Box, Region, clip_box

MODEL_VERSION = "ocr+plate@1"

MIN_CHARS, MAX_CHARS = 4, 9
STRONG = 0.8
"""Text evidence from which a plate-shaped box needs no pixels check (see PlateText)."""
MARGINS = (0.4, 0.55, 0.4, 0.35)
"""Growth of a text box (left, top, right, bottom) in text heights: covers the plate's
border, the EU blue band and the state or city names above and below the characters."""
PAPER_MIN_LEVEL, PAPER_MIN_SHARE, PAPER_TOLERANCE = 170, 0.4, 10
"""An image is a page when one bright, colourless grey level (+- tolerance) covers this
share of it."""
MIN_CONTRAST = 40.0
"""Grey levels between a plate's field and its characters, at least."""

_SEPARATORS = frozenset(" -.·•:=_'\"`|~")
_DIGIT_OF = {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "J": "1", "T": "7",
             "Z": "2", "S": "5", "B": "8", "G": "6", "A": "4", "E": "3"}
_LETTER_OF = {"0": "O", "1": "I", "2": "Z", "3": "E", "4": "A", "5": "S", "6": "G", "7": "T",
              "8": "B"}


def _expand(spec: str) -> list[str]:
    """Expand a spec like "L{2,3}D{3}" into its class strings: LLDDD, LLLDDD."""
    combos = [""]
    for cls, low, high in re.findall(r"([LD])(?:\{(\d)(?:,(\d))?\})?", spec):
        lo = int(low or 1)
        hi = int(high or lo)
        combos = [c + cls * n for c in combos for n in range(lo, hi + 1)]
    return combos


_FORMAT_SPECS = (
    # Brazil: grey plates "ABC-1234" and Mercosul "ABC1D23"
    "L{3}D{4}", "L{3}DLD{2}",
    # France (SIV), Italy, Slovakia "AB-123-CD"; Spain "1234 ABC"; UK "AB12 CDE";
    # Belgium "1-ABC-123"; Czechia "1AB 2345", "1A2 3456"
    "L{2}D{3}L{2}", "D{4}L{3}", "L{2}D{2}L{3}", "DL{3}D{3}", "DLD{5}", "DL{2}D{4}",
    # Germany "B AB 1234" (district, letters, digits), Austria, Poland, Nordic, Ireland
    "L{2,4}D{1,4}", "L{1,2}D{3,5}L{1,2}", "L{2}D{5}", "D{2,3}L{1,2}D{1,5}",
    # Netherlands side codes
    "L{2}D{4}", "D{4}L{2}", "D{2}L{2}D{2}", "L{2}D{2}L{2}", "L{4}D{2}", "D{2}L{4}",
    "D{2}L{3}D", "DL{3}D{2}", "L{2}D{3}L", "LD{3}L{2}", "L{3}D{2}L", "DL{2}D{3}", "D{3}L{2}D",
    # US: "ABC 1234", "ABC 123", California "7ABC123", "123 ABC", "1ABC234"
    "L{3}D{2,3}", "D{3}L{3,4}", "DL{3}D{3}",
)
FORMATS = frozenset(f for spec in _FORMAT_SPECS for f in _expand(spec)
                    if MIN_CHARS <= len(f) <= MAX_CHARS)
"""Plate formats as class strings, separators removed: L a letter, D a digit."""

_DATE_OR_TIME = re.compile(r"\d{1,4}\s*[-/.:=]\s*\d{1,2}\s*[-/.:=]\s*\d{1,4}|\d\s*:\s*\d\d"
                           r"|\b\d{1,2}(?:[:.]\d\d)?\s*[AP]\.?M\b", re.I)
_MONTH = re.compile(r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\d|\d(JAN|FEB|MAR"
                    r"|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)")
_NOT_PLATE = re.compile(r"[$€£%@#&+*/\\,;()\[\]<>?!]")
_WORD_AND_NUMBER = re.compile(r"[A-Z]{5,}")


@dataclass(frozen=True, slots=True)
class PlateText:
    """How much a piece of OCR text reads as a licence plate.

    ``chars`` are its letters and digits, upper-cased. ``evidence`` is 1.0 for a plate
    format read as is, 0.8 for another mix of 5 to 8 letters and digits (no
    more than 3 letters in a row), 0.6 for a format
    once at most two OCR confusions are undone, 0.4 for what may still be a plate (all
    letters, all digits, 4 mixed characters) and 0 for what is not one.
    """

    chars: str = ""
    evidence: float = 0.0


def read_plate_text(text: str) -> PlateText:
    """Judge ``text`` as read by OCR: does it read as a licence plate? See PlateText."""
    raw = text.strip()
    chars = "".join(c for c in raw.upper() if c.isascii() and c.isalnum())
    other = sum(1 for c in raw if not (c.isascii() and c.isalnum()) and c not in _SEPARATORS)
    if not MIN_CHARS <= len(chars) <= MAX_CHARS or other > 1:
        return PlateText(chars)
    if _NOT_PLATE.search(raw) or _DATE_OR_TIME.search(raw) or _MONTH.search(chars):
        return PlateText(chars)
    if 2 * sum(c.islower() for c in raw) > sum(c.isalpha() for c in raw):
        return PlateText(chars)  # plates are in capitals: "Page 1", "ford"
    letters = sum(c.isalpha() for c in chars)
    digits = len(chars) - letters
    if letters and digits and _WORD_AND_NUMBER.search(chars):
        return PlateText(chars)  # a word and a number: "LIGHT100S", "TOTAL 12"
    classes = "".join("D" if c.isdigit() else "L" for c in chars)
    if classes in FORMATS:
        return PlateText(chars, 1.0)
    if letters and digits and 5 <= len(chars) <= 8 and "LLLL" not in classes:
        return PlateText(chars, 0.8)
    if format_confusions(chars) <= 2:
        return PlateText(chars, 0.6)
    if letters or len(chars) >= 5:
        return PlateText(chars, 0.4)
    return PlateText(chars)


def format_confusions(chars: str) -> int:
    """The fewest OCR confusions (O/0, I/1, B/8, S/5, Z/2, G/6...) that turn ``chars``
    (upper-case letters and digits) into a plate format; 99 when none does."""
    best = 99
    for fmt in FORMATS:
        if len(fmt) != len(chars):
            continue
        count = 0
        for cls, c in zip(fmt, chars, strict=True):
            if (cls == "D") == c.isdigit():
                continue
            if (cls == "D" and c in _DIGIT_OF) or (cls == "L" and c in _LETTER_OF):
                count += 1
            else:
                count = 99
                break
        best = min(best, count)
    return best


@dataclass(frozen=True, slots=True)
class _Candidate:
    box: Box
    text: PlateText
    score: float
    text_height: int
    alone: bool
    """A whole line with no other line of like height beside, above or below it."""
    stacked: bool = False


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _height(box: Box) -> int:
    return box[3] - box[1]


def _candidates(lines: list[Line]) -> Iterator[_Candidate]:
    """Every line, every run of consecutive words in it and every pair of stacked lines."""
    for line in lines:
        words = line.words
        whole = (0, len(words))
        alone = not any(_neighbours(line.box, other.box) for other in lines if other is not line)
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                run = words[i:j]
                box = line.box if (i, j) == whole else _union([w.box for w in run])
                text = read_plate_text(" ".join(w.text for w in run))
                yield _Candidate(box, text, min(w.score for w in run), _height(line.box),
                                 alone and (i, j) == whole)
    for upper, lower in _stacked(lines):
        text = read_plate_text(upper.text + " " + lower.text)
        yield _Candidate(_union([upper.box, lower.box]), text, min(upper.score, lower.score),
                         max(_height(upper.box), _height(lower.box)), False, stacked=True)


def _neighbours(a: Box, b: Box) -> bool:
    """True when ``b`` is text of like height within 1.5 line heights of ``a``."""
    ha, hb = _height(a), _height(b)
    if not 0.5 <= hb / ha <= 2.0:
        return False
    gap_x = max(b[0] - a[2], a[0] - b[2], 0)
    gap_y = max(b[1] - a[3], a[1] - b[3], 0)
    return gap_x <= 1.5 * ha and gap_y <= 1.5 * ha


def _stacked(lines: list[Line]) -> Iterator[tuple[Line, Line]]:
    """Pairs of lines one right below the other, of like height and overlapping in x: the
    two rows of a square plate."""
    for a in lines:
        for b in lines:
            ha, hb = _height(a.box), _height(b.box)
            gap = b.box[1] - a.box[3]
            overlap = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
            narrow = min(a.box[2] - a.box[0], b.box[2] - b.box[0])
            if (a is not b and -0.3 * ha <= gap <= 0.6 * ha and 0.6 <= hb / ha <= 1.7
                    and overlap >= 0.6 * narrow):
                yield a, b


def _shape_ok(cand: _Candidate) -> bool:
    """Plate-shaped: a one-line box 1.2 to 8 times as wide as tall with characters of a
    plausible width, or a two-line box 0.7 to 3 times as wide as tall."""
    w, h = cand.box[2] - cand.box[0], _height(cand.box)
    if cand.stacked:
        return 0.7 <= w / h <= 3.0
    return 1.2 <= w / h <= 8.0 and 0.15 <= w / (h * len(cand.text.chars)) <= 1.3


def plate_regions(image: np.ndarray, lines: list[Line]) -> list[Region]:
    """Regions to hide for licence plates in an RGB uint8 ``image`` (display orientation),
    given the OCR ``lines`` read from it. ``Region.text`` holds the plate as read."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("plate_regions expects an RGB uint8 array")
    height, width = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    paper = _paper_level(image, grey)
    found: list[tuple[Box, float, str]] = []
    for cand in _candidates(lines):
        evidence = cand.text.evidence
        if evidence <= 0 or not _shape_ok(cand):
            continue
        if paper is not None and (evidence < STRONG or _on_paper(grey, cand.box, paper)
                                  or not _looks_like_plate(grey, cand.box)):
            continue  # on a page, only a plate-like patch (a photo of a car) may hold one
        if evidence < STRONG and not (cand.alone and _looks_like_plate(grey, cand.box)):
            continue
        h = cand.text_height
        x1, y1, x2, y2 = cand.box
        left, top, right, bottom = (m * h for m in MARGINS)
        box = clip_box((x1 - left, y1 - top, x2 + right, y2 + bottom), width, height)
        if box is not None:
            found.append((box, evidence * max(cand.score, 0.5), cand.text.chars))
    return [Region(box, "plate", round(score, 3), MODEL_VERSION, text=text)
            for box, score, text in _merge(found)]


def _paper_level(image: np.ndarray, grey: np.ndarray) -> float | None:
    """The grey level of the page when the image is mostly blank paper (a scan, a photo of
    a receipt): one bright, colourless level covering much of it; else None."""
    sample = grey[::2, ::2]
    hist = np.bincount(sample.ravel(), minlength=256).astype(np.float64)
    band = np.convolve(hist, np.ones(2 * PAPER_TOLERANCE + 1), mode="same")
    level = int(np.argmax(band))
    if level < PAPER_MIN_LEVEL or band[level] < PAPER_MIN_SHARE * sample.size:
        return None
    near = image[::2, ::2][np.abs(sample.astype(np.int16) - level) <= PAPER_TOLERANCE]
    if float(np.mean(np.ptp(near.astype(np.int16), axis=1))) > 40:
        return None  # a coloured surface, not paper
    return float(level)


def _on_paper(grey: np.ndarray, box: Box, paper: float) -> bool:
    """True when text is printed on the page: blank paper on three sides of it or more."""
    return sum(share >= 0.5 for share in _side_shares(grey, box, paper)) >= 3


def _side_shares(grey: np.ndarray, box: Box, level: float) -> list[float]:
    """Share of pixels within 20 grey levels of ``level`` in four strips a little away
    from ``box`` (left, right, above, below); a strip outside the image counts 0."""
    x1, y1, x2, y2 = box
    h = y2 - y1
    height, width = grey.shape[:2]
    strips = ((x1 - 1.4 * h, y1, x1 - 0.6 * h, y2), (x2 + 0.6 * h, y1, x2 + 1.4 * h, y2),
              (x1, y1 - 1.6 * h, x2, y1 - 0.9 * h), (x1, y2 + 0.7 * h, x2, y2 + 1.4 * h))
    shares = []
    for strip in strips:
        clipped = clip_box(strip, width, height)
        if clipped is None or min(clipped[2] - clipped[0], clipped[3] - clipped[1]) < 2:
            shares.append(0.0)
            continue
        a, b, c, d = clipped
        near = np.abs(grey[b:d, a:c].astype(np.float32) - level) <= 2 * PAPER_TOLERANCE
        shares.append(float(np.mean(near)))
    return shares


def _looks_like_plate(grey: np.ndarray, box: Box) -> bool:
    """Pixels check for text that may be a plate but need not be: strokes on a field (the
    larger share of the middle of the box, light or dark) that ends within a line height
    of the text on three sides or more, as a plate ends on a car."""
    x1, y1, x2, y2 = box
    h, w = y2 - y1, x2 - x1
    if h < 8 or w < 16:
        return False
    core = grey[y1 + h // 5 : y2 - h // 5, x1 + w // 30 : x2 - w // 30]  # not the frame
    threshold, _ = cv2.threshold(core, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light = core > threshold
    field_mask = light if light.mean() >= 0.5 else ~light
    field = float(np.median(core[field_mask]))
    ink = float(np.median(core[~field_mask])) if not field_mask.all() else field
    if abs(field - ink) < MIN_CONTRAST or _strokes(~field_mask) < 3:
        return False
    return sum(share < 0.5 for share in _side_shares(grey, box, field)) >= 3


def _strokes(ink: np.ndarray) -> int:
    """How many ink runs a horizontal line through the middle of the text crosses
    (the median of three lines)."""
    counts = []
    for frac in (0.35, 0.5, 0.65):
        row = ink[int(frac * (ink.shape[0] - 1))].astype(np.int8)
        counts.append(int(np.count_nonzero(np.diff(row) == 1)) + int(row[0]))
    return sorted(counts)[1]


def _merge(found: list[tuple[Box, float, str]]) -> list[tuple[Box, float, str]]:
    """One region per plate: a box overlapping a better one is merged into it."""
    found.sort(key=lambda f: -f[1])
    kept: list[tuple[Box, float, str]] = []
    for box, score, text in found:
        for i, (kbox, kscore, ktext) in enumerate(kept):
            ix = min(box[2], kbox[2]) - max(box[0], kbox[0])
            iy = min(box[3], kbox[3]) - max(box[1], kbox[1])
            small = min((box[2] - box[0]) * _height(box), (kbox[2] - kbox[0]) * _height(kbox))
            if ix > 0 and iy > 0 and ix * iy >= 0.3 * small:
                kept[i] = (_union([box, kbox]), kscore, ktext)
                break
        else:
            kept.append((box, score, text))
    return kept


class PlateDetector:
    """Detects licence plates: reads the OCR lines, then applies :func:`plate_regions`."""

    name = "plates"
    kinds: tuple[str, ...] = ("plate",)

    def detect(self, image: np.ndarray) -> list[Region]:
        return plate_regions(image, read_lines(image))
