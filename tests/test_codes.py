"""Barcodes and QR codes: codes made with zxing-cpp itself, pasted on the astronaut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import zxingcpp

from veil.detect.base import Detector
from veil.detect.codes import (
    DEFAULT_THRESHOLD,
    OTHER_SCORE,
    PERSONAL_SCORE,
    CodeDetector,
    structural_personal,
)
from veil.regions import Region, Span
from veil.text import TextDetector

F = zxingcpp.BarcodeFormat
VCARD = "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Roe\nTEL:+44 20 7946 0958\nEND:VCARD"
EMAIL = "Write to jane.roe@example.org"
EAN = "4006381333931"
BOARDING = "M1ROE/JANE            EABC123 JFKLAXAA 0123 123Y001A0001 100"


class FakeText(TextDetector):
    """Flags the word "Jane" as a person and any http URL as a URL, without models."""

    def scan(self, text: str) -> list[Span]:
        spans = []
        if (i := text.find("Jane")) >= 0:
            spans.append(Span(i, i + 4, "PERSON", 0.9, "fake"))
        if (i := text.find("http")) >= 0:
            spans.append(Span(i, len(text), "URL", 0.9, "fake"))
        return spans


def detector(threshold: float = DEFAULT_THRESHOLD) -> CodeDetector:
    return CodeDetector(threshold=threshold, text_detector=FakeText(ner=False))


def code(content: str, fmt: zxingcpp.BarcodeFormat, scale: int) -> np.ndarray:
    """The code as a grey image with its quiet zone (and digits, for linear codes)."""
    barcode = zxingcpp.create_barcode(content, fmt)
    return np.asarray(barcode.to_image(scale=scale, add_hrt=True))


def paste(canvas: np.ndarray, gray: np.ndarray, x: int, y: int, angle: float = 0) -> np.ndarray:
    """Paste ``gray`` turned by ``angle`` degrees at (x, y); returns the mask of its ink."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos) + 1, int(h * cos + w * sin) + 1
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    turned = cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_NEAREST, borderValue=255)
    inside = cv2.warpAffine(np.ones_like(gray), m, (nw, nh), flags=cv2.INTER_NEAREST) > 0
    window = canvas[y : y + nh, x : x + nw]
    assert window.shape[:2] == (nh, nw), "the code must fit in the canvas"
    window[inside] = turned[inside][:, None]
    ink = np.zeros(canvas.shape[:2], bool)
    ink[y : y + nh, x : x + nw] = inside & (turned < 128)
    return ink


def covers(region: Region, ink: np.ndarray) -> bool:
    x1, y1, x2, y2 = region.box
    inside = np.zeros_like(ink)
    inside[y1:y2, x1:x2] = True
    return bool(ink.any()) and not (ink & ~inside).any()


def test_is_a_detector() -> None:
    det = detector()
    assert isinstance(det, Detector)
    assert det.kinds == ("code",)


@pytest.mark.parametrize(
    ("content", "scale", "angle"),
    [(VCARD, 4, 0), (EMAIL, 4, 0), (VCARD, 3, 30), (EMAIL, 4, 135), (EMAIL, 2, 0)],
    ids=["vcard", "email", "vcard-turned", "email-turned", "email-small"],
)
def test_personal_qr_is_found_and_covered(
    astronaut: np.ndarray, content: str, scale: int, angle: float
) -> None:
    image = astronaut.copy()
    ink = paste(image, code(content, F.QRCode, scale), 150, 120, angle)
    regions = detector().detect(image)
    assert len(regions) == 1
    region = regions[0]
    assert region.kind == "code"
    assert region.score == PERSONAL_SCORE
    assert region.source.startswith("zxing@")
    assert region.text == content
    assert covers(region, ink)


def test_text_stays_out_of_repr(astronaut: np.ndarray) -> None:
    image = astronaut.copy()
    paste(image, code(VCARD, F.QRCode, 4), 100, 100)
    (region,) = detector().detect(image)
    assert region.text == VCARD
    assert "Jane" not in repr(region)
    assert "VCARD" not in repr(region)


@pytest.mark.parametrize("angle", [0, 90, 20, 45])
def test_product_code_is_hidden_only_on_request(astronaut: np.ndarray, angle: float) -> None:
    image = astronaut.copy()
    ink = paste(image, code(EAN, F.EAN13, 3), 100, 100, angle)
    assert detector().detect(image) == []
    (region,) = detector(threshold=0).detect(image)
    assert region.score == OTHER_SCORE
    assert region.text == EAN
    assert covers(region, ink)  # bars and printed digits


def test_several_codes_in_one_image(astronaut: np.ndarray) -> None:
    image = astronaut.copy()
    menu = "https://example.com/menu"
    inks = [
        paste(image, code(VCARD, F.QRCode, 3), 10, 10),
        paste(image, code(menu, F.QRCode, 3), 360, 10),
        paste(image, code(EAN, F.EAN13, 2), 20, 330),
        paste(image, code(BOARDING, F.Aztec, 3), 330, 330),
    ]
    regions = detector(threshold=0).detect(image)
    assert {r.text: r.score for r in regions} == {
        VCARD: PERSONAL_SCORE, menu: OTHER_SCORE, EAN: OTHER_SCORE, BOARDING: PERSONAL_SCORE}
    for region, ink in zip(sorted(regions, key=lambda r: (r.box[1] > 300, r.box[0])), inks,
                           strict=True):
        assert covers(region, ink)
    assert {r.text for r in detector().detect(image)} == {VCARD, BOARDING}


def test_no_code_no_region(astronaut: np.ndarray) -> None:
    assert detector(threshold=0).detect(astronaut) == []
    assert detector(threshold=0).detect(np.full((40, 60, 3), 255, np.uint8)) == []


def test_free_text_goes_to_the_text_detector(astronaut: np.ndarray) -> None:
    image = astronaut.copy()
    paste(image, code("Jane 42", F.Code128, 3), 60, 200)
    (region,) = detector().detect(image)
    assert region.score == PERSONAL_SCORE


@pytest.mark.parametrize(
    "content",
    [
        VCARD,
        "MECARD:N:Roe,Jane;TEL:5551234;;",
        "MATMSG:TO:jane@example.org;SUB:Hi;;",
        "mailto:jane@example.org",
        "tel:+15551234567",
        "SMSTO:+15551234567:hello",
        "WIFI:S:Home;T:WPA;P:hunter22;;",
        BOARDING,
        "@\n\x1e\rANSI 636000090002DL00410278ZV03190008DLDAQT64235789\n",
        "BCD\n002\n1\nSCT\n\nJane Roe\nDE89370400440532013000\nEUR12.3\n",
        "SPC\r\n0200\r\n1\r\nCH4431999123000889012\r\n",
        "https://example.com/login?token=a8F3kLm2Qz9xW7pR",
        "https://example.com/unsubscribe?email=jane%40example.org",
        "https://example.com/r/3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "https://jane:secret@example.com/",
        "otpauth://totp/Example:jane?secret=JBSWY3DPEHPK3PXP",
    ],
)
def test_personal_by_form(content: str) -> None:
    assert structural_personal(content)


@pytest.mark.parametrize(
    "content",
    [
        "https://example.com",
        "https://example.com/menu/today",
        "https://example.com/shop?lang=en&page=2",
        "https://id.gs1.org/01/09506000134352?17=201225",
        "HELLO-12345",
        EAN,
        "",
    ],
)
def test_not_personal_by_form(content: str) -> None:
    assert not structural_personal(content)
    assert not detector().personal(content)


def test_url_alone_is_not_personal_but_a_name_is() -> None:
    det = detector()
    assert not det.personal("https://example.com/about")
    assert det.personal("https://example.com/card?who=Jane")


def test_zxing_errors_propagate(monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray) -> None:
    def broken(*args: object, **kwargs: object) -> list[zxingcpp.Barcode]:
        raise RuntimeError("zxing broke")

    monkeypatch.setattr(zxingcpp, "read_barcodes", broken)
    with pytest.raises(RuntimeError):
        detector().detect(astronaut)


def test_a_picture_wider_than_the_reader_allows_is_read_shrunk() -> None:
    strip = np.full((40, 70_000, 3), 230, np.uint8)  # zxing refuses sides over 65535 px
    assert CodeDetector().detect(strip) == []
