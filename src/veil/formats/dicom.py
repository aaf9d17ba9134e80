"""DICOM files: burned-in text hidden in every frame, header de-identified (PS3.15 E.1).

Pixels: each frame is shown to the detectors as 8-bit RGB (grey images through the
file's window, or the frame's own range when it has none; MONOCHROME1 inverted; YBR as
RGB), redacted by the ``Redactor`` like any image, and only the pixels inside the hidden
regions are written back, mapped to the file's own values: the output keeps the bit depth,
signedness, photometric interpretation and every pixel outside the regions. Unused high
bits (above Bits Stored), where old overlays may hide, are cleared.

Transfer syntax: native ones (implicit or explicit VR little endian, deflated) and RLE
Lossless are written as they came. Other compressed syntaxes that can be decoded here
(JPEG Baseline, JPEG Lossless, JPEG-LS, JPEG 2000, through Pillow and GDCM) and explicit
VR big endian are written decompressed as explicit VR little endian (Veil cannot re-encode
them; lossy JPEG is not compressed twice). Pixel data that cannot be decoded here (12-bit
JPEG Extended, HTJ2K, video) is refused: no output (fail closed).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filewriter import dcmwrite
from pydicom.multival import MultiValue
from pydicom.pixels.processing import convert_color_space
from pydicom.pixels.utils import pixel_array, set_pixel_data
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from veil.detect.image_text import ImageTextDetector
from veil.errors import InputError, VeilError
from veil.formats import dicom_head
from veil.formats.dicom_header import Deidentifier, HeaderValues, identifying_values
from veil.images import Picture, read_bounded, write_atomic
from veil.pipeline import Redactor
from veil.policy import Limits
from veil.regions import Box
from veil.report import Action, Report
from veil.timing import add_times

logging.getLogger("pydicom").setLevel(logging.ERROR)  # its warnings quote values

UNDEFINED_LENGTH = 0xFFFFFFFF
MAGIC_OFFSET = 128  # the preamble, then "DICM" (veil.formats recognises files by it)
_KEPT_SYNTAXES = {ImplicitVRLittleEndian, ExplicitVRLittleEndian,
                  DeflatedExplicitVRLittleEndian, RLELossless}
_GREY = {"MONOCHROME1", "MONOCHROME2"}
_YBR = {"YBR_FULL", "YBR_FULL_422"}
_DECODED_AS_RGB = {"YBR_ICT", "YBR_RCT"}  # JPEG 2000's colour transforms
_UID_PURPOSE = "dicom uid"


@dataclass(frozen=True, slots=True)
class _Frames:
    """Decoded pixels, frames first: (F, R, C) or (F, R, C, 3), as stored in the file."""

    pixels: np.ndarray
    photometric: str
    bits_stored: int
    signed: bool


# --- reading -----------------------------------------------------------------------------

def read_dataset(data: bytes, limits: Limits) -> Dataset:
    """Parse a DICOM file fully, or raise InputError with a reason free of its values."""
    if not data:
        raise InputError("file is empty (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise InputError(f"file is {len(data)} bytes, above the limit of {limits.max_file_bytes}")
    if not dicom_head(data):
        raise InputError("not a DICOM file (no DICM marker at byte 128)")
    try:
        ds = dcmread(io.BytesIO(data))
        meta_end = MAGIC_OFFSET + 4 + 12 + int(ds.file_meta.get(
            "FileMetaInformationGroupLength", 0))
        if _cut_short(ds) or meta_end > len(data) or not len(ds):
            raise EOFError
        for elem in ds.iterall():  # touch every value: malformed ones fail here, not later
            _ = elem.value
    except InvalidDicomError:
        raise InputError("not a valid DICOM file") from None
    except (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError,
            NotImplementedError, OverflowError) as exc:
        raise InputError(f"corrupt or truncated DICOM file ({type(exc).__name__})") from None
    if "TransferSyntaxUID" not in ds.file_meta:
        raise InputError("DICOM file has no transfer syntax in its file meta information")
    return ds


def _cut_short(ds: Dataset) -> bool:
    """Whether a value holds fewer bytes than its length says: pydicom reads a file cut in
    the middle of a value without a word. (A file cut exactly between two attributes
    cannot be told from a shorter one.)"""
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        if isinstance(raw, RawDataElement):
            if raw.length != UNDEFINED_LENGTH and len(raw.value or b"") != raw.length:
                return True
        elif raw is not None and raw.VR == "SQ" and any(_cut_short(i) for i in raw.value):
            return True
    return False


def _decode(ds: Dataset, limits: Limits) -> _Frames | None:
    """The pixels of ``ds`` (None without pixel data), checked before decoding."""
    for tag in (0x7FE00008, 0x7FE00009):
        if tag in ds:
            raise InputError("float pixel data is not supported")
    if "PixelData" not in ds:
        return None
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        allocated, stored = int(ds.BitsAllocated), int(ds.BitsStored)
        signed = int(ds.PixelRepresentation) == 1
        photometric = str(ds.PhotometricInterpretation).strip()
        samples = int(ds.get("SamplesPerPixel", 1))
    except (AttributeError, TypeError, ValueError):
        raise InputError("DICOM image attributes are missing or invalid") from None
    if allocated not in (8, 16) or not 1 <= stored <= allocated:
        raise InputError(f"{allocated}-bit pixel data is not supported (8 or 16 bits)")
    syntax = ds.file_meta.TransferSyntaxUID
    native = syntax in _KEPT_SYNTAXES or not syntax.is_compressed
    readable = _GREY | _YBR | {"RGB"} | (set() if native else _DECODED_AS_RGB)
    if photometric not in readable or samples not in (1, 3):
        raise InputError(f"photometric interpretation {photometric} is not supported")
    if min(rows, cols, frames) < 1 or rows * cols * frames > limits.max_pixels:
        raise InputError(f"{frames} frame(s) of {cols}x{rows} pixels: above the pixel limit "
                         f"of {limits.max_pixels} (all frames count)")
    try:
        arr = pixel_array(ds, raw=native) if native else pixel_array(ds)
    except NotImplementedError:
        raise InputError(f"pixel data in {syntax.name} cannot be decoded here; "
                         "nothing written") from None
    except (ValueError, RuntimeError, EOFError, TypeError, AttributeError) as exc:
        if syntax.is_compressed:
            raise InputError(f"pixel data in {syntax.name} could not be decoded (corrupt, or "
                             "a variant Veil's decoders do not read); nothing written") from None
        raise InputError(f"corrupt or truncated pixel data ({type(exc).__name__})") from None
    if not native and photometric in _YBR | _DECODED_AS_RGB:
        photometric = "RGB"  # decoded to RGB by the decoder
    arr = np.array(arr, dtype=arr.dtype.newbyteorder("="), copy=True).reshape((frames, rows, cols) +
                                          ((samples,) if samples > 1 else ()))
    if not signed and stored < allocated:
        arr &= np.asarray((1 << stored) - 1, dtype=arr.dtype)  # no hidden overlay bits
    return _Frames(arr, photometric, stored, signed)


# --- one frame as the detectors see it -----------------------------------------------------

class _GreyView:
    """Stored grey values <-> 8-bit display, through the modality rescale and a window."""

    def __init__(self, ds: Dataset, frame: np.ndarray, f: _Frames) -> None:
        self.slope = float(ds.get("RescaleSlope", 1) or 1)
        self.intercept = float(ds.get("RescaleIntercept", 0) or 0)
        center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
        if center is not None and width is not None and width > 1:
            self.lo, self.hi = center - width / 2, center + width / 2
        else:
            values = frame * self.slope + self.intercept
            self.lo, self.hi = float(values.min()), float(values.max())
        if self.hi <= self.lo:
            self.hi = self.lo + 1
        self.invert = f.photometric == "MONOCHROME1"
        bits = f.bits_stored
        self.vmin, self.vmax = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if f.signed
                                else (0, (1 << bits) - 1))
        self.dtype = frame.dtype

    def forward(self, frame: np.ndarray) -> np.ndarray:
        values = frame * self.slope + self.intercept
        k = np.clip((values - self.lo) * (255.0 / (self.hi - self.lo)), 0, 255)
        grey = np.rint(255 - k if self.invert else k).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)

    def inverse(self, rgb: np.ndarray) -> np.ndarray:
        k = rgb.astype(np.float64).mean(axis=2)
        if self.invert:
            k = 255 - k
        values = self.lo + k * ((self.hi - self.lo) / 255.0)
        stored = np.rint((values - self.intercept) / self.slope)
        out: np.ndarray = np.clip(stored, self.vmin, self.vmax).astype(self.dtype)
        return out


class _ColourView:
    """Stored RGB or YBR (8 or 16 bits) <-> 8-bit RGB."""

    def __init__(self, frame: np.ndarray, f: _Frames) -> None:
        self.shift = max(0, f.bits_stored - 8)
        self.ybr = f.photometric if f.photometric in _YBR else None
        self.dtype = frame.dtype

    def forward(self, frame: np.ndarray) -> np.ndarray:
        rgb = (frame >> self.shift).astype(np.uint8)
        return convert_color_space(rgb, self.ybr, "RGB") if self.ybr else rgb

    def inverse(self, rgb: np.ndarray) -> np.ndarray:
        out = convert_color_space(rgb, "RGB", self.ybr) if self.ybr else rgb
        return np.asarray(out, dtype=self.dtype) << self.shift


_View = _GreyView | _ColourView


def _first(value: object) -> float | None:
    """The first of a window's values (a file may list several), or None."""
    if isinstance(value, MultiValue | list):
        value = value[0] if value else None
    try:
        return None if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# --- redaction -----------------------------------------------------------------------------

def _uid_key(redactor: Redactor, session: str | None) -> bytes:
    """The session's key for UID replacement (from the vault), or a fresh one per file."""
    if session is None:
        return os.urandom(32)
    from veil.pseudo.engine import default_vault

    vault = redactor.pseudonymizer.vault if redactor.pseudonymizer else default_vault()
    return vault.derived_key(session, _UID_PURPOSE)


def _frame_pictures(ds: Dataset, frames: _Frames) -> Iterator[tuple[Picture, _View]]:
    """Each frame as the detectors see it, with the view that maps it back."""
    for frame in frames.pixels:
        view: _View = (_GreyView(ds, frame, frames) if frame.ndim == 2
                       else _ColourView(frame, frames))
        yield Picture(view.forward(frame), "RGB", "PNG"), view


def _for_file(redactor: Redactor, ds: Dataset) -> Redactor:
    """The redactor with the text detector also looking for what the header names."""
    values = identifying_values(ds, redactor.policy.dicom)
    if not values:
        return redactor
    extra = [HeaderValues(values)]
    detectors = [d.with_recognizers(extra) if isinstance(d, ImageTextDetector) else d
                 for d in redactor.detectors]
    return Redactor(redactor.policy, detectors, redactor.pseudonymizer)


def _clip(box: Box, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    return max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """pydicom warns about odd values by quoting them: none of that reaches a user."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def redact_dicom(redactor: Redactor, data: bytes, session: str | None = None
                 ) -> tuple[bytes, Report]:
    """The de-identified file and its report; raises InputError or DetectorError."""
    with _quiet():
        return _redact(redactor, data, session)


def _redact(redactor: Redactor, data: bytes, session: str | None) -> tuple[bytes, Report]:
    start = time.perf_counter()
    limits = redactor.policy.limits
    ds = read_dataset(data, limits)
    frames = _decode(ds, limits)
    actions: list[Action] = []
    stages: dict[str, float] = {}
    if frames is not None:
        reader = _for_file(redactor, ds)
        for index, (picture, view) in enumerate(_frame_pictures(ds, frames)):
            out, report = reader.redact(picture, session)
            frame = frames.pixels[index]
            for action in report.actions:
                x0, y0, x1, y1 = _clip(action.box, frame.shape)
                if x1 > x0 and y1 > y0:
                    frame[y0:y1, x0:x1] = view.inverse(out.pixels[y0:y1, x0:x1])
            actions += [replace(a, page=index) for a in report.actions]
            add_times(stages, report.stages)
    deid = Deidentifier(redactor.policy.dicom, _uid_key(redactor, session),
                        clean_pixels=frames is not None and _reads_text(redactor))
    changes = deid.apply(ds)
    syntax = _output_syntax(ds.file_meta.TransferSyntaxUID)
    try:
        if frames is not None:
            _store_pixels(ds, frames, syntax)
        body = _encode(ds, syntax, deid)
    except VeilError:
        raise
    except Exception as exc:  # pydicom could not write it: nothing goes out
        raise InputError(f"cannot write the de-identified DICOM ({type(exc).__name__})"
                         ) from None
    _check_output(body, frames)
    return body, _file_report(ds, frames, actions, changes.kinds(), start, stages)


def scan_dicom(redactor: Redactor, data: bytes) -> Report:
    """What ``redact_dicom`` would hide in the pixels and take out of the header."""
    with _quiet():
        return _scan(redactor, data)


def _scan(redactor: Redactor, data: bytes) -> Report:
    start = time.perf_counter()
    limits = redactor.policy.limits
    ds = read_dataset(data, limits)
    frames = _decode(ds, limits)
    actions: list[Action] = []
    stages: dict[str, float] = {}
    if frames is not None:
        reader = _for_file(redactor, ds)
        for index, (picture, _view) in enumerate(_frame_pictures(ds, frames)):
            report = reader.scan_report(picture)
            actions += [replace(a, page=index) for a in report.actions]
            add_times(stages, report.stages)
    changes = Deidentifier(redactor.policy.dicom, os.urandom(32), clean_pixels=False).apply(ds)
    return _file_report(ds, frames, actions, changes.kinds(), start, stages)


def _reads_text(redactor: Redactor) -> bool:
    return redactor.policy.enabled("text")


def _file_report(ds: Dataset, frames: _Frames | None, actions: list[Action],
                 metadata: tuple[str, ...], start: float, stages: dict[str, float]) -> Report:
    """One report for the file; frames are numbered (``page``) when there are several."""
    count = 0 if frames is None else len(frames.pixels)
    if count <= 1:
        actions = [replace(a, page=None) for a in actions]
    return Report(int(ds.get("Columns", 0)), int(ds.get("Rows", 0)), tuple(actions),
                  metadata, (time.perf_counter() - start) * 1000, stages=stages,
                  pages=count if count > 1 else None)


# --- writing -------------------------------------------------------------------------------

def _output_syntax(syntax: UID) -> UID:
    return syntax if syntax in _KEPT_SYNTAXES else ExplicitVRLittleEndian


def _store_pixels(ds: Dataset, frames: _Frames, syntax: UID) -> None:
    arr = frames.pixels if len(frames.pixels) > 1 else frames.pixels[0]
    had_frames = "NumberOfFrames" in ds
    ds.file_meta.TransferSyntaxUID = (ExplicitVRLittleEndian if syntax == RLELossless
                                      else syntax)
    set_pixel_data(ds, arr, frames.photometric, frames.bits_stored,
                   generate_instance_uid=False)
    if had_frames and "NumberOfFrames" not in ds:
        ds.NumberOfFrames = 1
    if syntax == RLELossless:
        ds.compress(RLELossless, generate_instance_uid=False)


def _encode(ds: Dataset, syntax: UID, deid: Deidentifier) -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(str(ds.get("SOPClassUID") or ds.file_meta.get(
        "MediaStorageSOPClassUID", "1.2.840.10008.5.1.4.1.1.7")))
    old_instance = str(ds.file_meta.get("MediaStorageSOPInstanceUID") or os.urandom(16).hex())
    meta.MediaStorageSOPInstanceUID = UID(str(ds.get("SOPInstanceUID") or
                                              deid.new_uid(old_instance)))
    meta.TransferSyntaxUID = syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.preamble = b"\0" * MAGIC_OFFSET
    buf = io.BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def _check_output(body: bytes, frames: _Frames | None) -> None:
    """Read the output back; a file that does not decode as written never leaves."""
    try:
        out = dcmread(io.BytesIO(body))
        if frames is not None:
            arr = pixel_array(out, raw=True)
            if arr.size != frames.pixels.size:
                raise ValueError("pixel count changed")
    except Exception as exc:
        raise InputError(f"de-identified DICOM did not read back ({type(exc).__name__}); "
                         "nothing written") from None


# --- the file handler ----------------------------------------------------------------------

class DicomHandler:
    """``veil redact`` / ``veil scan`` for DICOM files."""

    def redact_file(self, redactor: Redactor, src: Path, dst: Path,
                    session: str | None) -> Report:
        body, report = redact_dicom(redactor, read_bounded(src, redactor.policy.limits), session)
        write_atomic(dst, body)
        return report

    def scan_file(self, redactor: Redactor, src: Path) -> Report:
        return scan_dicom(redactor, read_bounded(src, redactor.policy.limits))


HANDLER = DicomHandler()
