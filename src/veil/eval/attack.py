"""Independent readers that try to get hidden values back out of a redacted image.

``Tesseract`` runs the ``tesseract`` program (TSV output, sparse-text mode, small images
upscaled 2x) when it is installed; ``RapidVariant`` runs rapidocr with other settings than
Veil's own (image upscaled 2x, lower detection and text thresholds). ``readable`` says
whether a value is among the words read, allowing for how OCR splits or joins words.
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

from veil.eval.metrics import normalise, tokens

UPSCALE_BELOW = 1600
"""Images whose longer side is under this are read at twice their size."""


Word = tuple[str, float]
"""A word read and the reader's confidence in it, 0..1."""


class SecondReader(Protocol):
    name: str

    def read(self, rgb: np.ndarray) -> list[Word]:
        """The words read in an RGB image, in reading order, with their confidence."""
        ...


def _upscaled(rgb: np.ndarray) -> np.ndarray:
    if max(rgb.shape[:2]) >= UPSCALE_BELOW:
        return rgb
    out: np.ndarray = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return out


class Tesseract:
    """Tesseract OCR through its command line; no Python binding needed."""

    def __init__(self, program: str, timeout: float = 120.0) -> None:
        self.program, self.timeout = program, timeout
        version = subprocess.run([program, "--version"], capture_output=True, text=True,
                                 timeout=30, check=False)
        first = (version.stdout or version.stderr).splitlines()
        self.name = first[0].strip() if first else "tesseract"

    def read(self, rgb: np.ndarray) -> list[Word]:
        with tempfile.TemporaryDirectory(prefix="veil-eval-") as tmp:
            path = Path(tmp) / "page.png"
            Image.fromarray(_upscaled(rgb)).save(path, compress_level=1)
            done = subprocess.run([self.program, str(path), "stdout", "--psm", "11", "tsv"],
                                  capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        if done.returncode != 0:
            raise RuntimeError(f"tesseract failed (exit status {done.returncode})")
        words = []
        for line in done.stdout.splitlines()[1:]:
            cells = line.split("\t")
            if len(cells) == 12 and cells[11].strip() and cells[10] != "-1":
                words.append((cells[11].strip(), max(0.0, float(cells[10])) / 100))
        return words


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

    def read(self, rgb: np.ndarray) -> list[Word]:
        result = self._engine(np.ascontiguousarray(_upscaled(rgb)[..., ::-1]))  # type: ignore[operator]
        return [(w, float(score)) for text, score in zip(result.txts or (), result.scores or (),
                                                          strict=True) for w in str(text).split()]


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
