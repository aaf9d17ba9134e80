"""OCR cost follows the picture: one bounded pass to find text, full resolution only where
small text was found; real rapidocr models on pictures drawn here."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from conftest import render_page
from veil.detect import ocr


@pytest.fixture
def searched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pixels the text finder was run on, tile by tile."""
    areas: list[int] = []
    real = ocr._detect_tiles

    def spy(bgr: np.ndarray, tiles: Sequence[ocr._Tile]) -> list[np.ndarray]:
        areas.extend((t.x1 - t.x0) * (t.y1 - t.y0) for t in tiles)
        return real(bgr, tiles)

    monkeypatch.setattr(ocr, "_detect_tiles", spy)
    return areas


@pytest.mark.parametrize(("height", "width", "scale"), [
    (300, 400, 736 / 300),            # small photo: enlarged as PP-OCR does
    (700, 1000, 736 / 700),           # a form page
    (3024, 4032, (2_000_000 / (3024 * 4032)) ** 0.5),  # 12 MP: shrunk to the area bound
    (200, 10_000, 1.0),               # a long strip: read as it is, in tiles
])
def test_the_bounded_pass_scale(height: int, width: int, scale: float) -> None:
    assert ocr.det_scale(height, width) == pytest.approx(scale)


def test_a_large_photo_without_text_costs_one_bounded_pass(searched: list[int]) -> None:
    rng = np.random.default_rng(7)
    leaves = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    photo = np.kron(leaves, np.ones((63, 63, 1), np.uint8))  # 3024 x 4032, blotches
    assert ocr.read_lines(photo) == []
    assert sum(searched) <= ocr.DET_PIXELS * 1.3  # tiles overlap a little


def test_small_text_on_a_large_page_is_searched_again_only_where_it_is(
        searched: list[int]) -> None:
    page, _ = render_page(["Invoice to jonathan.whitaker@example.com"], size=26, width=4000,
                          top=2500, height=3000)
    text = " ".join(line.text for line in ocr.read_lines(page))
    assert "jonathan.whitaker@example.com" in text
    assert sum(searched) < 4000 * 3000 / 2  # not the whole page at full resolution


def test_a_long_strip_is_read_within_bounds(searched: list[int]) -> None:
    strip, _ = render_page(["Call Jonathan Whitaker on 212 555 0199"], size=40, width=10_000,
                           top=60, height=200)
    text = " ".join(line.text for line in ocr.read_lines(strip))
    assert "Whitaker" in text and "0199" in text
    assert sum(searched) <= 10_000 * 200 * 1.2
