"""redact_image and Redactor: same type back, faces hidden, fail closed."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from conftest import FACE_BOX, iou
from veil import DetectorError, Policy, Redactor, Region, redact_image
from veil.images import box_to_stored, read_image

FAR = (slice(400, 512), slice(0, 100))  # a corner of the portrait far from the face


def face_ssim(before: np.ndarray, after: np.ndarray, box: tuple[int, ...] = FACE_BOX) -> float:
    x1, y1, x2, y2 = box
    a = before[y1:y2, x1:x2].astype(float)
    b = after[y1:y2, x1:x2].astype(float)
    if a.ndim == 3:
        a, b = a.mean(axis=2), b.mean(axis=2)
    return float(structural_similarity(a, b, data_range=255, win_size=7))


def test_pil_in_pil_out_with_the_face_hidden(astronaut: np.ndarray) -> None:
    image = Image.fromarray(astronaut)
    out, report = redact_image(image)
    assert isinstance(out, Image.Image)
    assert out.size == image.size and out.mode == "RGB"
    assert face_ssim(astronaut, np.asarray(out)) < 0.5
    assert np.array_equal(np.asarray(out)[FAR], astronaut[FAR])
    assert report.counts() == {"face": 1}
    assert np.array_equal(np.asarray(image), astronaut), "input was mutated"


@pytest.mark.parametrize("channels", [None, 3, 4])
def test_numpy_in_numpy_out(astronaut: np.ndarray, channels: int | None) -> None:
    if channels is None:
        image = astronaut.mean(axis=2).astype(np.uint8)
    elif channels == 4:
        image = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    else:
        image = astronaut.copy()
    out, report = redact_image(image)
    assert isinstance(out, np.ndarray)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert report.counts().get("face") == 1
    assert face_ssim(image[..., :3] if image.ndim == 3 else image,
                     out[..., :3] if out.ndim == 3 else out) < 0.5
    if channels == 4:
        assert (out[..., 3] == 255).all(), "alpha must be left alone"


def test_operator_from_policy_is_used(astronaut: np.ndarray) -> None:
    policy = Policy.from_dict({"kinds": {"face": {"operator": "blur"}}})
    out, report = redact_image(astronaut, policy)
    assert report.actions[0].operator == "blur"
    assert face_ssim(astronaut, out) < 0.5
    x1, y1, x2, y2 = report.actions[0].box
    assert len(np.unique(out[y1:y2, x1:x2].reshape(-1, 3), axis=0)) > 10  # blurred, not filled


def test_disabled_kind_is_left_alone(astronaut: np.ndarray) -> None:
    out, report = redact_image(astronaut, Policy.from_dict({"kinds": {"face": {"enabled": False}}}))
    assert np.array_equal(out, astronaut)
    assert report.actions == ()


def test_report_holds_no_pixels_and_is_json(astronaut: np.ndarray) -> None:
    _, report = redact_image(astronaut)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    (region,) = data["regions"]
    assert set(region) == {"kind", "box", "score", "operator", "source"}


class BrokenDetector:
    name = "broken"
    kinds = ("face",)

    def detect(self, image: np.ndarray) -> list[Region]:
        raise RuntimeError("model exploded on /secret/jane_roe.jpg")


def test_detector_failure_blocks_the_image(photo_jpeg: Path, tmp_path: Path) -> None:
    redactor = Redactor(detectors=[BrokenDetector()])
    dst = tmp_path / "out" / "astronaut.jpg"
    with pytest.raises(DetectorError, match="broken failed") as info:
        redactor.redact_file(photo_jpeg, dst)
    assert "jane" not in str(info.value).lower()
    assert not dst.exists()
    assert not dst.parent.exists() or not any(dst.parent.iterdir())


def test_rotated_phone_photo_is_detected_upright_and_hidden_in_stored_pixels(
    astronaut: np.ndarray, tmp_path: Path
) -> None:
    stored = np.ascontiguousarray(np.rot90(astronaut, 1))  # lies on its side in the file
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    src = tmp_path / "phone.jpg"
    Image.fromarray(stored).save(src, quality=95, exif=exif)
    dst = tmp_path / "out" / "phone.jpg"
    report = Redactor().redact_file(src, dst)
    with Image.open(dst) as out:
        assert out.size == (512, 512) and out.getexif().get(0x0112) == 6
        pixels = np.asarray(out)
    face_in_file = box_to_stored(FACE_BOX, 6, (512, 512))
    assert report.counts() == {"face": 1}
    assert face_ssim(stored, pixels, face_in_file) < 0.5
    assert iou(report.actions[0].box, face_in_file) > 0.7


def test_redact_file_strips_metadata(photo_jpeg: Path, tmp_path: Path) -> None:
    dst = tmp_path / "out.jpg"
    report = Redactor().redact_file(photo_jpeg, dst)
    assert {"exif.gps", "exif.camera", "xmp", "comment"} <= set(report.metadata_removed)
    raw = dst.read_bytes()
    for planted in (b"TestCam", b"SERIAL-12345", b"Jane Roe", b"GPSLatitude"):
        assert planted not in raw
    with Image.open(dst) as out:
        assert not out.getexif()
    assert read_image(dst, Policy().limits).metadata == ()


def test_reports_say_where_the_time_went(astronaut: np.ndarray, tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(astronaut).save(src)
    report = Redactor().redact_file(src, tmp_path / "out.png")
    assert {"decode", "faces", "ocr.detect", "codes", "hide", "encode"} <= set(report.stages)
    assert all(ms >= 0 for ms in report.stages.values())
    assert sum(report.stages.values()) <= report.ms * 1.01
    assert set(report.to_dict()["stages"]) == set(report.stages)


def test_an_image_over_its_time_budget_is_blocked(astronaut: np.ndarray,
                                                   tmp_path: Path) -> None:
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(astronaut).save(src)
    policy = Policy.from_dict({"limits": {"image_seconds": 1e-6}})
    with pytest.raises(DetectorError, match="time budget"):
        Redactor(policy).redact_file(src, dst)
    assert not dst.exists()
