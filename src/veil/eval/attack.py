"""Independent readers that try to get hidden values back out of a redacted image.

``Tesseract`` runs the ``tesseract`` program (TSV output, sparse-text mode, small images
upscaled 2x) when it is installed; ``RapidVariant`` runs rapidocr with other settings than
Veil's own (image upscaled 2x, lower detection and text thresholds). Both read the whole
image into lines of words with boxes (``veil.detect.ocr.Line``), so the text detector can
look for personal values in everything they read. ``readable`` says whether a value is
among the words read, allowing for how OCR splits or joins words.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from veil.detect.ocr import Line
from veil.detect.ocr import Word as OcrWord
from veil.eval.metrics import normalise, tokens
from veil.regions import Box

UPSCALE_BELOW = 1600
"""Images whose longer side is under this are read at twice their size."""


Word = tuple[str, float]
"""A word read and the reader's confidence in it, 0..1."""


class SecondReader(Protocol):
    name: str

    def lines(self, rgb: np.ndarray) -> list[Line]:
        """Every line read in an RGB image: its words, boxes (image pixels), confidence."""
        ...


def words_of(lines: list[Line]) -> list[Word]:
    """The words of ``lines`` in reading order, with their confidence."""
    return [(w.text, w.score) for line in lines for w in line.words]


def _line(words: list[tuple[str, Box, float]]) -> Line:
    boxes = [b for _, b, _ in words]
    box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
           max(b[2] for b in boxes), max(b[3] for b in boxes))
    return Line(tuple(OcrWord(t, b, s) for t, b, s in words), box,
                sum(s for _, _, s in words) / len(words))


def _upscaled(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """The image as the reader reads it, and the factor it was enlarged by."""
    if max(rgb.shape[:2]) >= UPSCALE_BELOW:
        return rgb, 1
    out: np.ndarray = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return out, 2


class Tesseract:
    """Tesseract OCR through its command line; no Python binding needed."""

    def __init__(self, program: str, timeout: float = 120.0) -> None:
        self.program, self.timeout = program, timeout
        version = subprocess.run([program, "--version"], capture_output=True, text=True,
                                 timeout=30, check=False)
        first = (version.stdout or version.stderr).splitlines()
        self.name = first[0].strip() if first else "tesseract"

    def lines(self, rgb: np.ndarray) -> list[Line]:
        image, scale = _upscaled(rgb)
        with tempfile.TemporaryDirectory(prefix="veil-eval-") as tmp:
            path = Path(tmp) / "page.png"
            Image.fromarray(image).save(path, compress_level=1)
            done = subprocess.run([self.program, str(path), "stdout", "--psm", "11", "tsv"],
                                  capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tesseract failed (exit status {done.returncode})")
        rows: dict[tuple[str, ...], list[tuple[str, Box, float]]] = {}
        for row in done.stdout.splitlines()[1:]:
            cells = row.split("\t")
            if len(cells) == 12 and cells[11].strip() and cells[10] != "-1":
                x, y, w, h = (int(c) // scale for c in cells[6:10])
                rows.setdefault(tuple(cells[1:5]), []).append(
                    (cells[11].strip(), (x, y, x + w, y + h), max(0.0, float(cells[10])) / 100))
        return [_line(words) for words in rows.values()]


class RapidVariant:
    """rapidocr with settings unlike Veil's: 2x upscaled, low detection thresholds."""

    name = "rapidocr (2x, box_thresh 0.3, text_score 0.1)"

    @functools.cached_property
    def _engine(self) -> object:
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        from rapidocr import RapidOCR

        return RapidOCR(params={"Global.log_level": "error", "Global.text_score": 0.1,
                                "Global.max_side_len": 4000, "Det.box_thresh": 0.3,
                                "Det.thresh": 0.2, "Det.unclip_ratio": 2.0})

    def lines(self, rgb: np.ndarray) -> list[Line]:
        image, scale = _upscaled(rgb)
        result = self._engine(np.ascontiguousarray(image[..., ::-1]))  # type: ignore[operator]
        if result.boxes is None:
            return []
        out = []
        for quad, text, score in zip(result.boxes, result.txts or (), result.scores or (),
                                     strict=True):
            xs, ys = [p[0] / scale for p in quad], [p[1] / scale for p in quad]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
            words, start = [], 0
            text = str(text)
            step = (x2 - x1) / max(1, len(text))  # words placed by their characters
            for word in text.split():
                start = text.index(word, start)
                left = x1 + start * step
                words.append((word, (round(left), round(y1), round(left + len(word) * step),
                                     round(y2)), float(score)))
                start += len(word)
            if words:
                out.append(_line(words))
        return out


def second_reader(choice: str = "auto") -> SecondReader:
    """``tesseract`` (needs the program), ``rapidocr``, or ``auto``: Tesseract if installed."""
    program = shutil.which("tesseract")
    if choice == "tesseract" or (choice == "auto" and program):
        if program is None:
            raise RuntimeError("tesseract is not installed (apt-get install tesseract-ocr)")
        return Tesseract(program)
    if choice in ("rapidocr", "auto"):
        return RapidVariant()
    raise ValueError(f"unknown reader {choice!r}")


def readable(value: str, words: list[str]) -> bool:
    """The value is among ``words``: its normalised form equals a run of up to
    (its token count + 3) consecutive normalised words joined (OCR splits and joins)."""
    key = normalise(value)
    if not key:
        return False
    norm = [w for w in (normalise(x) for x in words) if w]
    span = len(tokens(value)) + 3
    for i in range(len(norm)):
        joined = ""
        for word in norm[i : i + span]:
            joined += word
            if joined == key:
                return True
            if len(joined) >= len(key) or not key.startswith(joined):
                break
    return False
