"""Licence plates: format rules, and plates drawn here (Pillow) on scikit-image's coffee
photo, read by the real OCR; no test reads ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from skimage.metrics import structural_similarity

from veil import Fill
from veil.detect.base import Detector
from veil.detect.ocr import Line, Word, read_lines
from veil.detect.plates import (
    MODEL_VERSION,
    STRONG,
    PlateDetector,
    format_confusions,
    plate_regions,
    read_plate_text,
)
from veil.regions import Box, Region

BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(BOLD), size) if BOLD.exists() else ImageFont.load_default(size)


def draw_plate(text: str, size: tuple[int, int], *, band: int = 0, top: str = "",
               ink: tuple[int, int, int] = (20, 20, 20)) -> np.ndarray:
    """A white plate with a dark border: ``text`` in bold, as tall as 46 % of the plate
    (or 62 % without a ``top`` line: state, country), an EU blue band ``band`` px wide on
    the left."""
    w, h = size
    plate = Image.new("RGB", size, (40, 40, 40))
    pen = ImageDraw.Draw(plate)
    pen.rounded_rectangle((0, 0, w - 1, h - 1), radius=h // 8, fill=(245, 245, 245),
                          outline=(30, 30, 30), width=max(2, h // 25))
    if band:
        pen.rectangle((3, 3, band, h - 4), fill=(0, 50, 160))
    # the characters, drawn large then fitted to their box (plate fonts are condensed)
    left, upper, right, lower = pen.textbbox((0, 0), text, font=font(100))
    glyphs = Image.new("L", (right - left, lower - upper), 0)
    ImageDraw.Draw(glyphs).text((-left, -upper), text, font=font(100), fill=255)
    gw, gh = int(0.84 * (w - band)), int(h * (0.46 if top else 0.62))
    glyphs = glyphs.resize((min(gw, glyphs.width * gh // glyphs.height), gh))
    x, y = band + (w - band - glyphs.width) // 2, (h - gh) // 2
    plate.paste(Image.new("RGB", glyphs.size, ink), (x, y), glyphs)
    if top:
        small = font(int(h * 0.15))
        pen.text(((w - pen.textbbox((0, 0), top, font=small)[2]) // 2, h // 14), top,
                 font=small, fill=(180, 30, 30))
    return np.asarray(plate)


def street(plates: list[np.ndarray]) -> tuple[np.ndarray, list[Box]]:
    """Up to three plates, each on the rear of a grey car body, in front of a photo."""
    photo = np.ascontiguousarray(data.coffee()[:, :, :3])
    scene = np.concatenate([photo, photo[:, ::-1]], axis=1)  # 400 x 1200
    boxes = []
    for i, plate in enumerate(plates):
        x0 = 20 + 400 * i
        scene[150:380, x0 : x0 + 360] = (70, 75, 85)
        scene[330:380, x0 : x0 + 360] = (35, 35, 40)
        ph, pw = plate.shape[:2]
        x, y = x0 + 180 - pw // 2, 285 - ph // 2
        scene[y : y + ph, x : x + pw] = plate
        boxes.append((x, y, x + pw, y + ph))
    return scene, boxes


def line(text: str, box: Box, score: float = 0.99) -> Line:
    """An OCR line as read_lines returns it, one word per space-separated part."""
    parts = text.split()
    width = (box[2] - box[0]) // len(parts)
    words = tuple(Word(p, (box[0] + i * width, box[1], box[0] + (i + 1) * width, box[3]), score)
                  for i, p in enumerate(parts))
    return Line(words, box, score)


def covered(box: Box, regions: list[Region]) -> float:
    """Share of ``box`` inside the union of the regions."""
    mask = np.zeros((box[3], box[2]), bool)
    for r in regions:
        mask[r.box[1] : r.box[3], r.box[0] : r.box[2]] = True
    return float(mask[box[1] :, box[0] :].mean())


def protected(image: np.ndarray, regions: list[Region], box: Box) -> bool:
    """The corpus rule: the grey crop no longer resembles the original (SSIM < 0.5)."""
    out = Fill().apply_all(image, regions)
    x1, y1, x2, y2 = box
    before, after = image[y1:y2, x1:x2].mean(axis=2), out[y1:y2, x1:x2].mean(axis=2)
    return bool(structural_similarity(before, after, data_range=255, win_size=7) < 0.5)


US = draw_plate("7ABC123", (200, 100), ink=(20, 30, 120), top="CALIFORNIA")
EU = draw_plate("AB-123-CD", (320, 70), band=30)
BR = draw_plate("ABC1D23", (240, 78), top="BRASIL")


@pytest.fixture(scope="module")
def cars() -> tuple[np.ndarray, list[Box], list[Line]]:
    """A US, a French and a Brazilian (Mercosul) plate in one photo, read once."""
    scene, boxes = street([US, EU, BR])
    return scene, boxes, read_lines(scene)


@pytest.mark.parametrize(("index", "plate"), [(0, "7ABC123"), (1, "AB123CD"), (2, "ABC1D23")],
                         ids=["us", "eu", "br"])
def test_plates_are_found_and_hidden(
    cars: tuple[np.ndarray, list[Box], list[Line]], index: int, plate: str
) -> None:
    scene, boxes, lines = cars
    regions = plate_regions(scene, lines)
    box = boxes[index]
    mine = [r for r in regions if covered(box, [r]) > 0]
    assert len(mine) == 1
    assert mine[0].kind == "plate" and mine[0].source == MODEL_VERSION
    assert mine[0].text == plate and plate not in repr(mine[0])
    assert covered(box, mine) >= 0.8
    assert protected(scene, regions, box)


def test_nothing_but_the_plates_in_the_street(
    cars: tuple[np.ndarray, list[Box], list[Line]],
) -> None:
    scene, boxes, lines = cars
    regions = plate_regions(scene, lines)
    assert len(regions) == 3
    assert all(any(covered(b, [r]) > 0 for b in boxes) for r in regions)


def test_plates_ocr_cannot_read_are_found_by_their_shape() -> None:
    scene, boxes = street([EU, BR])
    # as if OCR had seen text on each plate but read it with almost no confidence
    seen = [line("#?", (x1 + 10, y1 + 10, x2 - 10, y2 - 10), score=0.05)
            for x1, y1, x2, y2 in boxes]
    regions = plate_regions(scene, seen)
    assert len(regions) == 2
    for box in boxes:
        assert protected(scene, regions, box)
        assert all(r.text == "" for r in regions)


def test_character_shapes_where_ocr_saw_no_text_are_not_plates() -> None:
    """Hair, stripes and drums make rows of blobs too; only text can be a plate."""
    scene, _ = street([EU, BR])
    assert plate_regions(scene, []) == []


def test_two_line_plate() -> None:
    plate = np.asarray(Image.new("RGB", (150, 110), (245, 245, 245)))
    scene, (box,) = street([plate])
    x1, y1, x2, y2 = box
    lines = [line("AB 123", (x1 + 10, y1 + 8, x2 - 10, y1 + 50)),
             line("CD", (x1 + 40, y1 + 58, x2 - 40, y2 - 8))]
    regions = plate_regions(scene, lines)
    assert [r.text for r in regions] == ["AB123CD"]
    assert covered(box, regions) == 1.0


def page(rows: list[str]) -> tuple[np.ndarray, list[Line]]:
    """A white page holding ``rows`` of text, and its lines as OCR would read them."""
    image = Image.new("RGB", (760, 60 + 50 * len(rows)), (252, 252, 250))
    pen = ImageDraw.Draw(image)
    lines = []
    for i, text in enumerate(rows):
        x, y = 40, 30 + 50 * i
        pen.text((x, y), text, font=font(30), fill=(15, 15, 15))
        words = []
        for word in text.split():
            left, upper, right, lower = pen.textbbox((x, y), word, font=font(30))
            words.append(Word(word, (left - 2, upper - 3, right + 2, lower + 3), 0.99))
            x = right + pen.textlength(" ", font=font(30))
        box = (words[0].box[0], min(w.box[1] for w in words), words[-1].box[2],
               max(w.box[3] for w in words))
        lines.append(Line(tuple(words), box, 0.99))
    return np.asarray(image), lines


FORM = ["PURCHASE ORDER", "Supplier: ACME TRADING", "Order Ref AB-123-CD", "Account 1268205",
        "Item KX-500 x 12", "Delivery 4 weeks", "Total 1250.00", "Signed J. Smith",
        "Approved by the board"]


def test_plate_text_on_a_page_is_not_a_plate() -> None:
    image, lines = page(FORM)
    assert read_plate_text("AB-123-CD").evidence == 1.0
    assert plate_regions(image, lines) == []


def test_all_digit_plate_needs_a_plate_around_it() -> None:
    scene, (box,) = street([draw_plate("1268205", (200, 100))])
    x1, y1, x2, y2 = box
    digits = line("1268205", (x1 + 12, y1 + 30, x2 - 12, y2 - 30))
    assert read_plate_text("1268205").evidence < STRONG
    assert [r.text for r in plate_regions(scene, [digits])] == ["1268205"]
    # an account number on a form, or beside other text, is not one
    image, lines = page(FORM)
    assert plate_regions(image, lines) == []
    beside = line("REAR VIEW", (x1 - 150, y1 + 30, x1 - 20, y2 - 30))
    assert plate_regions(scene, [digits, beside]) == []


def test_plate_on_a_white_car_is_not_taken_for_a_page() -> None:
    scene = np.full((400, 600, 3), 236, np.uint8)  # a white car before a pale wall
    scene[120:400, 40:560] = 248
    scene[330:360, 40:560] = 200
    plate = draw_plate("AB-123-CD", (320, 70), band=30)
    scene[250:320, 140:460] = plate
    assert np.mean(np.abs(scene.astype(int) - 240) <= 12) > 0.5  # mostly bright and grey
    lines = [line("AB-123-CD", (185, 260, 450, 310))]
    regions = plate_regions(scene, lines)
    assert [r.text for r in regions] == ["AB123CD"]
    assert protected(scene, regions, (140, 250, 460, 320))


def test_document_words_are_not_plates() -> None:
    image, _ = page(["INVOICE No. 2024-0117", "Date: 12/05/2024   11:48 AM",
                     "Customer: ACME TRADING", "Paper A4 boxes  12  5.00", "TOTAL  125.50",
                     "Tel: 555-0199  Room 12B", "Page 1 of 2"])
    assert plate_regions(image, read_lines(image)) == []


@pytest.mark.parametrize(
    ("text", "chars", "evidence"),
    [("PJU-2853", "PJU2853", 1.0), ("ABC1D23", "ABC1D23", 1.0), ("AB-123-CD", "AB123CD", 1.0),
     ("1234 ABC", "1234ABC", 1.0), ("AB12 CDE", "AB12CDE", 1.0), ("B AB 1234", "BAB1234", 1.0),
     ("7ABC123", "7ABC123", 1.0), ("GB-123-X", "GB123X", 1.0), ("OLB·4809", "OLB4809", 1.0),
     ("MH6V4L", "MH6V4L", 0.8), ("KL3·B8K", "KL3B8K", 0.8)],
)
def test_plate_formats(text: str, chars: str, evidence: float) -> None:
    assert read_plate_text(text) == read_plate_text(text.lower().upper())
    found = read_plate_text(text)
    assert (found.chars, found.evidence) == (chars, evidence)


def test_ocr_confusions_are_undone_when_matching_a_format() -> None:
    assert format_confusions("PJU2853") == 0
    assert format_confusions("PJU28S3") == 1  # S for 5
    assert format_confusions("AB1Z3CD") == 1  # Z for 2 in "AB-123-CD"
    assert format_confusions("ABCDEFG") == 99
    # "ABC 0123" read with O for 0 and I for 1: five letters in a row, a plate only once
    # the confusions are undone, so it needs the pixels to agree
    assert format_confusions("ABCOI23") == 1  # I for 1: "ABCD 123" (Netherlands, Germany)
    assert read_plate_text("ABC OI23").evidence == 0.6
    assert read_plate_text("LIGHT 100S").evidence == 0.0


@pytest.mark.parametrize(
    "text",
    ["INVOICE", "TOTAL", "12/05/2024", "2014-05-12", "14:12:59", "11:48 AM", "$125.50",
     "125.50", "Page 1 of 2", "LIGHT 100S", "JAN 31 1997", "24JUN2004", "Tel: 555-0199",
     "No. 12", "ford", "AB", "ABCDEFGHIJK1"],
)
def test_ordinary_words_do_not_read_as_plates(text: str) -> None:
    assert read_plate_text(text).evidence < STRONG


def test_detector_protocol_and_blank_image() -> None:
    detector = PlateDetector()
    assert isinstance(detector, Detector)
    assert detector.kinds == ("plate",)
    assert detector.detect(np.full((64, 96, 3), 90, np.uint8)) == []
    with pytest.raises(ValueError, match="RGB uint8"):
        plate_regions(np.zeros((10, 10), np.uint8), [])
