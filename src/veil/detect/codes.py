"""Barcodes and QR codes, found and decoded with zxing-cpp (Apache-2.0).

zxing only reports codes it can decode: a code too small, blurred, damaged or skewed to
be read is not found, so this detector cannot hide it. The decoded content sets the
score: personal content (contacts, credentials, tickets, IDs, payments, tokens in URLs,
anything :class:`TextDetector` flags) scores 1.0, the rest 0.25, so the default
threshold hides only personal codes and a threshold of 0 hides every code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from urllib.parse import parse_qsl, unquote, urlsplit

import cv2
import numpy as np
import zxingcpp

from veil.detect.text_pii import TextDetector
from veil.regions import Region, clip_box

SOURCE = f"zxing@{version('zxing-cpp')}"
DEFAULT_THRESHOLD = 0.5
PERSONAL_SCORE = 1.0
OTHER_SCORE = 0.25
DEFAULT_MARGIN = 0.1
MIN_MARGIN = 4
# Findings of TextDetector that do not make content personal by themselves.
NOT_PERSONAL = frozenset({"URL", "DATE_TIME"})

_F = zxingcpp.BarcodeFormat
_PRODUCT = frozenset({_F.EANUPC, _F.EAN13, _F.EAN8, _F.UPCA, _F.UPCE, _F.ISBN, _F.EAN2,
                      _F.EAN5})
# zxing reads linear codes up to about 20 degrees off axis; passes on copies turned by
# 30 and 60 degrees (plus its own 90 degree turn) cover every angle.
_LINEAR_TURNS = (30.0, 60.0)
_BAR_CORRELATION = 0.5
_MIN_BAR_RATIO = 0.15

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
    credentials, payment slips, boarding passes, licences, tickets, URLs with secrets."""
    if _PREFIX.match(text) or _HEADER.match(text):
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
    binary: bool


class CodeDetector:
    """Finds barcodes and QR codes; yields Regions of kind ``code`` holding the decoded
    content in ``text``, scored 1.0 if personal and 0.25 otherwise.

    Only decodable codes are found (zxing reports nothing else). Boxes cover the code
    grown by ``margin`` of its longest side (at least ``MIN_MARGIN`` px), which takes in
    the printed digits of linear codes. A second pass on a copy ``upscale`` x larger
    and sharpened finds small codes, unless it would exceed ``max_upscaled_pixels``;
    linear codes at any angle are read on copies turned by 30 and 60 degrees.
    ``text_detector`` decides whether free content is personal (default: TextDetector()).
    zxing errors propagate.
    """

    name = "codes"
    kinds: tuple[str, ...] = ("code",)

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        upscale: float = 2.0,
        max_upscaled_pixels: int = 4_000_000,
        text_detector: TextDetector | None = None,
    ) -> None:
        self.threshold = threshold
        self.margin = margin
        self.upscale = upscale
        self.max_upscaled_pixels = max_upscaled_pixels
        self.text_detector = text_detector or TextDetector()

    def detect(self, image: np.ndarray) -> list[Region]:
        gray = _gray(image)
        h, w = gray.shape
        found: list[_Found] = []
        for view, back, formats in self._views(gray):
            for code in zxingcpp.read_barcodes(view, formats,
                                               text_mode=zxingcpp.TextMode.Plain):
                quad = back(_quad(code.position))
                if code.format in _LINEAR:
                    quad = _follow_bars(gray, quad)
                _merge(found, _Found(_grow(quad, self.margin), code.text, code.format,
                                     code.content_type in _OPAQUE_CONTENT
                                     or code.format == _F.MaxiCode))
        regions = []
        verdicts: dict[str, float] = {}
        for f in found:
            if f.binary:
                score = PERSONAL_SCORE
            else:
                key = f"{f.format in _PRODUCT}:{f.text}"
                if key not in verdicts:
                    verdicts[key] = self._score(f.text, f.format in _PRODUCT)
                score = verdicts[key]
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

    def _views(self, gray: np.ndarray) -> list[tuple[np.ndarray, _Back, _Formats]]:
        """Images to read, each with the map of its points back to ``gray`` and the
        formats to look for."""
        h, w = gray.shape
        views: list[tuple[np.ndarray, _Back, _Formats]] = [(gray, _same, _EVERY)]
        scale = min(self.upscale, (self.max_upscaled_pixels / (w * h)) ** 0.5)
        if scale >= 1 and self.upscale > 1:
            big = gray if scale == 1 else cv2.resize(gray, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_CUBIC)
            blur = cv2.GaussianBlur(big, (0, 0), scale)
            sharp = cv2.addWeighted(big, 2.5, blur, -1.5, 0)
            views.append((sharp, _scaled(1 / scale), _EVERY))
        for angle in _LINEAR_TURNS:
            turned, back = _turn(gray, angle)
            views.append((turned, back, _LINEAR_FORMATS))
        return views


_Back = Callable[[np.ndarray], np.ndarray]
_Formats = zxingcpp.BarcodeFormats
_EVERY = zxingcpp.BarcodeFormats(_F.AllReadable)
_LINEAR_FORMATS = zxingcpp.BarcodeFormats(_F.AllLinear)
_LINEAR = frozenset(zxingcpp.barcode_formats_list(_LINEAR_FORMATS))
_OPAQUE_CONTENT = frozenset({zxingcpp.ContentType.Binary, zxingcpp.ContentType.ISO15434})


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    code = cv2.COLOR_RGBA2GRAY if image.shape[2] == 4 else cv2.COLOR_RGB2GRAY
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(image), code))


def _same(points: np.ndarray) -> np.ndarray:
    return points


def _scaled(factor: float) -> _Back:
    return lambda points: points * factor


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
    """Extend a linear code's quad along its bars, which run past the rows zxing read:
    rows are added while they repeat the bar pattern."""
    p0, p1, _, p3 = quad
    length = float(np.hypot(*(p1 - p0)))
    if length < 8:
        return quad
    u = (p1 - p0) / length
    n = np.array([-u[1], u[0]])
    band = float((p3 - p0) @ n)
    bars = p3 - p0 if abs(band) >= 8 else _bar_direction(gray, quad, length)
    d = bars / float(bars @ n) if abs(float(bars @ n)) > 0.8 * np.hypot(*bars) else n
    lo, hi = min(0.0, band), max(0.0, band)
    reach = int(length)  # bars are rarely longer than the code is wide
    v = np.arange(np.floor(lo) - reach, np.ceil(hi) + reach + 1)
    s = np.linspace(0, length, min(int(length) + 1, 1024))
    xs = (p0[0] + s[None, :] * u[0] + v[:, None] * d[0]).astype(np.float32)
    ys = (p0[1] + s[None, :] * u[1] + v[:, None] * d[1]).astype(np.float32)
    rows = np.asarray(cv2.remap(gray.astype(np.float32), xs, ys, cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0), np.float32)
    inside = (xs >= 0) & (ys >= 0) & (xs <= gray.shape[1] - 1) & (ys <= gray.shape[0] - 1)
    rows = rows - rows.mean(axis=1, keepdims=True)
    rows = rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-6)
    in_band = (v >= np.floor(lo)) & (v <= np.ceil(hi))
    ref = rows[in_band].mean(axis=0)
    ref = ref / (np.linalg.norm(ref) + 1e-6)
    corr = rows @ ref
    corr = np.convolve(corr, np.ones(3) / 3, mode="same")
    ok = ((corr >= _BAR_CORRELATION) & inside.all(axis=1)) | in_band
    first, last = np.flatnonzero(in_band)[[0, -1]]
    while first > 0 and ok[first - 1]:
        first -= 1
    while last < len(v) - 1 and ok[last + 1]:
        last += 1
    top, bottom = float(v[first]), float(v[last])
    short = _MIN_BAR_RATIO * length - (bottom - top)
    if short > 0:
        top, bottom = top - short / 2, bottom + short / 2
    return np.array([p0 + top * d, p1 + top * d, p1 + bottom * d, p0 + bottom * d])


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


def _grow(quad: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """The quad's bounding box (exclusive ends) grown by ``margin`` of its longest side."""
    sides = np.hypot(*(np.roll(quad, -1, axis=0) - quad).T)
    pad = max(MIN_MARGIN, margin * float(sides.max()))
    x1, y1 = quad.min(axis=0)
    x2, y2 = quad.max(axis=0) + 1
    return (float(x1) - pad, float(y1) - pad, float(x2) + pad, float(y2) + pad)


def _merge(found: list[_Found], new: _Found) -> None:
    """Add ``new``, or join it to an overlapping reading of the same code."""
    for f in found:
        if f.text == new.text and f.format == new.format and _overlap(f.box, new.box):
            f.box = (min(f.box[0], new.box[0]), min(f.box[1], new.box[1]),
                     max(f.box[2], new.box[2]), max(f.box[3], new.box[3]))
            f.binary = f.binary or new.binary
            return
    found.append(new)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
