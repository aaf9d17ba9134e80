"""Reading and writing image files safely.

Reading checks size and pixel count before decoding (decompression bombs), decodes
fully (truncated files fail here, not later) and normalises the pixel mode. Writing
builds a fresh image from the pixels, so no EXIF, XMP, IPTC, comment or text chunk
of the input can survive; only the orientation tag is written back, so the output
displays as the input did. Files are written to a temporary name, then renamed.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from veil.detect.metadata import metadata_kinds
from veil.errors import InputError
from veil.policy import Limits
from veil.regions import Region

ORIENTATION_TAG = 0x0112

# Formats Veil writes back as themselves; anything else is refused up front.
WRITABLE = {"JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF"}
_FORMAT_ALIASES = {"MPO": "JPEG"}  # multi-picture JPEG: the previews are dropped
_ORIENTATION_FORMATS = {"JPEG", "PNG", "TIFF", "WEBP"}


@dataclass(frozen=True, slots=True)
class Picture:
    """A decoded image: pixels as stored (channels last) plus what is needed to save it."""

    pixels: np.ndarray
    mode: str
    format: str
    orientation: int = 1
    icc_profile: bytes | None = None
    metadata: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        """Stored (width, height)."""
        return (self.pixels.shape[1], self.pixels.shape[0])

    def display_rgb(self) -> np.ndarray:
        """RGB uint8 pixels as a viewer shows them (EXIF orientation applied)."""
        return to_display(to_rgb8(self.pixels, self.mode), self.orientation)

    def to_pil(self) -> Image.Image:
        """A fresh PIL image of the pixels, carrying no metadata."""
        if self.mode == "I;16":
            return Image.fromarray(self.pixels)
        return Image.fromarray(self.pixels, self.mode)

    def with_pixels(self, pixels: np.ndarray) -> Picture:
        return Picture(pixels, self.mode, self.format, self.orientation, self.icc_profile,
                       self.metadata)


@dataclass(frozen=True, slots=True)
class Frames:
    """The pages of a multi-page TIFF or the frames of an animated GIF or WebP, each a
    Picture, with the timing that writing them back needs (milliseconds per frame)."""

    pictures: tuple[Picture, ...]
    format: str
    durations: tuple[int, ...] = ()
    loop: int | None = None


def read_image(path: Path, limits: Limits) -> Picture:
    """Read and decode an image file, or raise InputError with a clear reason."""
    return decode_image(read_bounded(path, limits), limits)


def read_frames(path: Path, limits: Limits) -> Frames:
    """Read every page or frame of an image file (one for a still image)."""
    data = read_bounded(path, limits)
    with _open(data, limits) as im:
        if _frame_count(im) == 1:
            picture = _from_pil(im, limits)
            return Frames((picture,), picture.format)
        return _frames(im, limits)


def read_bounded(path: Path, limits: Limits) -> bytes:
    """A file's bytes, or InputError if it is unreadable, empty or above the size limit."""
    try:
        size = path.stat().st_size
        if size > limits.max_file_bytes:
            raise InputError(f"file is {size} bytes, above the limit of {limits.max_file_bytes}")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    if not data:
        raise InputError("file is empty (0 bytes)")
    return data


def decode_image(data: bytes, limits: Limits) -> Picture:
    """Decode the bytes of a still image, or raise InputError with a clear reason."""
    with _open(data, limits) as im:
        frames = _frame_count(im)
        if frames > 1:
            raise InputError(f"animated or multi-page images are not supported here "
                             f"({frames} frames)")
        return _from_pil(im, limits)


def _open(data: bytes, limits: Limits) -> Image.Image:
    if not data:
        raise InputError("file is empty (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise InputError(f"image is {len(data)} bytes, above the limit of {limits.max_file_bytes}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise InputError("not an image, or an image format Veil cannot read") from None
        except Image.DecompressionBombError:
            raise InputError("image pixel count is absurd (decompression bomb)") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise InputError(f"corrupt image header ({type(exc).__name__})") from None


def _frame_count(im: Image.Image) -> int:
    """Frames that are pictures of their own; an MPO's extra frames are previews."""
    return 1 if im.format == "MPO" else int(getattr(im, "n_frames", 1))


def _frames(im: Image.Image, limits: Limits) -> Frames:
    count = _frame_count(im)
    if count > limits.max_frames:
        raise InputError(f"image has {count} frames, above the limit of {limits.max_frames}")
    fmt = _FORMAT_ALIASES.get(im.format or "", im.format or "PNG")
    if fmt not in ("TIFF", "GIF", "WEBP"):
        raise InputError(f"multi-frame {fmt} images are not supported")
    loop = im.info.get("loop")
    pictures: list[Picture] = []
    durations: list[int] = []
    total = 0
    for frame in _each_frame(im):
        total += frame.width * frame.height
        if total > limits.max_pixels * 4:
            raise InputError(f"frames hold more than {limits.max_pixels * 4} pixels in all, "
                             "above the limit")
        # GIF and WebP frames after the first are composited by Pillow: whole pictures
        pictures.append(_from_pil(frame, limits))
        durations.append(int(frame.info.get("duration", 0) or 0))  # known once loaded
    return Frames(tuple(pictures), fmt, tuple(durations),
                  int(loop) if isinstance(loop, int) else None)


def _each_frame(im: Image.Image) -> Iterator[Image.Image]:
    try:
        yield from ImageSequence.Iterator(im)
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise InputError(f"corrupt or truncated frame ({type(exc).__name__})") from None


def picture_from_pil(im: Image.Image, limits: Limits) -> Picture:
    """A Picture from an in-memory PIL image (already opened by the caller)."""
    return _from_pil(im, limits)


def _from_pil(im: Image.Image, limits: Limits) -> Picture:
    width, height = im.size
    if width * height > limits.max_pixels:
        raise InputError(
            f"image is {width}x{height} pixels, above the limit of {limits.max_pixels} "
            "(decompression bomb?)"
        )
    fmt = _FORMAT_ALIASES.get(im.format or "", im.format or "PNG")
    if fmt not in WRITABLE:
        raise InputError(f"image format {fmt} is not supported (use JPEG, PNG, TIFF, WEBP)")
    try:
        im.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"corrupt or truncated image data ({type(exc).__name__})") from None
    found = metadata_kinds(im)
    try:
        orientation = int(im.getexif().get(ORIENTATION_TAG, 1))
    except Exception:  # unreadable EXIF: treat as unrotated, it is dropped anyway
        orientation = 1
    if orientation not in range(1, 9):
        orientation = 1
    mode, pixels = _normalise(im)
    icc = im.info.get("icc_profile")
    return Picture(pixels, mode, fmt, orientation, icc if isinstance(icc, bytes) else None, found)


def _normalise(im: Image.Image) -> tuple[str, np.ndarray]:
    """Bring any PIL mode to one of L, LA, RGB, RGBA, CMYK (uint8) or I;16 (uint16)."""
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return mode, np.asarray(im).copy()
    if mode.startswith("I;16"):
        return "I;16", np.asarray(im).astype(np.uint16)
    if mode == "I":
        return "I;16", np.clip(np.asarray(im), 0, 65535).astype(np.uint16)
    if mode in ("P", "PA"):
        target = "RGBA" if "transparency" in im.info or mode == "PA" else "RGB"
        return target, np.asarray(im.convert(target)).copy()
    if mode == "1":
        return "L", np.asarray(im.convert("L")).copy()
    return "RGB", np.asarray(im.convert("RGB")).copy()


def to_rgb8(pixels: np.ndarray, mode: str) -> np.ndarray:
    """RGB uint8 view of normalised pixels, for the detectors."""
    if mode == "I;16":
        grey = (pixels >> 8).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("L", "LA"):
        grey = pixels if pixels.ndim == 2 else pixels[:, :, 0]
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "CMYK":
        return np.asarray(Image.fromarray(pixels, "CMYK").convert("RGB"))
    return np.ascontiguousarray(pixels[:, :, :3])


def colour_channels(mode: str) -> int | None:
    """How many leading channels carry colour (the rest is alpha); None if the array is 2-D."""
    return {"LA": 1, "RGBA": 3}.get(mode)


# --- orientation -----------------------------------------------------------------------

def to_display(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to stored pixels, as a viewer does."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
        8: lambda a: np.rot90(a, 1),
    }
    op = ops.get(orientation)
    return pixels if op is None else np.ascontiguousarray(op(pixels))


def region_to_stored(region: Region, orientation: int,
                     stored_size: tuple[int, int]) -> Region:
    """A region found in the displayed picture, in the stored picture's pixels."""
    if orientation == 1:
        return region
    mask = region.mask  # box-local, so the inverse of the orientation maps it too
    if mask is not None:
        mask = to_display(mask, _INVERSE_ORIENTATION.get(orientation, orientation))
    box = box_to_stored(region.box, orientation, stored_size)
    return Region(box, region.kind, region.score, region.source, mask, region.text)


_INVERSE_ORIENTATION = {6: 8, 8: 6}


def box_to_stored(
    box: tuple[int, int, int, int], orientation: int, stored_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """Map a box in display coordinates back to stored-pixel coordinates."""
    w, h = stored_size

    def point(u: int, v: int) -> tuple[int, int]:
        return {
            1: (u, v), 2: (w - 1 - u, v), 3: (w - 1 - u, h - 1 - v), 4: (u, h - 1 - v),
            5: (v, u), 6: (v, h - 1 - u), 7: (w - 1 - v, h - 1 - u), 8: (w - 1 - v, u),
        }[orientation]

    xa, ya = point(box[0], box[1])
    xb, yb = point(box[2] - 1, box[3] - 1)
    return (min(xa, xb), min(ya, yb), max(xa, xb) + 1, max(ya, yb) + 1)


# --- writing ---------------------------------------------------------------------------

def encode_image(picture: Picture, jpeg_quality: int = 95) -> bytes:
    """Encode a Picture in its own format, with no metadata but orientation and ICC."""
    im, options = _prepared(picture, jpeg_quality)
    buf = io.BytesIO()
    im.save(buf, format=picture.format, **options)
    return buf.getvalue()


def encode_frames(frames: Frames, jpeg_quality: int = 95) -> bytes:
    """Encode every page or frame back into one file of the input's format, with its
    frame timing and loop count and no other metadata. Pages are stored upright."""
    if len(frames.pictures) == 1:
        return encode_image(frames.pictures[0], jpeg_quality)
    prepared = [_prepared(replace(p, pixels=to_display(p.pixels, p.orientation),
                                  orientation=1), jpeg_quality, animated=True)
                for p in frames.pictures]
    first, options = prepared[0]
    options.update(save_all=True, append_images=[im for im, _ in prepared[1:]])
    if frames.format in ("GIF", "WEBP"):
        options["duration"] = list(frames.durations)
        options["loop"] = frames.loop if frames.loop is not None else 0
    if frames.format == "GIF":
        options["disposal"] = 2  # frames are whole pictures: none shows through the next
    buf = io.BytesIO()
    first.save(buf, format=frames.format, **options)
    return buf.getvalue()


def _prepared(picture: Picture, jpeg_quality: int,
              animated: bool = False) -> tuple[Image.Image, dict[str, object]]:
    """A PIL image and save options for ``picture``'s format (metadata left out)."""
    im = picture.to_pil()
    fmt = picture.format
    options: dict[str, object] = {}
    if picture.icc_profile and fmt in ("JPEG", "PNG", "TIFF", "WEBP"):
        options["icc_profile"] = picture.icc_profile
    if picture.orientation != 1:
        if fmt in _ORIENTATION_FORMATS:
            exif = Image.Exif()
            exif[ORIENTATION_TAG] = picture.orientation
            options["exif"] = exif.tobytes()
        else:  # the format cannot say how to rotate: store it upright instead
            im = ImageOps.exif_transpose(_with_orientation(im, picture.orientation))
    if fmt == "JPEG":
        options.update(quality=jpeg_quality, subsampling=0)
        if im.mode not in ("L", "RGB", "CMYK"):
            im = im.convert("RGB")
    elif fmt == "PNG":
        options.update(compress_level=1)  # 4x faster than the default, files ~10 % larger
    elif fmt == "WEBP":
        options.update(quality=jpeg_quality)
    elif fmt == "TIFF":
        options.update(compression="tiff_lzw")
    elif fmt == "GIF" and im.mode != "L" and not (animated and im.mode == "RGBA"):
        # an animation's transparent pixels stay transparent: Pillow keeps an RGBA palette
        im = im.convert("RGB").quantize(256)
    elif fmt == "BMP" and im.mode not in ("L", "RGB", "RGBA", "1", "P"):
        im = im.convert("RGB")
    return im, options


def _with_orientation(im: Image.Image, orientation: int) -> Image.Image:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    im.info["exif"] = exif.tobytes()
    return im


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".veil-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
