"""Fixtures made here: a real photo (scikit-image's public-domain astronaut) and
images built from it; no test reads ../shared."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

FACE_BOX = (160, 35, 290, 199)  # where the astronaut's face lies in her 512x512 portrait


def iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two boxes."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


def make_crowd(
    face_photo: np.ndarray, face_height: int
) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """A 600x400 canvas with 24 copies of the astronaut's face, ``face_height`` px tall."""
    x1, y1, x2, y2 = FACE_BOX
    face = face_photo[y1:y2, x1:x2]
    small = cv2.resize(face, (round(face_height * (x2 - x1) / (y2 - y1)), face_height),
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((400, 600, 3), 90, np.uint8)
    boxes = []
    for y in range(40, 360, 80):
        for x in range(40, 560, 100):
            canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
            boxes.append((x, y, x + small.shape[1], y + small.shape[0]))
    return canvas, boxes


def exif_with_personal_data() -> Image.Exif:
    """EXIF with GPS position, camera make/model/serial and timestamps (all fake)."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0110] = "TC-9"
    exif[0x0132] = "2026:01:02 03:04:05"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = "SERIAL-12345"
    sub[0x9003] = "2026:01:02 03:04:05"
    return exif


@pytest.fixture
def photo_jpeg(tmp_path: Path, astronaut: np.ndarray) -> Path:
    """The astronaut as a JPEG carrying GPS, camera serial, XMP and a comment."""
    path = tmp_path / "in" / "astronaut.jpg"
    path.parent.mkdir()
    xmp = b"<x:xmpmeta><exif:GPSLatitude>48,51N</exif:GPSLatitude></x:xmpmeta>"
    Image.fromarray(astronaut).save(path, quality=92, exif=exif_with_personal_data(), xmp=xmp,
                                    comment=b"owner: Jane Roe")
    return path
