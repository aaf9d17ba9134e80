import numpy as np
import pytest

from veil.regions import Region, Span, clip_box, grow_box


def test_region_repr_never_shows_text() -> None:
    region = Region((1, 2, 3, 4), "text.PERSON", 0.9, "test", text="Jane Roe")
    assert "Jane" not in repr(region)
    assert region.width == 2 and region.height == 2


@pytest.mark.parametrize("box", [(0, 0, 0, 5), (5, 0, 4, 5), (-1, 0, 3, 3)])
def test_region_rejects_empty_or_negative_boxes(box: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="empty or negative"):
        Region(box, "face", 1.0, "test")


def test_region_rejects_float_boxes() -> None:
    with pytest.raises(TypeError):
        Region((0.5, 0, 3, 3), "face", 1.0, "test")  # type: ignore[arg-type]


def test_clip_box_rounds_outward_and_clips() -> None:
    assert clip_box((-3.2, 1.5, 9.1, 20.0), 8, 10) == (0, 1, 8, 10)
    assert clip_box((9.0, 9.0, 12.0, 12.0), 8, 8) is None


def test_grow_box_adds_margin_on_every_side() -> None:
    assert grow_box((10, 10, 20, 30), 0.5) == (5, 0, 25, 40)


def test_span_validates_offsets() -> None:
    assert Span(0, 4, "PERSON", 0.8, "ner").end == 4
    with pytest.raises(ValueError, match="empty"):
        Span(4, 4, "PERSON", 0.8, "ner")
    assert np.isfinite(Span(1, 2, "URL", 1.0, "regex").score)
