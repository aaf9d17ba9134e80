"""Overwriting the pixels of a PDF's images under regions found on the page.

A region is found in device pixels; each place an image is drawn maps its pixel grid to
the page, so the inverse map gives the image pixels under the region. The policy's
operator then hides them in the image itself (and its soft mask is made opaque there, so
the alpha channel cannot keep the shape), and the image is written back: JPEG images as
JPEG, everything else losslessly (Flate).
"""

from __future__ import annotations

import io
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np
import pikepdf
from PIL import Image

from veil.anonymize import OperatorSpec
from veil.pdf.content import Matrix, Placement, apply, invert, mul
from veil.pdf.fonts import PdfError
from veil.regions import Box, Region


def rectangles(region: Region) -> list[Box]:
    """A region as rectangles: its box, or its mask's row bands where it has one."""
    if region.mask is None:
        return [region.box]
    x0, y0 = region.box[0], region.box[1]
    out: list[Box] = []
    mask = region.mask
    start = 0
    for y in range(1, mask.shape[0] + 1):
        if y == mask.shape[0] or not np.array_equal(mask[y], mask[start]):
            row = mask[start]
            edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
            for a, b in zip(edges[::2], edges[1::2], strict=True):
                out.append((x0 + int(a), y0 + start, x0 + int(b), y0 + y))
            start = y
    return out


def image_regions(placement: Placement, to_device: Matrix, regions: Sequence[Region]
                  ) -> list[Region]:
    """``regions`` (device pixels) in the pixels of the image drawn at ``placement``."""
    width = int(placement.image.get("/Width", 0))
    height = int(placement.image.get("/Height", 0))
    if width <= 0 or height <= 0:
        return []
    pixel_to_unit: Matrix = (1 / width, 0.0, 0.0, -1 / height, 0.0, 1.0)
    to_pixels = invert(mul(mul(pixel_to_unit, placement.ctm), to_device))
    out = []
    for region in regions:
        for x1, y1, x2, y2 in rectangles(region):
            corners = [apply(to_pixels, x, y) for x, y in ((x1, y1), (x2, y1), (x1, y2),
                                                           (x2, y2))]
            us, vs = zip(*corners, strict=True)
            u1, v1 = max(0, int(np.floor(min(us)))), max(0, int(np.floor(min(vs))))
            u2, v2 = min(width, int(np.ceil(max(us)))), min(height, int(np.ceil(max(vs))))
            if u2 > u1 and v2 > v1:
                out.append(Region((u1, v1, u2, v2), region.kind, region.score,
                                  region.source))
    return out


def overwrite(placements: Sequence[Placement],
              groups: Sequence[tuple[Matrix, Sequence[Region]]],
              operator_for: Callable[[str], OperatorSpec]) -> int:
    """Hide the regions of ``groups`` (each in the pixels of its own map from user space)
    in every image drawn under them; how many images were changed."""
    per_image: dict[tuple[int, int], tuple[pikepdf.Stream, list[Region]]] = {}
    for placement in placements:
        for to_device, regions in groups:
            found = image_regions(placement, to_device, regions)
            if found:
                key = placement.image.objgen
                per_image.setdefault(key, (placement.image, []))[1].extend(found)
    for image, found in per_image.values():
        _rewrite(image, found, operator_for)
    return len(per_image)


def _rewrite(image: pikepdf.Stream, regions: list[Region],
             operator_for: Callable[[str], OperatorSpec]) -> None:
    if image.get("/ImageMask"):
        _rewrite_stencil(image, regions)
        return
    try:
        pil = pikepdf.PdfImage(image).as_pil_image()
    except Exception as exc:  # any decoder failure: the image cannot be redacted
        raise PdfError(f"an image under a region cannot be decoded ({type(exc).__name__}); "
                       "cannot redact it") from None
    if pil.mode not in ("L", "RGB", "CMYK"):
        pil = pil.convert("RGB" if pil.mode not in ("1", "I;16", "I") else "L")
    pixels = np.asarray(pil).copy()
    by_operator: dict[OperatorSpec, list[Region]] = defaultdict(list)
    for region in regions:
        by_operator[operator_for(region.kind)].append(region)
    for operator, group in by_operator.items():
        pixels = operator.apply_all(pixels, group)
    out = Image.fromarray(pixels, pil.mode)
    filters = image.get("/Filter")
    jpeg = filters == pikepdf.Name.DCTDecode or (
        isinstance(filters, pikepdf.Array) and list(filters) == [pikepdf.Name.DCTDecode])
    space = image.get("/ColorSpace")
    keep_space = isinstance(space, pikepdf.Array) and len(space) and space[0] == pikepdf.Name(
        "/ICCBased") and int(space[1].get("/N", 0)) == len(pil.getbands())
    for key in ("/Decode", "/DecodeParms", "/Filter"):
        if key in image:
            del image[key]
    if not keep_space:
        image.ColorSpace = pikepdf.Name({"L": "/DeviceGray", "RGB": "/DeviceRGB",
                                         "CMYK": "/DeviceCMYK"}[out.mode])
    image.BitsPerComponent = 8
    if jpeg and out.mode in ("L", "RGB"):
        buf = io.BytesIO()
        out.save(buf, format="JPEG", quality=90)
        image.write(buf.getvalue(), filter=pikepdf.Name.DCTDecode)
    else:
        image.write(zlib.compress(out.tobytes()), filter=pikepdf.Name.FlateDecode)
    mask = image.get("/SMask")
    if isinstance(mask, pikepdf.Stream):
        _opaque(mask, regions, image)


def _opaque(mask: pikepdf.Stream, regions: Sequence[Region], image: pikepdf.Stream) -> None:
    """Make a soft mask opaque under ``regions`` (given in the image's pixels)."""
    try:
        alpha = np.asarray(pikepdf.PdfImage(mask).as_pil_image().convert("L")).copy()
    except Exception as exc:
        raise PdfError(f"an image's soft mask cannot be decoded ({type(exc).__name__}); "
                       "cannot redact it") from None
    sx = alpha.shape[1] / int(image.Width)
    sy = alpha.shape[0] / int(image.Height)
    for x1, y1, x2, y2 in (r.box for r in regions):
        alpha[int(y1 * sy) : int(np.ceil(y2 * sy)), int(x1 * sx) : int(np.ceil(x2 * sx))] = 255
    for key in ("/Decode", "/DecodeParms", "/Filter"):
        if key in mask:
            del mask[key]
    mask.ColorSpace = pikepdf.Name.DeviceGray
    mask.BitsPerComponent = 8
    mask.write(zlib.compress(alpha.tobytes()), filter=pikepdf.Name.FlateDecode)


def _rewrite_stencil(image: pikepdf.Stream, regions: Sequence[Region]) -> None:
    """A stencil mask paints where its samples say: unpaint it under the regions."""
    try:
        pil = pikepdf.PdfImage(image).as_pil_image()
    except Exception as exc:
        raise PdfError(f"a stencil image under a region cannot be decoded "
                       f"({type(exc).__name__}); cannot redact it") from None
    samples = np.asarray(pil.convert("L")) > 127  # True: sample 1
    decode = image.get("/Decode")
    paints_one = isinstance(decode, pikepdf.Array) and len(decode) == 2 and float(
        decode[0]) == 1.0
    for x1, y1, x2, y2 in (r.box for r in regions):
        samples[y1:y2, x1:x2] = not paints_one  # the value that paints nothing
    for key in ("/DecodeParms", "/Filter"):
        if key in image:
            del image[key]
    image.BitsPerComponent = 1
    packed = np.packbits(samples, axis=1)
    image.write(zlib.compress(packed.tobytes()), filter=pikepdf.Name.FlateDecode)
