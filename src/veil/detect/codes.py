"""Barcodes and QR codes, found and decoded with zxing-cpp (Apache-2.0).

zxing only reports codes it can decode: a code too small, blurred, damaged or skewed to
be read is not found, so this detector cannot hide it. The decoded content sets the
score: personal content (contacts, credentials, tickets, IDs, payments, tokens in URLs,
anything :class:`TextDetector` flags) scores 1.0, the rest 0.25, so the default
threshold hides only personal codes and a threshold of 0 hides every code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2
import numpy as np
import zxingcpp

from veil.regions import Region, clip_box
from veil.text import TextDetector
from veil.text import patterns as tp
from veil.timing import stage

SOURCE = f"zxing@{version('zxing-cpp')}"
DEFAULT_THRESHOLD = 0.5
PERSONAL_SCORE = 1.0
OTHER_SCORE = 0.25
DEFAULT_MARGIN = 0.1
MIN_MARGIN = 4
ZXING_MAX_SIDE = 65_535
"""The reader refuses larger sides; such pictures are read shrunk to fit."""
TURNED_PIXELS = 8_000_000
"""Area at which the turned views (slanted linear barcodes) are read, at most."""
# Findings of TextDetector that do not make content personal by themselves.
NOT_PERSONAL = frozenset({"URL", "DATE_TIME"})

_F = zxingcpp.BarcodeFormat
_Back = Callable[[np.ndarray], np.ndarray]
_Formats = zxingcpp.BarcodeFormats
_EVERY = zxingcpp.BarcodeFormats(_F.AllReadable)
_LINEAR_FORMATS = zxingcpp.BarcodeFormats(_F.AllLinear)
_LINEAR = frozenset(zxingcpp.barcode_formats_list(_LINEAR_FORMATS))
# Content that cannot be read as text, structured messages (ISO 15434, as on shipping
# labels) and MaxiCode (UPS labels with addresses) count as personal.
_OPAQUE_CONTENT = frozenset({zxingcpp.ContentType.Binary, zxingcpp.ContentType.ISO15434})
_PRODUCT = frozenset({_F.EANUPC, _F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE, _F.ISBN, _F.EAN2,
                      _F.EAN5})
# zxing reads linear codes up to about 20 degrees off axis; passes on copies turned by
# 30 and 60 degrees (plus its own 90 degree turn) cover every angle.
_LINEAR_TURNS = (30.0, 60.0)
_BAR_CORRELATION = 0.5
_MIN_BAR_RATIO = 0.15
# zxing reads PDF417 only up to about 10 degrees off axis but may then report a corner
# off by that slant: the box takes in that much more across the rows.
_STACKED = frozenset({_F.PDF417, _F.CompactPDF417, _F.MicroPDF417})
_STACKED_SLANT = 0.18

_PREFIX = re.compile(
    r"\s*(?:BEGIN:VCARD|MECARD:|BIZCARD:|MATMSG:|MAILTO:|TEL:|SMS:|SMSTO:|MMS:|MMSTO:"
    r"|FACETIME(?:-AUDIO)?:|WIFI:|OTPAUTH(?:-MIGRATION)?:|HC1:|SHC:/|BITCOIN:|ETHEREUM:"
    r"|LIGHTNING:)",
    re.IGNORECASE,
)
# EPC payment, Swiss QR bill, Czech SPD, IATA boarding pass, AAMVA licence, UIC ticket.
_HEADER = re.compile(
    r"\ufeff?(?:BCD\r?\n|SPC\r?\n|SPD\*|M[1-4][^\n]{20}[E ]|@\s*\n|\W{0,4}(?:ANSI |AAMVA)\d{6}"
    r"|#UT)"
)
_URL = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^\s<>\"']+|\bwww\.[^\s<>\"']+", re.IGNORECASE)
_KEY_PARTS = (
    "token", "auth", "sess", "secret", "passw", "pwd", "mail", "user", "login", "account",
    "phone", "mobile", "name", "ticket", "nonce", "jwt", "access", "refresh", "signature",
    "customer", "member", "patient", "invoice", "birth", "address", "apikey",
)
_KEY_WORDS = frozenset({
    "key", "sid", "uid", "tel", "otp", "pin", "dob", "ssn", "sig", "code", "hash", "order",
})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_OPAQUE = re.compile(r"[A-Za-z0-9_\-.~+/=]{16,}")


def structural_personal(text: str) -> bool:
    """Whether ``text`` is personal by its form alone: contact cards, messages, Wi-Fi
    credentials, payment slips, boarding passes, licences, tickets, e-mail addresses,
    URLs with secrets."""
    if _PREFIX.match(text) or _HEADER.match(text) or tp.EMAIL.search(text):
        return True
    return any(_url_personal(m.group()) for m in _URL.finditer(text))


def url_values(text: str) -> list[str]:
    """The decoded query and fragment values of the URLs in ``text``."""
    values: list[str] = []
    for m in _URL.finditer(text):
        parts = urlsplit(m.group() if "://" in m.group() else "http://" + m.group())
        for query in (parts.query, parts.fragment):
            values.extend(v for _, v in parse_qsl(query, keep_blank_values=True) if v)
    return values


def _url_personal(url: str) -> bool:
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError:
        return True  # a URL too malformed to read is not shown to be harmless
    if parts.username or parts.password:
        return True
    if any(_random(unquote(seg)) and len(seg) >= 24 for seg in parts.path.split("/")):
        return True
    for query in (parts.query, parts.fragment):
        for key, value in parse_qsl(query, keep_blank_values=True):
            k = key.lower()
            words = set(re.split(r"[^a-z0-9]+", k))
            if value and (any(p in k for p in _KEY_PARTS) or words & _KEY_WORDS):
                return True
            if _EMAIL.search(value) or _random(value):
                return True
    return False


def _random(value: str) -> bool:
    """Looks like a token: long, letters and digits, mixed case or hexadecimal."""
    if not _OPAQUE.fullmatch(value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value)
    return mixed or bool(re.fullmatch(r"[0-9a-fA-F\-]+", value))


@dataclass
class _Found:
    box: tuple[float, float, float, float]
    text: str
    format: zxingcpp.BarcodeFormat
    opaque: bool


class CodeDetector:
    """Finds barcodes and QR codes; yields Regions of kind ``code`` holding the decoded
    content in ``text``, scored 1.0 if personal and 0.25 otherwise.

    Only decodable codes are found (zxing reports nothing else). Boxes cover the code
    grown by ``margin`` of its longest side (at least ``MIN_MARGIN`` px), which takes in
    the printed digits of linear codes. A second pass on a copy ``upscale`` x larger
    and sharpened finds small codes, unless it would exceed ``max_upscaled_pixels``;
    linear codes at any angle are read on copies turned by 30 and 60 degrees.
    Binary content, ISO 15434 messages and MaxiCode count as personal; EAN/UPC product
    numbers never do; other content is personal by its form (see
    ``structural_personal``) or if ``text_detector`` (default: TextDetector()) finds
    personal data in it. zxing errors propagate.
    """

    name = "codes"
    kinds: tuple[str, ...] = ("code",)

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        upscale: float = 1.5,
        max_upscaled_pixels: int = 4_000_000,
        text_detector: TextDetector | None = None,
    ) -> None:
        self.threshold = threshold
        self.margin = margin
        self.upscale = upscale
        self.max_upscaled_pixels = max_upscaled_pixels
        self.text_detector = text_detector or TextDetector()

    def detect(self, image: np.ndarray) -> list[Region]:
        with stage("codes"):
            return self._detect(image)

    def _detect(self, image: np.ndarray) -> list[Region]:
        gray = _gray(image)
        h, w = gray.shape
        if h == 0 or w == 0:
            return []
        found: list[_Found] = []
        for view, back, formats, invert in self._views(gray):
            for code in zxingcpp.read_barcodes(view, formats, try_invert=invert,
                                               text_mode=zxingcpp.TextMode.Plain):
                quad = back(_quad(code.position))
                if code.format in _LINEAR:
                    quad = np.vstack([quad, _follow_bars(gray, quad)])
                elif code.format in _STACKED:
                    quad = _stacked(quad)
                _merge(found, _Found(_grow(quad, self.margin), code.text, code.format,
                                     code.content_type in _OPAQUE_CONTENT
                                     or code.format == _F.MaxiCode))
        regions = []
        verdicts: dict[tuple[bool, str], float] = {}
        for f in found:
            key = (f.format in _PRODUCT, f.text)
            if f.opaque:
                score = PERSONAL_SCORE
            elif key in verdicts:
                score = verdicts[key]
            else:
                score = verdicts[key] = self._score(f.text, f.format in _PRODUCT)
            box = clip_box(f.box, w, h)
            if box is not None and score >= self.threshold:
                regions.append(Region(box, "code", score, SOURCE, text=f.text))
        return regions

    def personal(self, text: str) -> bool:
        """Whether decoded content ``text`` holds personal data."""
        if structural_personal(text):
            return True
        if not text.strip():
            return False
        scan = "\n".join([text, *url_values(text)])
        return any(s.entity not in NOT_PERSONAL for s in self.text_detector.scan(scan))

    def _score(self, text: str, product: bool) -> float:
        if product:  # a GTIN names a product, never a person
            return OTHER_SCORE
        return PERSONAL_SCORE if self.personal(text) else OTHER_SCORE

    def _views(self, gray: np.ndarray) -> Iterator[tuple[np.ndarray, _Back, _Formats, bool]]:
        """Images to read, each with the map of its points back to ``gray``, the formats
        to look for and whether to try light-on-dark codes too."""
        h, w = gray.shape
        if max(h, w) > ZXING_MAX_SIDE:  # the reader's own limit: fit the picture into it
            fit = ZXING_MAX_SIDE / max(h, w)
            small = cv2.resize(gray, (max(1, int(w * fit)), max(1, int(h * fit))),
                               interpolation=cv2.INTER_AREA)
            yield small, _scaled(1 / fit), _EVERY, True
            return
        yield gray, _same, _EVERY, True
        scale = min(self.upscale, (self.max_upscaled_pixels / (w * h)) ** 0.5)
        if scale >= 1 and self.upscale > 1:
            big = gray if scale == 1 else cv2.resize(gray, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_CUBIC)
            blur = cv2.GaussianBlur(big, (0, 0), scale)
            sharp = cv2.addWeighted(big, 2.5, blur, -1.5, 0)
            yield sharp, _scaled(1 / scale), _EVERY, False
        shrink = min(1.0, (TURNED_PIXELS / (w * h)) ** 0.5)
        base = gray if shrink == 1 else cv2.resize(
            gray, (max(1, round(w * shrink)), max(1, round(h * shrink))),
            interpolation=cv2.INTER_AREA)
        for angle in _LINEAR_TURNS:
            turned, back = _turn(base, angle)
            yield turned, _then(back, 1 / shrink), _LINEAR_FORMATS, True


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    code = cv2.COLOR_RGBA2GRAY if image.shape[2] == 4 else cv2.COLOR_RGB2GRAY
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(image), code))


def _same(points: np.ndarray) -> np.ndarray:
    return points


def _scaled(factor: float) -> _Back:
    return lambda points: points * factor


def _then(back: _Back, factor: float) -> _Back:
    return lambda points: back(points) * factor


def _turn(gray: np.ndarray, angle: float) -> tuple[np.ndarray, _Back]:
    """``gray`` turned by ``angle`` degrees on a canvas that holds all of it."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos) + 1, int(h * cos + w * sin) + 1
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    turned = cv2.warpAffine(gray, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=255)
    inverse = cv2.invertAffineTransform(m)
    return turned, lambda p: p @ inverse[:, :2].T + inverse[:, 2]


def _quad(position: zxingcpp.Position) -> np.ndarray:
    """Corners top-left, top-right, bottom-right, bottom-left as a 4x2 float array."""
    corners = (position.top_left, position.top_right, position.bottom_right,
               position.bottom_left)
    return np.array([(p.x, p.y) for p in corners], np.float64)


def _follow_bars(gray: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The rectangle of a linear code's bars. zxing's quad spans only the rows it read,
    maybe slanted across the bars; rows across the bars are added while they repeat
    the bar pattern of the quad's middle."""
    p0, p1, _, p3 = quad
    length = float(np.hypot(*(p1 - p0)))
    if length < 8:
        return quad
    u = (p1 - p0) / length
    n = np.array([-u[1], u[0]])
    bars = p3 - p0 if abs(float((p3 - p0) @ n)) >= 8 else _bar_direction(gray, quad, length)
    size = float(np.hypot(*bars))
    if size == 0 or abs(float(bars @ n)) < 0.7 * size:  # bars must cross the reading line
        bars = n
    bars = bars / float(np.hypot(*bars)) * np.sign(float(bars @ n) or 1.0)
    across = np.array([bars[1], -bars[0]]) * np.sign(float(np.array([bars[1], -bars[0]]) @ u))
    centre = quad.mean(axis=0)
    a = (quad - centre) @ across
    t = (quad - centre) @ bars
    half = max(1.0, 0.25 * float(t.max() - t.min()))
    reach = length  # bars are rarely longer than the code is wide
    v = np.arange(np.floor(t.min() - reach), np.ceil(t.max() + reach) + 1)
    s = np.linspace(float(a.min()), float(a.max()), min(int(a.max() - a.min()) + 2, 1024))
    xs = (centre[0] + s[None, :] * across[0] + v[:, None] * bars[0]).astype(np.float32)
    ys = (centre[1] + s[None, :] * across[1] + v[:, None] * bars[1]).astype(np.float32)
    rows = np.asarray(cv2.remap(gray.astype(np.float32), xs, ys, cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0), np.float32)
    inside = (xs >= 0) & (ys >= 0) & (xs <= gray.shape[1] - 1) & (ys <= gray.shape[0] - 1)
    rows = rows - rows.mean(axis=1, keepdims=True)
    rows = rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-6)
    middle = np.abs(v) <= half
    ref = rows[middle].mean(axis=0)
    ref = ref / (np.linalg.norm(ref) + 1e-6)
    corr = np.convolve(rows @ ref, np.ones(3) / 3, mode="same")
    ok = ((corr >= _BAR_CORRELATION) & inside.all(axis=1)) | middle
    first, last = np.flatnonzero(middle)[[0, -1]]
    while first > 0 and ok[first - 1]:
        first -= 1
    while last < len(v) - 1 and ok[last + 1]:
        last += 1
    top, bottom = float(v[first]), float(v[last]) + 1
    short = _MIN_BAR_RATIO * float(a.max() - a.min()) - (bottom - top)
    if short > 0:
        top, bottom = top - short / 2, bottom + short / 2
    left, right = centre + a.min() * across, centre + a.max() * across
    return np.array([left + top * bars, right + top * bars, right + bottom * bars,
                     left + bottom * bars])


def _stacked(quad: np.ndarray) -> np.ndarray:
    """A PDF417 quad; if not a rectangle, with copies shifted across its rows by the slant
    zxing may have missed."""
    p0, p1, p2, p3 = quad
    length = float(np.hypot(*(p1 - p0)))
    left, right = float(np.hypot(*(p3 - p0))), float(np.hypot(*(p2 - p1)))
    top, bottom = p1 - p0, p2 - p3
    skew = abs(float(top[0] * bottom[1] - top[1] * bottom[0])) / (length * np.hypot(*bottom) + 1e-9)
    if length == 0 or (abs(left - right) <= 0.1 * max(left, right) and skew < 0.03):
        return quad  # a true rectangle: zxing found the corners
    shift = np.array([p0[1] - p1[1], p1[0] - p0[0]]) / length * _STACKED_SLANT * length
    return np.vstack([quad, quad + shift, quad - shift])


def _bar_direction(gray: np.ndarray, quad: np.ndarray, length: float) -> np.ndarray:
    """Direction of the bars around a thin quad, across the dominant image gradient."""
    pad = 0.1 * length
    x1, y1 = np.maximum(quad.min(axis=0) - pad, 0).astype(int)
    x2, y2 = (quad.max(axis=0) + pad + 1).astype(int)
    crop = gray[y1:y2, x1:x2].astype(np.float32)
    if min(crop.shape) < 3:
        return np.array([0.0, 0.0])
    gx = cv2.Sobel(crop, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(crop, cv2.CV_32F, 0, 1)
    angle = 0.5 * np.arctan2(2 * float((gx * gy).sum()), float((gx * gx - gy * gy).sum()))
    return np.array([-np.sin(angle), np.cos(angle)])


def _grow(quads: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """The bounding box (exclusive ends) of quads stacked in rows of four corners,
    grown by ``margin`` of their longest side."""
    corners = quads.reshape(-1, 4, 2)
    sides = np.hypot(*(np.roll(corners, -1, axis=1) - corners).reshape(-1, 2).T)
    pad = max(MIN_MARGIN, margin * float(sides.max()))
    x1, y1 = quads.min(axis=0)
    x2, y2 = quads.max(axis=0) + 1
    return (float(x1) - pad, float(y1) - pad, float(x2) + pad, float(y2) + pad)


def _merge(found: list[_Found], new: _Found) -> None:
    """Add ``new``, or join it to an overlapping reading of the same code (or of part of
    it: ITF read along a diagonal gives a few of its digits)."""
    for f in found:
        same = new.text in f.text or f.text in new.text
        if same and f.format == new.format and _overlap(f.box, new.box):
            f.text = max(f.text, new.text, key=len)
            f.box = (min(f.box[0], new.box[0]), min(f.box[1], new.box[1]),
                     max(f.box[2], new.box[2]), max(f.box[3], new.box[3]))
            f.opaque = f.opaque or new.opaque
            return
    found.append(new)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
