"""Operators touch every pixel of the box (last row and column too), nothing outside,
and never mutate their input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.metrics import structural_similarity

from veil.anonymize import Blur, Fill, Pixelate, Replace
from veil.regions import Region

OPERATORS = [Fill(), Fill(color=(255, 0, 0)), Blur(), Pixelate(), Replace()]


@st.composite
def image_and_box(draw: st.DrawFn) -> tuple[np.ndarray, Region]:
    h = draw(st.integers(4, 48))
    w = draw(st.integers(4, 48))
    x1 = draw(st.integers(0, w - 1))
    y1 = draw(st.integers(0, h - 1))
    x2 = draw(st.integers(x1 + 1, w))
    y2 = draw(st.integers(y1 + 1, h))
    channels = draw(st.sampled_from([0, 3, 4]))
    seed = draw(st.integers(0, 2**31))
    shape = (h, w) if channels == 0 else (h, w, channels)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    text = draw(st.sampled_from([None, "", "Ann Lee", "x" * 40]))
    return image, Region((x1, y1, x2, y2), "text.PERSON", 1.0, "test", text=text)


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda o: repr(o))
@settings(max_examples=60, deadline=None)
@given(case=image_and_box())
def test_operator_changes_only_its_box(operator: Fill, case: tuple[np.ndarray, Region]) -> None:
    image, region = case
    before = image.copy()
    out = operator.apply(image, region)
    assert np.array_equal(image, before), "input was mutated"
    assert out.shape == image.shape and out.dtype == image.dtype
    x1, y1, x2, y2 = region.box
    outside = np.ones(image.shape[:2], bool)
    outside[y1:y2, x1:x2] = False
    assert np.array_equal(out[outside], image[outside])


@settings(max_examples=60, deadline=None)
@given(case=image_and_box())
def test_fill_touches_every_pixel_including_last_row_and_column(
    case: tuple[np.ndarray, Region],
) -> None:
    image, region = case
    image = np.full_like(image, 200)
    out = Fill().apply(image, region)
    x1, y1, x2, y2 = region.box
    roi = out[y1:y2, x1:x2]
    colour = roi if roi.ndim == 2 else roi[..., :3]
    assert (colour == 0).all()
    assert (out[y2 - 1, x2 - 1] != 200).any()


@pytest.mark.parametrize("operator", [Blur(), Pixelate(), Fill()], ids=lambda o: o.name)
def test_operators_make_a_face_unrecognisable(astronaut: np.ndarray, operator: Fill) -> None:
    region = Region((160, 35, 290, 199), "face", 1.0, "test")
    out = operator.apply(astronaut, region)
    grey = astronaut[35:199, 160:290].mean(axis=2)
    grey_out = out[35:199, 160:290].mean(axis=2)
    assert structural_similarity(grey, grey_out, data_range=255, win_size=7) < 0.5


def test_operators_handle_16_bit_images() -> None:
    image = np.random.default_rng(1).integers(0, 65535, (20, 30), dtype=np.uint16)
    region = Region((5, 5, 15, 15), "face", 1.0, "test")
    for operator in (Fill(color=(255, 255, 255)), Blur(), Pixelate()):
        out = operator.apply(image, region)
        assert out.dtype == np.uint16
        assert not np.array_equal(out[5:15, 5:15], image[5:15, 5:15])
    assert (Fill(color=(255, 255, 255)).apply(image, region)[5:15, 5:15] == 65535).all()


def test_mask_limits_the_operator_to_masked_pixels() -> None:
    image = np.full((10, 10, 3), 200, np.uint8)
    mask = np.zeros((8, 8), bool)  # box-local: (height, width) of the box
    mask[1:3, 1:3] = True
    out = Fill().apply(image, Region((1, 1, 9, 9), "face", 1.0, "test", mask=mask))
    assert (out[2:4, 2:4] == 0).all()
    assert (out[5:, 5:] == 200).all()
    assert (out[0] == 200).all()


def test_operator_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="cells"):
        Pixelate(cells=0)
    with pytest.raises(ValueError, match="strength"):
        Blur(strength=0)


def test_replace_erases_the_words_and_draws_the_surrogate_in_their_ink() -> None:
    page = np.full((60, 300, 3), 235, np.uint8)
    page[20:40, 30:200:6] = (20, 20, 120)  # vertical strokes standing in for letters
    region = Region((24, 14, 206, 46), "text.PERSON", 1.0, "test", text="Marcus Lind")
    out = Replace().apply(page, region)
    roi = out[14:46, 24:206]
    assert not np.array_equal(roi, page[14:46, 24:206])
    ink = roi[(roi < 150).all(axis=2)]
    assert len(ink) > 50, "the surrogate was drawn"
    assert np.abs(np.median(ink, axis=0) - (20, 20, 120)).max() < 40, "in the original's colour"
    assert (out[:, :24] == 235).all() and (out[:, 206:] == 235).all()


def test_replace_spreads_a_two_line_value_over_both_lines() -> None:
    page = np.full((120, 300, 3), 250, np.uint8)
    mask = np.zeros((80, 200), bool)
    mask[:30, :120] = mask[50:, :200] = True
    region = Region((20, 20, 220, 100), "text.ADDRESS", 1.0, "test", mask=mask,
                    text="12 Rue de la Paix Paris")
    out = Replace().apply(page, region)
    first, second = out[20:50, 20:140], out[70:100, 20:220]
    assert (first < 128).any() and (second < 128).any()
    assert (out[50:70] == 250).all(), "nothing drawn between the lines"
