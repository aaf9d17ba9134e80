"""The real CenterFace model on real and composed photos."""

from pathlib import Path

import numpy as np
import pytest
from skimage.metrics import structural_similarity

import veil
from conftest import FACE_BOX, iou, make_crowd
from veil import DetectorError, Fill, Region
from veil.detect import faces
from veil.detect.faces import CenterFace, model_path, plan_passes


def protected(image: np.ndarray, regions: list[Region], boxes: list[tuple[int, ...]]) -> int:
    """How many ``boxes`` no longer resemble the original once ``regions`` are filled
    (the corpus rule: SSIM of the grey crop below 0.5)."""
    out = Fill().apply_all(image, regions)
    grey, grey_out = image.mean(axis=2), out.mean(axis=2)
    return sum(
        structural_similarity(grey[y1:y2, x1:x2], grey_out[y1:y2, x1:x2], data_range=255,
                              win_size=7) < 0.5
        for x1, y1, x2, y2 in boxes
    )


def test_finds_the_face_in_a_portrait(astronaut: np.ndarray) -> None:
    regions = CenterFace().detect(astronaut)
    assert len(regions) == 1
    face = regions[0]
    assert face.kind == "face" and face.source == "centerface@1" and face.score > 0.5
    assert iou(face.box, FACE_BOX) > 0.7


@pytest.mark.parametrize("height", [12, 16, 24])
def test_finds_small_faces_in_a_crowd(astronaut: np.ndarray, height: int) -> None:
    crowd, boxes = make_crowd(astronaut, height)
    found = protected(crowd, CenterFace().detect(crowd), boxes)
    assert found >= len(boxes) - 1, f"{found}/{len(boxes)} faces of {height} px hidden"


def test_upscaled_pass_is_what_finds_tiny_faces(astronaut: np.ndarray) -> None:
    crowd, boxes = make_crowd(astronaut, 12)
    assert plan_passes(600, 400).fine == 2.0
    assert plan_passes(600, 400, min_size=24).fine is None  # faces >= 24 px: one pass
    assert protected(crowd, CenterFace(min_size=24).detect(crowd), boxes) < len(boxes) // 2


@pytest.mark.parametrize(("size", "coarse", "fine"), [
    ((600, 400), 1.0, 2.0),            # small pictures: enlarged pass for tiny faces
    ((1024, 768), 1.0, 2.0),
    ((4032, 3024), 1024 / 4032, 20 / 30.24),  # 12 MP phone photo: faces >= 1 % searched
    ((8000, 6000), 1024 / 8000, 20 / 60),     # 48 MP
    ((100_000, 50), 1024 / 100_000, 2.0),     # absurd strip: enlarged, tiled, bounded
])
def test_passes_follow_the_picture_size(size: tuple[int, int], coarse: float,
                                        fine: float) -> None:
    passes = plan_passes(*size)
    assert passes.coarse == pytest.approx(coarse) and passes.fine == pytest.approx(fine)


def test_texture_that_scores_like_a_small_face_is_not_a_large_one() -> None:
    detector = CenterFace()
    low, high = detector.size_threshold(np.array([8.0, 200.0]))
    assert low == pytest.approx(detector.threshold) and high >= 0.35


def test_margin_grows_boxes(astronaut: np.ndarray) -> None:
    tight = CenterFace(margin=0.0).detect(astronaut)[0].box
    loose = CenterFace(margin=0.2).detect(astronaut)[0].box
    assert loose[0] < tight[0] and loose[1] < tight[1]
    assert loose[2] > tight[2] and loose[3] > tight[3]


def test_a_box_on_a_part_of_a_better_face_is_not_a_face_of_its_own() -> None:
    """On a real 7-megapixel group photo the model also answered, weakly, to a mouth and a
    cheek of large faces: those boxes count as parts of the face, two faces side by side
    or overlapping a little stay two."""
    boxes = np.array([[300, 300, 700, 800], [350, 650, 650, 780],  # a face, its mouth
                      [800, 300, 1200, 800], [1150, 320, 1500, 800]], np.float32)
    scores = np.array([0.9, 0.4, 0.9, 0.8], np.float32)
    kept = faces._nms(boxes, scores, 0.3, contained=faces.CONTAINED)
    assert sorted(kept.tolist()) == [0, 2, 3]


def test_no_faces_on_a_plain_image() -> None:
    assert CenterFace().detect(np.full((300, 400, 3), 128, np.uint8)) == []


def test_large_images_are_tiled_and_boxes_stay_inside(astronaut: np.ndarray) -> None:
    canvas = np.full((2400, 3000, 3), 60, np.uint8)
    canvas[1900:2412 - 12, 2400:2912] = astronaut[:500]
    regions = CenterFace().detect(canvas)
    assert any(iou(r.box, (2560, 1935, 2690, 2099)) > 0.5 for r in regions)
    assert all(0 <= r.box[0] < r.box[2] <= 3000 and 0 <= r.box[1] < r.box[3] <= 2400
               for r in regions)


def test_the_model_ships_inside_veil_with_its_licence() -> None:
    path = model_path()
    assert path.parent == Path(veil.__file__).parent / "models"
    assert (path.parent / "LICENSE.centerface").read_text().count("MIT License") == 1


def test_missing_model_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setattr(faces, "__file__", str(tmp_path / "detect" / "faces.py"))
    with pytest.raises(DetectorError, match="face model file missing"):
        faces.model_path()
