"""Reading and writing: metadata is dropped, format, size and orientation are kept,
bad input gets a clear InputError."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import exif_with_personal_data
from veil import InputError, Limits
from veil.images import (
    Picture,
    box_to_stored,
    decode_image,
    encode_image,
    read_image,
    to_display,
    write_atomic,
)

LIMITS = Limits()


def _encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **options)
    return buf.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_and_boxes_map_back(orientation: int) -> None:
    stored = np.random.default_rng(orientation).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    im = Image.open(io.BytesIO(_encode(Image.fromarray(stored), "PNG", exif=exif.tobytes())))
    expected = np.asarray(ImageOps.exif_transpose(im))
    display = to_display(stored, orientation)
    assert np.array_equal(display, expected)
    # a box in display space covers exactly the stored pixels box_to_stored names
    box = (3, 5, 11, 9)
    marked = np.zeros(display.shape[:2], np.uint8)
    marked[box[1] : box[3], box[0] : box[2]] = 1
    back = to_display(marked, {6: 8, 8: 6}.get(orientation, orientation))
    x1, y1, x2, y2 = box_to_stored(box, orientation, (50, 30))
    assert back[y1:y2, x1:x2].all() and back.sum() == (x2 - x1) * (y2 - y1)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_encoding_drops_every_metadata_but_orientation(fmt: str) -> None:
    exif = exif_with_personal_data()
    exif[0x0112] = 6
    options: dict[str, object] = {"exif": exif}
    if fmt == "JPEG":
        options["comment"] = b"owner: Jane Roe"
    data = _encode(Image.new("RGB", (40, 20), (10, 120, 200)), fmt, **options)
    picture = decode_image(data, LIMITS)
    assert "exif.camera" in picture.metadata
    assert fmt == "TIFF" or "exif.gps" in picture.metadata  # Pillow writes no GPS IFD to TIFF
    out = Image.open(io.BytesIO(encode_image(picture)))
    assert out.format == fmt
    # displays as the input did (Pillow itself rotates TIFFs on load and drops the tag)
    assert ImageOps.exif_transpose(out).size == (20, 40)
    tags = out.getexif()
    assert not {0x010F, 0x0110, 0x0132, 0x8825, 0x8769} & set(tags)
    if fmt != "TIFF":  # a TIFF's own structure tags (size, strips) are in its IFD0 too
        assert dict(tags) == {0x0112: 6}
    assert not tags.get_ifd(0x8825) and not tags.get_ifd(0x8769)
    assert not {"comment", "xmp", "photoshop"} & set(out.info)
    raw = encode_image(picture)
    assert b"TestCam" not in raw and b"SERIAL-12345" not in raw and b"Jane" not in raw


def test_png_text_chunks_and_xmp_are_dropped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Jane Roe")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>GPS 48.85N</x:xmpmeta>")
    picture = decode_image(_encode(Image.new("RGB", (8, 8)), "PNG", pnginfo=info), LIMITS)
    assert "png.text" in picture.metadata
    raw = encode_image(picture)
    assert b"Jane" not in raw and b"xmpmeta" not in raw


def test_jpeg_stays_jpeg_at_high_quality(astronaut: np.ndarray) -> None:
    picture = decode_image(_encode(Image.fromarray(astronaut), "JPEG", quality=98), LIMITS)
    out = Image.open(io.BytesIO(encode_image(picture, jpeg_quality=95)))
    assert out.format == "JPEG"
    diff = np.abs(np.asarray(out, np.int16) - picture.pixels.astype(np.int16))
    assert diff.mean() < 2.0


@pytest.mark.parametrize(
    ("mode", "fmt", "expect_mode"),
    [
        ("CMYK", "JPEG", "CMYK"),
        ("L", "JPEG", "L"),
        ("I;16", "PNG", "I;16"),
        ("P", "PNG", "RGB"),
        ("RGBA", "PNG", "RGBA"),
        ("LA", "PNG", "LA"),
        ("1", "PNG", "L"),
        ("RGB", "BMP", "RGB"),
        ("RGB", "GIF", "P"),
        ("I;16", "TIFF", "I;16"),
    ],
)
def test_pixel_modes_round_trip(mode: str, fmt: str, expect_mode: str) -> None:
    im = Image.new(mode, (16, 12))
    picture = decode_image(_encode(im, fmt), LIMITS)
    out = Image.open(io.BytesIO(encode_image(picture)))
    assert out.format == fmt and out.size == (16, 12) and out.mode == expect_mode
    assert picture.display_rgb().shape == (12, 16, 3)


def test_palette_with_transparency_keeps_alpha() -> None:
    im = Image.new("P", (8, 8), 0)
    picture = decode_image(_encode(im, "PNG", transparency=0), LIMITS)
    assert picture.mode == "RGBA"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is a text file, not a picture", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not an image|corrupt"),
    ],
)
def test_unreadable_bytes_give_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_image(data, LIMITS)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_image_is_refused(astronaut: np.ndarray, fmt: str) -> None:
    data = _encode(Image.fromarray(astronaut), fmt)
    with pytest.raises(InputError, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2], LIMITS)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = _encode(Image.new("L", (12000, 12000)), "PNG")  # 144 MP of zeros, a few kB
    assert len(bomb) < 1_000_000
    with pytest.raises(InputError, match="decompression bomb"):
        decode_image(bomb, LIMITS)
    with pytest.raises(InputError, match="above the limit"):
        decode_image(_encode(Image.new("L", (100, 100)), "PNG"), Limits(max_pixels=5000))


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_encode(Image.new("L", (64, 64)), "PNG"))
    with pytest.raises(InputError, match="above the limit"):
        read_image(path, Limits(max_file_bytes=10))


def test_still_image_decoder_refuses_animated_images() -> None:
    frames = [Image.new("RGB", (8, 8), (i * 40, 0, 0)) for i in range(3)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(InputError, match="3 frames"):
        decode_image(data, LIMITS)


def test_unreadable_path_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read file"):
        read_image(tmp_path / "missing.jpg", LIMITS)


def test_write_atomic_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "a.png"
    write_atomic(target, b"first")
    assert target.read_bytes() == b"first"
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["a.png"]


def test_picture_size_is_stored_width_and_height() -> None:
    assert Picture(np.zeros((3, 5), np.uint8), "L", "PNG").size == (5, 3)
