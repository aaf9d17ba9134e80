"""Fixtures made here: a real photo (scikit-image's public-domain astronaut) and
images built from it; no test reads ../shared."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from skimage import data

from pgcluster import PostgresCluster
from veil.regions import Region

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


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans when the system has it, else Pillow's built-in scalable font."""
    path = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


Words = dict[str, list[tuple[int, int, int, int]]]


def render_page(rows: list[str], *, size: int = 24, width: int = 900, top: int = 30,
                background: int = 255, ink: int = 20, gap: float = 1.9,
                height: int | None = None) -> tuple[np.ndarray, Words]:
    """Draw rows of text on a page; returns the RGB page and each word's exact box
    (a word drawn twice has two boxes)."""
    f = font(size)
    line = round(size * gap)
    page = Image.new("RGB", (width, height or top * 2 + line * len(rows)), (background,) * 3)
    draw = ImageDraw.Draw(page)
    boxes: Words = {}
    for i, row in enumerate(rows):
        x, y = 30.0, top + i * line
        for word in row.split(" "):
            if word:
                draw.text((x, y), word, fill=(ink,) * 3, font=f)
                x1, y1, x2, y2 = draw.textbbox((x, y), word, font=f)
                boxes.setdefault(word, []).append((int(x1), int(y1), int(x2), int(y2)))
            x += f.getlength(word + " ")
    return np.asarray(page).copy(), boxes


def covered(box: tuple[int, int, int, int], regions: list[Region]) -> bool:
    """Whether every pixel of ``box`` lies under some region's box and mask."""
    x1, y1, x2, y2 = box
    hit = np.zeros((y2 - y1, x2 - x1), bool)
    for r in regions:
        rx1, ry1, rx2, ry2 = r.box
        mask = r.mask if r.mask is not None else np.ones((r.height, r.width), bool)
        ix1, iy1, ix2, iy2 = max(x1, rx1), max(y1, ry1), min(x2, rx2), min(y2, ry2)
        if ix2 > ix1 and iy2 > iy1:
            hit[iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] |= mask[iy1 - ry1 : iy2 - ry1,
                                                                  ix1 - rx1 : ix2 - rx1]
    return bool(hit.all())


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A real PostgreSQL server for the session (started on first use)."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> str:
    """The server's URL with a schema of this test's own."""
    return postgres.url(schema=f"t_{uuid.uuid4().hex[:12]}")
