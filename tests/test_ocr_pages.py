"""Pages turned sideways or upside down are read upright; lines in Cyrillic and Greek are
read by the second OCR (Tesseract, installed by scripts/install)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from conftest import iou
from veil.detect import scripts
from veil.detect.ocr import find_text, page_orientation, read_upright
from veil.images import Picture, box_to_stored
from veil.pipeline import Redactor
from veil.policy import Policy

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian fonts-dejavu-core
FORM = [
    "CUSTOMER SERVICE REQUEST FORM",
    "Name: Margaret Holloway",
    "Email: m.holloway@example.org",
    "Phone: +1 415 555 0132",
    "Card number: 4111 1111 1111 1111",
    "Reason: the parcel arrived damaged",
    "Please reply within five working days",
    "Thank you for your patience",
]
TURNS = {1: 6, 2: 3, 3: 8}
"""np.rot90 turns (counter-clockwise quarters) -> EXIF orientation that undoes them."""


def _page(lines: list[str], size: int = 26) -> np.ndarray:
    font = ImageFont.truetype(FONT, size)
    page = Image.new("RGB", (900, 80 + 48 * len(lines)), "white")
    draw = ImageDraw.Draw(page)
    for i, text in enumerate(lines):
        draw.text((40, 40 + 48 * i), text, font=font, fill="black")
    return np.asarray(page)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(Policy())


def test_upright_text_and_photos_are_not_turned(astronaut: np.ndarray) -> None:
    for picture in (_page(FORM), astronaut):
        bgr = np.ascontiguousarray(picture[..., ::-1])
        assert page_orientation(bgr, find_text(bgr)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_turned_page_is_hidden_as_the_upright_one(redactor: Redactor, quarters: int) -> None:
    upright = _page(FORM)
    turned = np.ascontiguousarray(np.rot90(upright, quarters))
    want = [r for r in redactor.scan(Picture(upright, "RGB", "PNG")) if r.kind.startswith("text.")]
    got = [r for r in redactor.scan(Picture(turned, "RGB", "PNG")) if r.kind.startswith("text.")]
    assert {r.kind for r in want} >= {"text.PERSON", "text.EMAIL_ADDRESS",
                                      "text.PHONE_NUMBER", "text.CREDIT_CARD"}
    size = (turned.shape[1], turned.shape[0])
    for region in want:  # each region of the upright page, where it lies on the turned one
        expected = box_to_stored(region.box, TURNS[quarters], size)
        assert any(r.kind == region.kind and iou(r.box, expected) > 0.5 for r in got), (
            region.kind)


def test_cyrillic_and_greek_lines_are_read_by_the_second_ocr() -> None:
    page = _page(["Пациент: Иванов Сергей Петрович", "Телефон: +7 495 123-45-67",
                  "Όνομα: Γεώργιος Παπαδόπουλος", "Invoice 2291 paid in full"])
    _, _, lines = read_upright(page, scripts=("cyrillic", "greek"))
    text = "\n".join(line.text for line in lines)
    for expected in ("Иванов Сергей Петрович", "Телефон: +7 495 123-45-67",
                     "Γεώργιος Παπαδόπουλος", "Invoice 2291 paid in full"):
        assert expected in text
    _, _, first = read_upright(page)  # without the second reading: the letters are lost
    assert "Иванов" not in "\n".join(line.text for line in first)


def test_without_tesseract_the_first_reading_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scripts.shutil, "which", lambda name: None)
    scripts.languages.cache_clear()
    try:
        page = _page(["Пациент: Иванов Сергей Петрович", "Invoice 2291 paid in full"])
        _, _, lines = read_upright(page, scripts=("cyrillic",))
        assert "Invoice 2291 paid in full" in [line.text for line in lines]
        assert scripts.languages(("cyrillic",)) is None
    finally:
        scripts.languages.cache_clear()
