"""PDF documents: text removed from the text layer, pictures and scanned pages protected
like images, the document's metadata, annotations, forms, attachments, scripts and hidden
layers dropped (``veil.pdf``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from veil.pdf import redact
from veil.report import Report

if TYPE_CHECKING:
    from veil.pipeline import Redactor


class PdfHandler:
    """Redacts a PDF page by page and writes a new PDF; nothing is written on error."""

    def redact_file(self, redactor: Redactor, src: Path, dst: Path,
                    session: str | None) -> Report:
        return redact.redact_file(redactor, src, dst, session)

    def scan_file(self, redactor: Redactor, src: Path) -> Report:
        return redact.scan_file(redactor, src)


HANDLER = PdfHandler()
