"""What the content-stream editor needs of a PDF font: how its strings split into
character codes, how far each code advances, and how tall its glyphs stand.

Simple fonts (Type1, TrueType, Type3) take one byte per code and their ``/Widths``; the 14
standard fonts may leave widths out, so their Adobe metrics ship in ``std14.json``.
Composite fonts (Type0) split codes by their CMap's codespace ranges and take widths from
their descendant's ``/W`` array by CID. Fonts whose metrics cannot be known (vertical
writing, predefined CMaps other than Identity) raise ``PdfError``: the page is refused
rather than guessed at.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources

import pikepdf

from veil.errors import InputError


class PdfError(InputError):
    """A PDF (or part of one) Veil cannot redact safely; nothing is written."""


@dataclass(frozen=True, slots=True)
class Font:
    """Metrics in text space per unit of font size (1000 glyph units = 1 for most fonts)."""

    widths: dict[int, float]
    default_width: float
    ascent: float
    descent: float
    codespace: tuple[tuple[int, int, int], ...] = ((1, 0, 0xFF),)
    """(bytes, low, high) ranges of codes; one byte per code for simple fonts."""
    to_cid: dict[int, int] | None = field(default=None, repr=False)

    def width(self, code: int) -> float:
        return self.widths.get(code, self.default_width)

    def split(self, data: bytes) -> list[tuple[int, int]]:
        """``data`` as (code, byte length) pairs, by the codespace ranges."""
        out = []
        i = 0
        shortest = min(n for n, _, _ in self.codespace)
        while i < len(data):
            for n, low, high in self.codespace:
                if i + n <= len(data) and low <= int.from_bytes(data[i : i + n]) <= high:
                    break
            else:
                n = min(shortest, len(data) - i)
            out.append((int.from_bytes(data[i : i + n]), n))
            i += n
        return out


@functools.cache
def _std14() -> dict[str, dict[str, object]]:
    text = resources.files("veil.pdf").joinpath("std14.json").read_text(encoding="utf-8")
    data: dict[str, dict[str, object]] = json.loads(text)
    return data


_STD_ALIASES = {
    "arial": "Helvetica", "arialmt": "Helvetica", "helvetica": "Helvetica",
    "timesnewroman": "Times-Roman", "timesnewromanps": "Times-Roman",
    "timesnewromanpsmt": "Times-Roman", "times": "Times-Roman", "times-roman": "Times-Roman",
    "couriernew": "Courier", "couriernewpsmt": "Courier", "courier": "Courier",
    "symbol": "Symbol", "zapfdingbats": "ZapfDingbats",
}


def _standard_name(base: str) -> str | None:
    """The standard font a base font name stands for ("ABCDEF+Arial,Bold" -> Helvetica-Bold)."""
    fonts = _std14()["fonts"]
    name = base.split("+", 1)[-1]
    if name in fonts:
        return name
    family = re.split(r"[,-]", name, maxsplit=1)[0]
    style = name[len(family):].lower()
    std = _STD_ALIASES.get(family.lower())
    if std is None:
        return None
    bold, italic = "bold" in style, "italic" in style or "oblique" in style
    if std == "Times-Roman":
        suffix = {(True, True): "-BoldItalic", (True, False): "-Bold",
                  (False, True): "-Italic"}.get((bold, italic), "")
        return "Times" + (suffix or "-Roman")
    if std in ("Helvetica", "Courier"):
        suffix = {(True, True): "-BoldOblique", (True, False): "-Bold",
                  (False, True): "-Oblique"}.get((bold, italic), "")
        return std + suffix
    return std


def _num(value: object, default: float = 0.0) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def load_font(font: pikepdf.Object) -> Font:
    """The metrics of a font dictionary, or PdfError if they cannot be known."""
    subtype = str(font.get("/Subtype", ""))
    if subtype == "/Type0":
        return _composite(font)
    if subtype == "/Type3":
        return _type3(font)
    return _simple(font)


def _vertical(font: pikepdf.Object) -> tuple[float, float]:
    descriptor = font.get("/FontDescriptor")
    ascent = descent = 0.0
    if isinstance(descriptor, pikepdf.Dictionary):
        ascent = _num(descriptor.get("/Ascent")) / 1000
        descent = _num(descriptor.get("/Descent")) / 1000
    if ascent <= 0:
        ascent = 0.8
    if descent >= 0:
        descent = -0.2
    return ascent, descent


def _simple(font: pikepdf.Object) -> Font:
    ascent, descent = _vertical(font)
    widths_obj = font.get("/Widths")
    descriptor = font.get("/FontDescriptor")
    missing = 0.0
    if isinstance(descriptor, pikepdf.Dictionary):
        missing = _num(descriptor.get("/MissingWidth")) / 1000
    if isinstance(widths_obj, pikepdf.Array) and len(widths_obj):
        first = int(_num(font.get("/FirstChar")))
        widths = {first + i: _num(w) / 1000 for i, w in enumerate(widths_obj)}
        return Font(widths, missing, ascent, descent)
    std = _standard_name(str(font.get("/BaseFont", "")).lstrip("/"))
    if std is None:
        raise PdfError("a font has no widths and is not a standard font; cannot redact it")
    data = _std14()
    metrics = data["fonts"][std]
    names = _encoding(font, std)
    glyph_widths: dict[str, int] = metrics["widths"]  # type: ignore[index]
    widths = {code: glyph_widths[n] / 1000 for code, n in enumerate(names)
              if n is not None and n in glyph_widths}
    std_ascent = metrics["ascent"] / 1000  # type: ignore[index]
    std_descent = metrics["descent"] / 1000  # type: ignore[index]
    return Font(widths, missing, std_ascent or ascent, std_descent or descent)


def _encoding(font: pikepdf.Object, std: str) -> list[str | None]:
    """Glyph names by code: the base encoding with the font's /Differences applied."""
    encodings: dict[str, list[str | None]] = _std14()["encodings"]  # type: ignore[assignment]
    default = std if std in ("Symbol", "ZapfDingbats") else "StandardEncoding"
    enc = font.get("/Encoding")
    base = default
    differences: pikepdf.Array | None = None
    if isinstance(enc, pikepdf.Name):
        base = str(enc).lstrip("/")
    elif isinstance(enc, pikepdf.Dictionary):
        base = str(enc.get("/BaseEncoding", "/" + default)).lstrip("/")
        diff = enc.get("/Differences")
        differences = diff if isinstance(diff, pikepdf.Array) else None
    names = list(encodings.get(base, encodings[default]))
    if differences is not None:
        code = 0
        for item in differences:
            if isinstance(item, pikepdf.Name):
                if 0 <= code < 256:
                    names[code] = str(item).lstrip("/")
                code += 1
            else:
                code = int(_num(item))
    return names


def _type3(font: pikepdf.Object) -> Font:
    matrix = [_num(v) for v in font.get("/FontMatrix", [0.001, 0, 0, 0.001, 0, 0])]
    first = int(_num(font.get("/FirstChar")))
    widths = {first + i: _num(w) * matrix[0] for i, w in enumerate(font.get("/Widths", []))}
    bbox = [_num(v) for v in font.get("/FontBBox", [0, 0, 0, 0])]
    ascent, descent = bbox[3] * matrix[3], bbox[1] * matrix[3]
    if ascent <= 0:
        ascent = 0.8
    if descent >= 0:
        descent = -0.2
    return Font(widths, 0.0, ascent, descent)


def _composite(font: pikepdf.Object) -> Font:
    descendants = font.get("/DescendantFonts")
    if not isinstance(descendants, pikepdf.Array) or not len(descendants):
        raise PdfError("a composite font has no descendant font; cannot redact it")
    cid_font = descendants[0]
    encoding = font.get("/Encoding")
    to_cid: dict[int, int] | None = None
    if isinstance(encoding, pikepdf.Name):
        name = str(encoding)
        if name == "/Identity-V" or name.endswith("-V"):
            raise PdfError("vertical text is not supported; cannot redact it")
        if name != "/Identity-H":
            raise PdfError("a font uses a predefined CMap Veil does not read; cannot redact it")
        codespace: tuple[tuple[int, int, int], ...] = ((2, 0, 0xFFFF),)
    elif isinstance(encoding, pikepdf.Stream):
        codespace, to_cid = _parse_cmap(encoding)
    else:
        raise PdfError("a composite font has no encoding; cannot redact it")
    default = _num(cid_font.get("/DW"), 1000.0) / 1000
    by_cid = _cid_widths(cid_font.get("/W"))
    widths = by_cid if to_cid is None else {
        code: by_cid[cid] for code, cid in to_cid.items() if cid in by_cid}
    if to_cid is not None:  # codes outside the map are CID 0
        default = by_cid.get(0, default)
    ascent, descent = _vertical(cid_font)
    return Font(widths, default, ascent, descent, codespace, to_cid)


def _cid_widths(w: object) -> dict[int, float]:
    out: dict[int, float] = {}
    if not isinstance(w, pikepdf.Array):
        return out
    items = list(w)
    i = 0
    while i < len(items):
        first = int(_num(items[i]))
        nxt = items[i + 1] if i + 1 < len(items) else None
        if isinstance(nxt, pikepdf.Array):
            for k, each in enumerate(nxt):
                out[first + k] = _num(each) / 1000
            i += 2
        else:
            last = int(_num(nxt))
            width = _num(items[i + 2]) / 1000 if i + 2 < len(items) else 0.0
            if last - first > 65535:
                raise PdfError("a font's width table is absurd; cannot redact it")
            for cid in range(first, last + 1):
                out[cid] = width
            i += 3
    return out


_HEX = rb"<([0-9A-Fa-f]+)>"
_CODESPACE = re.compile(rb"begincodespacerange(.*?)endcodespacerange", re.S)
_CIDRANGE = re.compile(rb"begincidrange(.*?)endcidrange", re.S)
_CIDCHAR = re.compile(rb"begincidchar(.*?)endcidchar", re.S)


def _parse_cmap(stream: pikepdf.Stream) -> tuple[tuple[tuple[int, int, int], ...],
                                                 dict[int, int] | None]:
    """Codespace ranges and code -> CID of an embedded CMap (None: identity)."""
    if int(_num(stream.get("/WMode"))) == 1:
        raise PdfError("vertical text is not supported; cannot redact it")
    use = stream.get("/UseCMap")
    if use is not None and str(use) != "/Identity-H":
        raise PdfError("a font's CMap builds on one Veil does not read; cannot redact it")
    data = stream.read_bytes()
    ranges = []
    for block in _CODESPACE.findall(data):
        hexes = re.findall(_HEX, block)
        for lo, hi in zip(hexes[::2], hexes[1::2], strict=False):
            ranges.append((len(lo) // 2, int(lo, 16), int(hi, 16)))
    if not ranges:
        ranges = [(2, 0, 0xFFFF)]
    mapping: dict[int, int] = {}
    for block in _CIDRANGE.findall(data):
        for lo, hi, cid in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(\d+)", block):
            low, high = int(lo, 16), int(hi, 16)
            if high - low > 65535:
                raise PdfError("a font's CMap is absurd; cannot redact it")
            for k in range(high - low + 1):
                mapping[low + k] = int(cid) + k
    for block in _CIDCHAR.findall(data):
        for code, cid in re.findall(rb"<([0-9A-Fa-f]+)>\s*(\d+)", block):
            mapping[int(code, 16)] = int(cid)
    ranges.sort(key=lambda r: r[0])
    return tuple(ranges), mapping or None
