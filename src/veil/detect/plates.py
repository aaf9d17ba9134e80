"""Licence plates, found from OCR lines plus plate rules (no plate model installs offline).

A line, a run of its words or two lines side by side or stacked become a plate when
their box is plate-shaped, they hold 4 to 9 letters and digits and the text reads as a
plate: a national format (US, EU, UK, Brazil...) or a mix of letters and digits. Text
that may be a plate but need not be (all digits, all letters, a format only once OCR
confusions such as O/0 or B/8 are undone) must also stand alone and look like one:
strokes on a field that ends close around them. Plates OCR could not read at all are
found from their pixels: a row of 4 to 9 character blobs on such a field. On a page (a
scan, a receipt) only a plate-like patch, as in a photo of a car, may hold a plate.
Boxes are grown to cover the plate's border and the bands above and below the characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from veil.detect.ocr import TEXT_SCORE, Line, read_lines
from veil.regions import Box, Region, clip_box

MODEL_VERSION = "ocr+plate@1"

MIN_CHARS, MAX_CHARS = 4, 9
STRONG = 0.8
"""Text evidence from which a plate-shaped box needs no pixels check (see PlateText)."""
MARGINS = (0.4, 0.65, 0.4, 0.5)
"""Growth of a text box (left, top, right, bottom) in text heights: covers the plate's
border, the EU blue band and the state or city names above and below the characters."""
PAPER_MIN_LEVEL, PAPER_MIN_SHARE, PAPER_TOLERANCE = 170, 0.4, 10
"""An image is a page when one bright, colourless grey level (+- tolerance) covers this
share of it."""
PAGE_MIN_LINES = 8
"""A page holds this many lines of text at least (a white car close-up does not)."""
MIN_CONTRAST = 40.0
"""Grey levels between a plate's field and its characters, at least."""
READ_SCORE = 0.8
"""An OCR line read this confidently and not judged a plate is no unread plate."""
UNREAD_SCORE = 0.5
"""Score of a plate found from its shape alone (OCR could not read it)."""
ROW_MAX_SIDE = 1600
"""Images are searched for unread plates at no more than this many pixels a side."""
ROW_MIN_HEIGHT = 10
"""Characters shorter than this (px, once searched) are not looked for without OCR."""
ROW_PAD = 0.1
"""Air an OCR box leaves above and below the characters, in character heights."""

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

_DATE_OR_TIME = re.compile(r"\d{1,4}\s*[-/.:=]\s*\d{1,2}\s*[-/.:=]\s*\d{1,4}"
                           r"|(?<!\d)\d{1,2}\s*:\s*\d\d(?!\d)|\b\d{1,2}(?:[:.]\d\d)?\s*[AP]\.?M\b",
                           re.I)
_MONTHS = "(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*"
_DATE_IN_WORDS = re.compile(rf"\d{{1,2}}\s*{_MONTHS}\s*\d{{2,4}}|{_MONTHS}\s*\d{{1,2}}\s+\d{{2,4}}")
"""Day, month and year ("24JUN2004", "JAN 31 1997"); "JAN 3456" may be a plate."""
_NOT_PLATE = re.compile(r"[$€£%@#/\\,;?!]")
"""Signs of prices, addresses and prose; one other odd sign ("+", "(") may be a misread."""
_LABEL = re.compile(r"[A-Za-z]{2,}\.\s")


@dataclass(frozen=True, slots=True)
class PlateText:
    """How much a piece of OCR text reads as a licence plate.

    ``chars`` are its letters and digits, upper-cased. ``evidence`` is 1.0 for a plate
    format of 5 or more characters as read; 0.8 for another mix of 5 to 8 letters and
    digits, no more than 3 letters in a row; 0.6 for a 4-character format or a format
    once at most two OCR confusions are undone; 0.4 for what may still be a plate (all
    letters, all digits, 4 mixed characters); 0 for what is not one.
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
    if (_NOT_PLATE.search(raw) or _DATE_OR_TIME.search(raw)
            or _DATE_IN_WORDS.search(raw.upper())):
        return PlateText(chars)
    if 2 * sum(c.islower() for c in raw) > sum(c.isalpha() for c in raw):
        return PlateText(chars)  # plates are in capitals: "Page 1", "ford"
    if _LABEL.search(raw):
        return PlateText(chars)  # "No. 12", "Ref. 4711"
    letters = sum(c.isalpha() for c in chars)
    digits = len(chars) - letters
    classes = "".join("D" if c.isdigit() else "L" for c in chars)
    if letters and digits and "LLLLL" in classes:  # a word and a number: "LIGHT100S"
        return PlateText(chars, 0.6 if format_confusions(chars) <= 2 else 0.0)
    if classes in FORMATS:
        return PlateText(chars, 1.0 if len(chars) > MIN_CHARS else 0.6)
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


def _candidates(lines: Sequence[Line]) -> Iterator[_Candidate]:
    """Every line, every run of consecutive words in it and every pair of lines that may
    be one plate (see _pairs)."""
    for line in lines:
        words = line.words
        whole = (0, len(words))
        alone = not any(_neighbours(line.box, other.box) for other in lines if other is not line)
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                run = words[i:j]
                if sum(c.isalnum() for w in run for c in w.text) > MAX_CHARS:
                    break  # longer runs only hold more
                box = line.box if (i, j) == whole else _union([w.box for w in run])
                text = read_plate_text(" ".join(w.text for w in run))
                yield _Candidate(box, text, min(w.score for w in run), _height(line.box),
                                 alone and (i, j) == whole)
    for first, second, stacked in _pairs(lines):
        text = read_plate_text(first.text + " " + second.text)
        yield _Candidate(_union([first.box, second.box]), text, min(first.score, second.score),
                         max(_height(first.box), _height(second.box)), False, stacked)


def _neighbours(a: Box, b: Box) -> bool:
    """True when ``b`` is text of like height within 1.5 line heights of ``a``."""
    ha, hb = _height(a), _height(b)
    if not 0.5 <= hb / ha <= 2.0:
        return False
    gap_x = max(b[0] - a[2], a[0] - b[2], 0)
    gap_y = max(b[1] - a[3], a[1] - b[3], 0)
    return gap_x <= 1.5 * ha and gap_y <= 1.5 * ha


def _pairs(lines: Sequence[Line]) -> Iterator[tuple[Line, Line, bool]]:
    """Pairs of lines of like height that may be one plate: side by side with a small gap
    (a badge or a seal between the parts), or one right below the other and overlapping
    in x (the two rows of a square plate; the flag is True)."""
    for a in lines:
        for b in lines:
            ha, hb = _height(a.box), _height(b.box)
            if a is b or not 0.6 <= hb / ha <= 1.7:
                continue
            overlap_y = min(a.box[3], b.box[3]) - max(a.box[1], b.box[1])
            overlap_x = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
            gap_x, gap_y = b.box[0] - a.box[2], b.box[1] - a.box[3]
            if overlap_y >= 0.6 * min(ha, hb) and -0.2 * ha <= gap_x <= 1.2 * ha:
                yield a, b, False
            narrow = min(a.box[2] - a.box[0], b.box[2] - b.box[0])
            if -0.3 * ha <= gap_y <= 0.6 * ha and overlap_x >= 0.6 * narrow:
                yield a, b, True


def _shape_ok(cand: _Candidate) -> bool:
    """Plate-shaped: a one-line box 1.2 to 8 times as wide as tall with characters of a
    plausible width, or a two-line box 0.7 to 3 times as wide as tall."""
    w, h = cand.box[2] - cand.box[0], _height(cand.box)
    if cand.stacked:
        return 0.7 <= w / h <= 3.0
    return 1.2 <= w / h <= 8.0 and 0.15 <= w / (h * len(cand.text.chars)) <= 1.3


def plate_regions(image: np.ndarray, lines: Sequence[Line]) -> list[Region]:
    """Regions to hide for licence plates in an RGB uint8 ``image`` (display orientation),
    given every OCR line found in it (``read_lines(image, min_score=0)``: lines it could not
    read too). ``Region.text`` holds the plate as read ("" when it was not read)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError("plate_regions expects an RGB uint8 array")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    read = [line for line in lines if line.score >= TEXT_SCORE]
    paper = _paper_level(image, grey) if len(read) >= PAGE_MIN_LINES else None
    found: list[tuple[Box, float, str]] = []
    for cand in _candidates(read):
        evidence = cand.text.evidence
        if evidence <= 0 or not _shape_ok(cand):
            continue
        if paper is not None and (evidence < STRONG or _on_paper(grey, cand.box, paper)
                                  or not _looks_like_plate(grey, cand.box)):
            continue  # on a page, only a plate-like patch (a photo of a car) may hold one
        if evidence < STRONG and not (cand.alone and _looks_like_plate(grey, cand.box)):
            continue
        box = _grow(cand.box, cand.text_height, grey.shape)
        if box is not None:
            found.append((box, evidence * max(cand.score, 0.5), cand.text.chars))
    if paper is None:  # plates OCR saw as text but could not read: character blobs on a plate
        well_read = [line.box for line in lines if line.score >= READ_SCORE]
        unread = [line.box for line in lines if line.score < READ_SCORE]
        for row in _character_rows(grey):
            if (any(_overlap(row, box) for box in well_read)
                    or not any(_overlap(row, box) for box in unread)
                    or not _looks_like_plate(grey, row)):
                continue
            box = _grow(row, round(_height(row) * (1 + 2 * ROW_PAD)), grey.shape)
            if box is not None:
                found.append((box, UNREAD_SCORE, ""))
    return [Region(box, "plate", round(score, 3), MODEL_VERSION, text=text)
            for box, score, text in _merge(found)]


def _grow(box: Box, text_height: int, shape: tuple[int, ...]) -> Box | None:
    """The plate around its characters: ``box`` grown by MARGINS, inside the image."""
    x1, y1, x2, y2 = box
    left, top, right, bottom = (m * text_height for m in MARGINS)
    return clip_box((x1 - left, y1 - top, x2 + right, y2 + bottom), shape[1], shape[0])


def _character_rows(grey: np.ndarray) -> list[Box]:
    """Rows of 4 to 9 character-like blobs (dark on light, or light on dark) of like
    height, aligned and closely spaced, found without OCR: a plate OCR could not read."""
    height, width = grey.shape[:2]
    scale = min(1.0, ROW_MAX_SIDE / max(height, width))
    small = grey if scale == 1.0 else cv2.resize(grey, None, fx=scale, fy=scale,
                                                 interpolation=cv2.INTER_AREA)
    block = max(15, (min(small.shape[:2]) // 25) | 1)
    rows: list[Box] = []
    for polarity in (cv2.THRESH_BINARY_INV, cv2.THRESH_BINARY):
        ink = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, polarity, block, 12)
        n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        blobs = sorted(
            (int(x), int(y), int(w), int(h)) for x, y, w, h, area in stats[1:n]
            if ROW_MIN_HEIGHT <= h <= small.shape[0] / 6 and 0.12 * h <= w <= h
            and 0.15 * w * h <= area <= 0.85 * w * h
        )
        for row in _rows(blobs):
            x1, y1 = min(b[0] for b in row), min(b[1] for b in row)
            x2, y2 = max(b[0] + b[2] for b in row), max(b[1] + b[3] for b in row)
            if 1.5 <= (x2 - x1) / (y2 - y1) <= 7.0:
                box = clip_box((x1 / scale, y1 / scale, x2 / scale, y2 / scale), width, height)
                if box is not None:
                    rows.append(box)
    return rows


def _rows(blobs: list[tuple[int, int, int, int]]) -> Iterator[list[tuple[int, int, int, int]]]:
    """Chain blobs (sorted by x) left to right into rows of 4 to 9 like characters; bars
    of a fence or a grille (thin, all alike) are not characters."""
    used: set[int] = set()
    for i, first in enumerate(blobs):
        if i in used:
            continue
        row, last = [i], first
        for j in range(i + 1, len(blobs)):
            x, y, _, h = blobs[j]
            lx, ly, lw, lh = last
            if x > lx + lw + 3 * lh:
                break
            if (lx + lw / 2 <= x <= lx + lw + 1.2 * lh and 0.75 <= h / lh <= 1.33
                    and abs(y - ly) <= 0.3 * lh and abs(y + h - ly - lh) <= 0.3 * lh):
                row.append(j)
                last = blobs[j]
        chars = [blobs[k] for k in row]
        wide = sum(w >= 0.3 * h for _, _, w, h in chars)
        if 4 <= len(row) <= 9 and wide >= 3 and np.median([w / h for *_, w, h in chars]) >= 0.3:
            used.update(row)
            yield chars


def _overlap(a: Box, b: Box) -> bool:
    """True when ``a`` and ``b`` share 30 % of the smaller one's area."""
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    small = min((a[2] - a[0]) * _height(a), (b[2] - b[0]) * _height(b))
    return ix > 0 and iy > 0 and ix * iy >= 0.3 * small


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
    """One region per plate: a box overlapping a better one (by score to a tenth, then by
    the length of its text: "AB12 CDE" over its part "AB12") is merged into it."""
    found.sort(key=lambda f: (-round(f[1], 1), -len(f[2])))
    kept: list[tuple[Box, float, str]] = []
    for box, score, text in found:
        for i, (kbox, kscore, ktext) in enumerate(kept):
            if _overlap(box, kbox):
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
        return plate_regions(image, read_lines(image, min_score=0.0))
