"""A PDF in -> personal data found on every page -> removed for real -> a PDF out.

Per page: where the page has a text layer, its words come from the layer (exact boxes, no
OCR) and go through the same text detector as OCR'd text; the pictures drawn on it are
rendered and go through the image pipeline (faces, text read by OCR, plates, codes).
A page without a text layer is rendered whole and goes through the image pipeline. Then
the glyphs under each region leave the content stream, the pixels of the images under it
are overwritten, and the parts of the document beside the pages are removed
(``veil.pdf.clean``). The output is read back with pdfium: a page whose text layer still
holds a character inside a region fails the whole file (fail closed: nothing written).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from veil.anonymize import Fill
from veil.detect.image_text import ImageTextDetector
from veil.errors import InputError, VeilError
from veil.images import Picture, read_bounded, write_atomic
from veil.pdf import layer
from veil.pdf.clean import clean
from veil.pdf.content import Editor, apply, invert, mul
from veil.pdf.fonts import PdfError
from veil.pdf.pictures import overwrite, rectangles
from veil.regions import Region
from veil.report import Action, Report
from veil.timing import StageTimes, stage, stages

if TYPE_CHECKING:
    from veil.pipeline import Redactor

DPI = 150
"""Pages are rendered at this resolution for the image pipeline (OCR and faces)."""
SCALE = DPI / 72
MIN_PICTURE = 32
"""Pictures smaller than this many pixels (at ``DPI``) on either side are not scanned:
too small to hold a readable face or line of text."""
TEXT_OPERATOR = "remove"
"""What the report names the operator on text-layer findings: their glyphs are removed."""
TEXT_SOURCE = "pdf-text-layer"


@dataclass(frozen=True, slots=True)
class PageFinding:
    """The regions to hide on one page: groups of regions, each in the pixels of a frame
    (the rendered page, or the page turned so that some of its text runs left to right)."""

    view: layer.PageView
    groups: tuple[tuple[layer.PageView, tuple[Region, ...]], ...]

    @property
    def empty(self) -> bool:
        return not any(regions for _, regions in self.groups)

    def inside(self, x: float, y: float) -> bool:
        """Whether a point of user space lies in a region."""
        for frame, regions in self.groups:
            fx, fy = apply(frame.to_device, x, y)
            if inside(regions, fx, fy):
                return True
        return False


def open_pdf(data: bytes) -> pikepdf.Pdf:
    """Open PDF bytes with pikepdf, refusing damaged and password-protected files."""
    try:
        return pikepdf.open(io.BytesIO(data), attempt_recovery=False)
    except pikepdf.PasswordError:
        raise InputError("the PDF is encrypted with a password; decrypt it first") from None
    except (pikepdf.PdfError, ValueError, OSError) as exc:
        raise InputError(f"not a PDF, or a damaged or truncated one ({type(exc).__name__})"
                         ) from None


def redact_pdf(redactor: Redactor, data: bytes, session: str | None = None
               ) -> tuple[bytes, Report]:
    """Redact PDF bytes; the new file's bytes and the report. Raises VeilError."""
    start = time.perf_counter()
    times: StageTimes = {}
    with open_pdf(data) as pdf:
        try:
            removed, findings = _clean_and_find(redactor, pdf, times)
            with stage_into(times, "hide"):
                for page, finding in zip(pdf.pages, findings, strict=True):
                    _redact_page(redactor, pdf, page, finding)
                pdf.remove_unreferenced_resources()
            with stage_into(times, "encode"):
                buf = io.BytesIO()
                pdf.save(buf, preserve_pdfa=False, fix_metadata_version=False,
                         compress_streams=True,
                         object_stream_mode=pikepdf.ObjectStreamMode.generate)
        except VeilError:
            raise
        except Exception as exc:  # pikepdf / qpdf: a part of the file Veil cannot rewrite
            raise PdfError(f"the PDF cannot be redacted ({type(exc).__name__})") from None
    out = buf.getvalue()
    with stage_into(times, "verify"):
        verify(out, findings)
    return out, _report(redactor, findings, removed, start, times)


def scan_pdf(redactor: Redactor, data: bytes) -> Report:
    """What ``redact_pdf`` would hide and remove, without writing anything."""
    start = time.perf_counter()
    times: StageTimes = {}
    with open_pdf(data) as pdf:
        try:
            removed, findings = _clean_and_find(redactor, pdf, times)
        except VeilError:
            raise
        except Exception as exc:
            raise PdfError(f"the PDF cannot be read ({type(exc).__name__})") from None
    return _report(redactor, findings, removed, start, times)


def redact_file(redactor: Redactor, src: Path, dst: Path, session: str | None = None
                ) -> Report:
    """Read ``src``, redact it, write ``dst`` atomically. Nothing is written on error."""
    data = read_bounded(src, redactor.policy.limits)
    out, report = redact_pdf(redactor, data, session)
    write_atomic(dst, out)
    return report


def scan_file(redactor: Redactor, src: Path) -> Report:
    return scan_pdf(redactor, read_bounded(src, redactor.policy.limits))


# -- finding ------------------------------------------------------------------------------

class stage_into:  # noqa: N801 - used like the context manager it is
    """``stage(name)`` recorded into ``times`` (a document's record across its pages)."""

    def __init__(self, times: StageTimes, name: str) -> None:
        self._times, self._name = times, name

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        ms = (time.perf_counter() - self._start) * 1000
        self._times[self._name] = self._times.get(self._name, 0.0) + ms


def _clean_and_find(redactor: Redactor, pdf: pikepdf.Pdf, times: StageTimes
                    ) -> tuple[list[str], list[PageFinding]]:
    with stage_into(times, "decode"):
        removed = clean(pdf)
        buf = io.BytesIO()
        pdf.save(buf, preserve_pdfa=False, fix_metadata_version=False)
        document = pdfium.PdfDocument(buf.getvalue())
    findings = []
    try:
        if len(document) != len(pdf.pages):
            raise PdfError("the PDF's page tree reads differently in two readers; refused")
        for index in range(len(document)):
            with stages(redactor.policy.limits.image_seconds) as page_times:
                findings.append(_find(redactor, document, index))
            for name, ms in page_times.items():
                times[name] = times.get(name, 0.0) + ms
    finally:
        document.close()
    return removed, findings


def _find(redactor: Redactor, document: pdfium.PdfDocument, index: int) -> PageFinding:
    page = document[index]
    try:
        view = layer.view_of(page, index, SCALE)
        with stage("text-layer"):
            textpage = page.get_textpage()
            try:
                groups_of_lines = layer.text_lines(textpage, view)
            finally:
                textpage.close()
        groups: list[tuple[layer.PageView, tuple[Region, ...]]] = []
        detector = _text_detector(redactor)
        if groups_of_lines and detector is not None:
            with stage("text"):
                for frame, lines in groups_of_lines:
                    blank = np.broadcast_to(np.zeros(3, np.uint8),
                                            (frame.height, frame.width, 3))
                    groups.append((frame, tuple(
                        replace(r, source=TEXT_SOURCE)
                        for r in detector.text_regions(blank, lines) if redactor.wanted(r))))
        regions: list[Region] = []
        if groups_of_lines:
            boxes = layer.picture_boxes(page, view, MIN_PICTURE)
            if boxes:
                with stage("render"):
                    pixels = layer.render(page, view)
                for x1, y1, x2, y2 in _merge(boxes):
                    crop = np.ascontiguousarray(pixels[y1:y2, x1:x2])
                    found = redactor.scan(Picture(crop, "RGB", "PNG"))
                    regions += [_shift(r, x1, y1) for r in found]
        elif pdfium_c.FPDFPage_CountObjects(page.raw) > 0:  # a blank page shows nothing
            with stage("render"):
                pixels = layer.render(page, view)
            regions += redactor.scan(Picture(pixels, "RGB", "PNG"))
        groups.append((view, tuple(regions)))
        return PageFinding(view, tuple(groups))
    finally:
        page.close()


def _text_detector(redactor: Redactor) -> ImageTextDetector | None:
    for detector in redactor.detectors:
        if isinstance(detector, ImageTextDetector):
            return detector
    return None


def _merge(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Overlapping picture boxes as one (tiles of one picture, a picture over another)."""
    out: list[tuple[int, int, int, int]] = []
    for box in sorted(boxes):
        for i, other in enumerate(out):
            if box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and \
                    other[1] < box[3]:
                out[i] = (min(box[0], other[0]), min(box[1], other[1]),
                          max(box[2], other[2]), max(box[3], other[3]))
                break
        else:
            out.append(box)
    return out


def _shift(region: Region, dx: int, dy: int) -> Region:
    x1, y1, x2, y2 = region.box
    return Region((x1 + dx, y1 + dy, x2 + dx, y2 + dy), region.kind, region.score,
                  region.source, region.mask, region.text)


def inside(regions: tuple[Region, ...] | list[Region], x: float, y: float) -> bool:
    """Whether a device point lies in one of the regions (their masks honoured)."""
    for region in regions:
        x1, y1, x2, y2 = region.box
        if x1 <= x < x2 and y1 <= y < y2 and (
                region.mask is None or region.mask[int(y) - y1, int(x) - x1]):
            return True
    return False


# -- redacting -----------------------------------------------------------------------------

def _redact_page(redactor: Redactor, pdf: pikepdf.Pdf, page: pikepdf.Page,
                 finding: PageFinding) -> None:
    if finding.empty:
        return
    editor = Editor(pdf, finding.inside)
    edited = editor.edit_page(page)
    overwrite(editor.edits.placements, [(f.to_device, r) for f, r in finding.groups],
              redactor.policy.operator_for)
    if edited is None:
        page.contents_coalesce()
        edited = page.obj.Contents.read_bytes()
    page.obj.Contents = pdf.make_stream(b"q\n" + edited + b"\nQ\n" + _boxes(redactor, finding))


def _boxes(redactor: Redactor, finding: PageFinding) -> bytes:
    """Filled rectangles over the regions whose operator is ``fill``: where text was
    removed, the page shows that something was."""
    out = []
    for frame, regions in finding.groups:
        to_user = invert(frame.to_device)
        for region in regions:
            operator = redactor.policy.operator_for(region.kind)
            if not isinstance(operator, Fill):
                continue
            r, g, b = (c / 255 for c in operator.color)
            out.append(f"{r:.3f} {g:.3f} {b:.3f} rg")
            for x1, y1, x2, y2 in rectangles(region):
                ax, ay = apply(to_user, x1, y1)
                bx, by = apply(to_user, x2, y2)
                out.append(f"{min(ax, bx):.3f} {min(ay, by):.3f} {abs(bx - ax):.3f} "
                           f"{abs(by - ay):.3f} re f")
    return ("q\n" + "\n".join(out) + "\nQ\n").encode() if out else b""


def verify(data: bytes, findings: list[PageFinding]) -> None:
    """Read the output with pdfium: same pages, same sizes, no character left in a
    region on any page. Raises PdfError (the file is not written)."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        raise PdfError("the redacted PDF does not open; nothing written") from None
    try:
        if len(document) != len(findings):
            raise PdfError("the redacted PDF lost pages; nothing written")
        for finding in findings:
            page = document[finding.view.index]
            try:
                view = layer.view_of(page, finding.view.index, SCALE)
                if (view.width, view.height) != (finding.view.width, finding.view.height):
                    raise PdfError("the redacted PDF changed a page's size; nothing written")
                if not finding.empty and _text_left(page, finding):
                    raise PdfError(f"page {finding.view.index + 1}: text under a region is "
                                   "still in the text layer; nothing written")
            finally:
                page.close()
    finally:
        document.close()


def _text_left(page: pdfium.PdfPage, finding: PageFinding) -> bool:
    textpage = page.get_textpage()
    try:
        for i in range(textpage.count_chars()):
            code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
            if code == 0 or chr(code).isspace():
                continue
            left, bottom, right, top = textpage.get_charbox(i)
            if right <= left or top <= bottom:
                continue
            if finding.inside((left + right) / 2, (bottom + top) / 2):
                return True
    finally:
        textpage.close()
    return False


def _report(redactor: Redactor, findings: list[PageFinding], removed: list[str],
            start: float, times: StageTimes) -> Report:
    actions = []
    for finding in findings:
        view = finding.view
        for frame, regions in finding.groups:
            to_page = mul(invert(frame.to_device), view.to_device)
            for r in regions:
                x1, y1, x2, y2 = r.box
                (ax, ay), (bx, by) = apply(to_page, x1, y1), apply(to_page, x2, y2)
                s = view.scale
                box = (int(min(ax, bx) / s), int(min(ay, by) / s),
                       max(int(min(ax, bx) / s) + 1, int(np.ceil(max(ax, bx) / s))),
                       max(int(min(ay, by) / s) + 1, int(np.ceil(max(ay, by) / s))))
                operator = TEXT_OPERATOR if r.source == TEXT_SOURCE else \
                    redactor.policy.operator_for(r.kind).name
                actions.append(Action(r.kind, box, r.score, operator, r.source, view.index))
    first = findings[0].view if findings else None
    width = round(first.width / first.scale) if first else 0
    height = round(first.height / first.scale) if first else 0
    return Report(width, height, tuple(actions), tuple(removed),
                  (time.perf_counter() - start) * 1000, stages=dict(times), pages=len(findings))
