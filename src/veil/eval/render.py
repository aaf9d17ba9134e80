"""Drawing the probes' pictures: forms with labelled fields, and photos of drawn people.

The people are flat drawings with shaded faces, which CenterFace finds (scores about
0.5-0.8); they stand in for photos, so that no real person's picture is needed.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_SKINS = ((241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172),
          (110, 70, 40))
_HAIR = ((50, 30, 20), (20, 20, 20), (120, 80, 40), (200, 170, 90), (90, 60, 30),
         (160, 160, 160))
_CLOTHES = ((60, 70, 120), (150, 40, 40), (40, 110, 60), (90, 90, 90), (200, 160, 60),
            (120, 60, 140))


@functools.cache
def font(size: int, bold: bool = False) -> Font:
    """DejaVu Sans when the system has it, else Pillow's built-in scalable font."""
    path = _DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    return ImageFont.truetype(str(path), size) if path.exists() else ImageFont.load_default(size)


def form(title: str, rows: Sequence[tuple[str, str]], rng: random.Random, *,
         portrait: bool = False) -> np.ndarray:
    """A form: a heading, then one ``label: value`` per row (a value may hold newlines,
    drawn as further lines under it); a drawn portrait at the top right if asked."""
    size = rng.choice((20, 22, 24))
    line = round(size * 1.9)
    lines = sum(1 + value.count("\n") for _, value in rows)
    width, height = 900, 130 + line * lines + 40
    paper = (rng.randint(246, 255), rng.randint(246, 255), rng.randint(240, 252))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    ink = (rng.randint(0, 40),) * 3
    draw.text((40, 34), title, fill=(20, 30, 70), font=font(size + 14, bold=True))
    draw.line((40, 90, width - 40, 90), fill=(120, 120, 140), width=2)
    label_font, value_font = font(size), font(size)
    column = 40 + max(int(label_font.getlength(f"{label}:")) for label, _ in rows) + 30
    y = 115
    for label, value in rows:
        draw.text((40, y), f"{label}:", fill=(70, 70, 80), font=label_font)
        for part in value.split("\n"):
            draw.text((column, y), part, fill=ink, font=value_font)
            y += line
    if portrait:
        box = (width - 210, 110, width - 50, 310)
        draw.rectangle(box, fill=(214, 222, 232), outline=(90, 90, 90), width=2)
        person(image, (box[0] + box[2]) // 2, box[1] + 85, 100, rng)
    return np.asarray(image.filter(ImageFilter.GaussianBlur(0.4))).copy()


def photo(people: int, rng: random.Random) -> np.ndarray:
    """A 900x520 picture of ``people`` drawn people side by side, of varied sizes."""
    width, height = 900, 520
    top = tuple(rng.randint(150, 230) for _ in range(3))
    image = Image.new("RGB", (width, height), top)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 0.7, width, height), fill=tuple(int(c * 0.7) for c in top))
    slot = width / people
    for i in range(people):
        head = rng.randint(90, min(170, int(slot * 0.8)))
        cx = int(slot * (i + 0.5) + rng.randint(-15, 15))
        person(image, cx, rng.randint(170, 230), head, rng)
    return np.asarray(image.filter(ImageFilter.GaussianBlur(1.0))).copy()


def person(image: Image.Image, cx: int, cy: int, head: int, rng: random.Random) -> None:
    """Draw a person whose face is ``head`` px tall, centred at (cx, cy)."""
    skin, hair, clothes = rng.choice(_SKINS), rng.choice(_HAIR), rng.choice(_CLOTHES)
    h, w = head, head * 0.74
    draw = ImageDraw.Draw(image)

    def shade(colour: tuple[int, ...], k: float) -> tuple[int, ...]:
        return tuple(int(c * k) for c in colour)

    draw.rounded_rectangle((cx - w * 1.1, cy + h * 0.55, cx + w * 1.1, cy + h * 2.0),
                           radius=int(h * 0.3), fill=clothes)
    draw.rectangle((cx - w * 0.22, cy + h * 0.3, cx + w * 0.22, cy + h * 0.65),
                   fill=shade(skin, 0.85))
    draw.ellipse((cx - w * 0.58, cy - h * 0.62, cx + w * 0.58, cy + h * 0.2), fill=hair)
    for s in (-1, 1):
        draw.ellipse((cx + s * w * 0.5 - w * 0.08, cy - h * 0.1, cx + s * w * 0.5 + w * 0.08,
                      cy + h * 0.12), fill=shade(skin, 0.9))
    _shaded_oval(image, cx, cy, w / 2, h / 2, skin)
    draw.chord((cx - w * 0.52, cy - h * 0.58, cx + w * 0.52, cy - h * 0.05), 180, 360,
               fill=hair)
    for s in (-1, 1):
        ex, ey = cx + s * w * 0.21, cy - h * 0.05
        draw.ellipse((ex - w * 0.14, ey - h * 0.06, ex + w * 0.14, ey + h * 0.06),
                     fill=shade(skin, 0.7))
        draw.ellipse((ex - w * 0.1, ey - h * 0.032, ex + w * 0.1, ey + h * 0.032),
                     fill=(245, 245, 240))
        draw.ellipse((ex - w * 0.045, ey - h * 0.032, ex + w * 0.045, ey + h * 0.032),
                     fill=(60, 40, 25))
        draw.line((ex - w * 0.13, ey - h * 0.1, ex + w * 0.12, ey - h * 0.11), fill=hair,
                  width=max(2, int(h * 0.03)))
    draw.polygon([(cx, cy - h * 0.02), (cx - w * 0.09, cy + h * 0.16),
                  (cx + w * 0.09, cy + h * 0.16)], fill=shade(skin, 0.85))
    for s in (-1, 1):
        nx = cx + s * w * 0.05
        draw.ellipse((nx - w * 0.03, cy + h * 0.13, nx + w * 0.03, cy + h * 0.17),
                     fill=shade(skin, 0.5))
    draw.ellipse((cx - w * 0.2, cy + h * 0.22, cx + w * 0.2, cy + h * 0.31), fill=(160, 70, 70))
    draw.line((cx - w * 0.19, cy + h * 0.265, cx + w * 0.19, cy + h * 0.265), fill=(90, 30, 30),
              width=max(1, int(h * 0.01)))


def _shaded_oval(image: Image.Image, cx: float, cy: float, rx: float, ry: float,
                 colour: tuple[int, ...]) -> None:
    """An oval of ``colour``, darker towards its rim (a face lit from the front)."""
    x1, y1 = max(0, int(cx - rx)), max(0, int(cy - ry))
    x2, y2 = min(image.width, int(cx + rx) + 1), min(image.height, int(cy + ry) + 1)
    if x2 <= x1 or y2 <= y1:
        return
    yy, xx = np.mgrid[y1:y2, x1:x2]
    d = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    inside = d <= 1
    patch = np.asarray(image.crop((x1, y1, x2, y2))).astype(np.float64)
    light = 1.0 - 0.25 * np.clip(d, 0, 1) ** 2
    for c in range(3):
        patch[..., c] = np.where(inside, colour[c] * light, patch[..., c])
    image.paste(Image.fromarray(patch.clip(0, 255).astype(np.uint8)), (x1, y1))
