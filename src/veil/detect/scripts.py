"""A second reading, with Tesseract, of the text lines the first OCR could not read.

PP-OCR's recogniser reads Latin letters, digits and Chinese; a line in Cyrillic, Greek or
Arabic comes back as little more than its punctuation and digits, with a confident score.
A line whose reading is far shorter than its box can hold is therefore *unread*. The
unread lines of a picture are cut out, stacked into one strip and read once by Tesseract
with the language packs of the scripts the policy names (Debian's ``tesseract-ocr-*``
packages, installed by ``scripts/install``), and the reading that holds more of the line
is kept. Pictures whose lines were all read cost nothing more.
"""

from __future__ import annotations

import functools
import logging
import shutil
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from veil.detect.ocr import Line, Word
from veil.regions import Box
from veil.timing import stage

log = logging.getLogger(__name__)

SCRIPT_PACKS = {"cyrillic": "rus", "greek": "ell", "arabic": "ara", "korean": "kor",
                "japanese": "jpn", "chinese": "chi_sim"}
"""Tesseract language pack reading each script (one per script: each pack more costs a
reading of every line again)."""
GLYPH_WIDTH = 0.55
"""Width of a glyph as a share of the line's height, about that of a proportional font."""
READ_SHARE = 0.5
"""A line whose reading holds fewer characters than this share of the glyphs its box can
hold is unread (Latin lines hold about 1.0 to 1.3)."""
STRIP_HEIGHT = 48
"""Height each unread line is scaled to in the strip Tesseract reads (its LSTM models
read best with glyphs of 30 to 50 px)."""
MIN_GLYPHS = 6
"""Lines shorter than this many glyphs (specks, stamps, single marks) are not read again:
they are where a second reading mostly finds noise."""
FOREIGN_LETTERS = 12
"""Letters in another script that the second reading must find in the sample before the
page's other lines are read again too (a page with such letters may have more lines whose
first reading dropped them and kept only digits, as ``Телефон: +7 495`` does)."""
SAMPLE_LINES = 8
"""Unread lines read first, the longest: enough to tell a page in another script."""
MIN_CONFIDENCE = 50.0
"""Tesseract word confidence (0-100) from which a word counts as read."""


def glyphs_held(box: Box) -> float:
    """About how many glyphs a line box holds."""
    width, height = box[2] - box[0], box[3] - box[1]
    return width / max(1.0, GLYPH_WIDTH * height)


def unread(line: Line) -> bool:
    """Whether the first reading of ``line`` left most of the line's glyphs out (what the
    recogniser does with letters it does not know; a merely unsure reading of Latin print
    is no reason to read again)."""
    held = glyphs_held(line.box)
    read = sum(1 for c in line.text if not c.isspace())
    return held >= MIN_GLYPHS and read < READ_SHARE * held


def foreign(text: str) -> int:
    """Letters of ``text`` in a script other than Latin (what the second reading is for)."""
    return sum(1 for c in text if c.isalpha() and not unicodedata.name(c, "").startswith(
        ("LATIN", "CJK UNIFIED")))


@functools.cache
def languages(scripts: tuple[str, ...]) -> str | None:
    """The Tesseract ``-l`` value for ``scripts`` (only packs that are installed), or None
    when Tesseract or every pack is missing."""
    if not scripts or shutil.which("tesseract") is None:
        return None
    import pytesseract

    try:
        installed = set(pytesseract.get_languages(config=""))
    except Exception:  # a broken installation reads nothing, as a missing one
        return None
    packs = [SCRIPT_PACKS[s] for s in scripts if SCRIPT_PACKS[s] in installed]
    if packs and "eng" in installed:
        # Latin print the first reading found hard is read as Latin, not as look-alike
        # letters of another script that would send the whole page to a second reading
        packs.insert(0, "eng")
    missing = [s for s in scripts if SCRIPT_PACKS[s] not in installed]
    if missing:
        log.warning("Tesseract language packs missing for %s: text in those scripts is not "
                    "read (run scripts/install)", ", ".join(missing))
    return "+".join(packs) or None


def reread(bgr: np.ndarray, lines: Sequence[Line], scripts: tuple[str, ...]) -> list[Line]:
    """``lines`` with unread lines read again by Tesseract in ``scripts``; a line takes the
    second reading where it holds more letters and digits than the first.

    The longest unread lines are read first, as a sample; only when readings of the
    sample that are kept are mostly letters of those scripts (a page in another script,
    not Latin print the first reading found hard) are the page's other lines read too, so
    a Latin page with a few unreadable lines costs one small reading."""
    unread_lines = sorted((i for i, line in enumerate(lines) if unread(line)),
                          key=lambda i: -(lines[i].box[2] - lines[i].box[0]))
    if not unread_lines:
        return list(lines)
    langs = languages(scripts)
    if langs is None:
        return list(lines)
    out = list(lines)
    with stage("ocr.scripts"):
        sample = unread_lines[:SAMPLE_LINES]
        kept = _reread_some(bgr, out, sample, langs)
        if foreign(kept) >= FOREIGN_LETTERS and foreign(kept) * 2 >= _alpha(kept):
            rest = [i for i in range(len(out)) if i not in set(sample)]
            if rest:
                _reread_some(bgr, out, rest, langs)
    return out


def _reread_some(bgr: np.ndarray, lines: list[Line], which: Sequence[int], langs: str) -> str:
    """Read ``lines[i]`` for each i in ``which`` again, in place where the second reading
    holds more; the text of the readings kept."""
    strip, placements = _strip(bgr, [lines[i].box for i in which])
    words = _read_strip(strip, langs)
    kept: list[str] = []
    for i, placement in zip(which, placements, strict=True):
        got = tuple(placement.to_picture(w) for w in words if placement.holds(w))
        if not got:
            continue
        reading = Line(got, lines[i].box, min(w.score for w in got))
        if _letters(reading) > _letters(lines[i]):
            lines[i] = reading
            kept.append(reading.text)
    return "\n".join(kept)


def _alpha(text: str) -> int:
    return sum(1 for c in text if c.isalpha())


def _letters(line: Line) -> int:
    return sum(1 for c in line.text if c.isalnum())


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where one line's crop sits in the strip, and how to map back to the picture."""

    box: Box
    top: int
    scale: float
    pad: int

    def holds(self, word: Word) -> bool:
        centre = (word.box[1] + word.box[3]) / 2
        return self.top <= centre < self.top + STRIP_HEIGHT + 2 * self.pad

    def to_picture(self, word: Word) -> Word:
        x0, y0 = self.box[:2]
        x1 = x0 + (word.box[0] - self.pad) / self.scale
        x2 = x0 + (word.box[2] - self.pad) / self.scale
        y1 = y0 + (word.box[1] - self.top - self.pad) / self.scale
        y2 = y0 + (word.box[3] - self.top - self.pad) / self.scale
        box = (max(self.box[0], int(x1)), max(self.box[1], int(y1)),
               min(self.box[2], int(np.ceil(x2))), min(self.box[3], int(np.ceil(y2))))
        if box[2] <= box[0] or box[3] <= box[1]:
            box = self.box
        return Word(word.text, box, word.score)


def _strip(bgr: np.ndarray, boxes: Sequence[Box]) -> tuple[np.ndarray, list[_Placement]]:
    """The line crops, each scaled to ``STRIP_HEIGHT``, stacked with white margins."""
    import cv2

    pad = STRIP_HEIGHT // 3
    crops: list[np.ndarray] = []
    placements: list[_Placement] = []
    top = 0
    for box in boxes:
        crop = bgr[box[1]:box[3], box[0]:box[2]]
        scale = STRIP_HEIGHT / max(1, crop.shape[0])
        width = max(1, round(crop.shape[1] * scale))
        scaled = cv2.resize(crop, (width, STRIP_HEIGHT), interpolation=cv2.INTER_CUBIC)
        crops.append(cv2.copyMakeBorder(scaled, pad, pad, pad, pad, cv2.BORDER_REPLICATE))
        placements.append(_Placement(box, top, scale, pad))
        top += STRIP_HEIGHT + 2 * pad
    width = max(c.shape[1] for c in crops)
    strip = np.full((top, width, 3), 255, np.uint8)
    for crop, placement in zip(crops, placements, strict=True):
        strip[placement.top:placement.top + crop.shape[0], :crop.shape[1]] = crop
    return strip, placements


def _read_strip(strip: np.ndarray, langs: str) -> list[Word]:
    """Tesseract's words in the strip (one line per crop), with boxes in strip pixels."""
    import pytesseract

    data = pytesseract.image_to_data(np.ascontiguousarray(strip[..., ::-1]), lang=langs,
                                     config="--psm 6", output_type=pytesseract.Output.DICT)
    words: list[Word] = []
    for text, conf, left, top, width, height in zip(
            data["text"], data["conf"], data["left"], data["top"], data["width"],
            data["height"], strict=True):
        score = float(conf)
        if text.strip() and score >= MIN_CONFIDENCE:
            words.append(Word(text.strip(), (left, top, left + width, top + height),
                              score / 100))
    return words
