"""File kinds Veil redacts (still and multi-frame images, PDF, DICOM, video), by name.

Each kind names its suffixes, a test on the file's first bytes, and the module whose
``HANDLER`` reads, protects and writes that kind; the module is imported on first use, so
an image run never loads a PDF or video library. ``Redactor.redact_file`` and
``Redactor.scan_file`` dispatch through ``kind_for`` and ``handler_for``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, cast

from veil.errors import InputError

if TYPE_CHECKING:
    from veil.pipeline import Redactor
    from veil.report import Report

HEAD_BYTES = 512
"""How much of a file ``FileKind.sniff`` sees."""


class FileHandler(Protocol):
    """Reads one kind of file, protects it with a Redactor, writes it back atomically."""

    def redact_file(self, redactor: Redactor, src: Path, dst: Path,
                    session: str | None) -> Report:
        """Protect ``src`` into ``dst``; nothing is written when it raises."""
        ...

    def scan_file(self, redactor: Redactor, src: Path) -> Report:
        """What ``redact_file`` would hide, writing nothing."""
        ...


@dataclass(frozen=True, slots=True)
class FileKind:
    """One kind of file: how it is recognised and which module handles it."""

    name: str
    suffixes: frozenset[str]
    module: str
    sniff: Callable[[bytes], bool]


def _image_head(head: bytes) -> bool:
    return head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a",
                            b"II*\x00", b"MM\x00*", b"BM")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _pdf_head(head: bytes) -> bool:
    return b"%PDF-" in head  # readers accept a little junk before the header


def dicom_head(head: bytes) -> bool:
    """A DICOM file (PS3.10): "DICM" after the 128-byte preamble."""
    return head[128:132] == b"DICM"


def _video_head(head: bytes) -> bool:
    """ISO media / QuickTime (an ``ftyp``, ``moov`` or ``mdat`` atom first), Matroska and
    WebM (an EBML header), AVI (a RIFF ``AVI `` file)."""
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head.startswith(
        b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


KINDS: tuple[FileKind, ...] = (
    FileKind("image", frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp",
                                 ".gif", ".mpo"}), "veil.formats.image", _image_head),
    FileKind("dicom", frozenset({".dcm", ".dicom"}), "veil.formats.dicom", dicom_head),
    FileKind("pdf", frozenset({".pdf"}), "veil.formats.pdf", _pdf_head),  # after DICOM:
    # an encapsulated PDF in a DICOM file is DICOM
    FileKind("video", frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}),
             "veil.formats.video", _video_head),
)


def kind_for(path: Path) -> FileKind | None:
    """The kind of ``path`` by its suffix, else by its first bytes; None if neither fits."""
    suffix = path.suffix.lower()
    for kind in KINDS:
        if suffix in kind.suffixes:
            return kind
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    return next((kind for kind in KINDS if kind.sniff(head)), None)


def known_suffix(path: Path) -> bool:
    """Whether a folder walk takes ``path``: its suffix belongs to a kind Veil handles."""
    suffix = path.suffix.lower()
    return any(suffix in kind.suffixes for kind in KINDS)


def handled() -> str:
    """The kinds Veil handles, for messages ("image, pdf, ...")."""
    return ", ".join(kind.name for kind in KINDS)


def handler_for(kind: FileKind) -> FileHandler:
    """The handler of ``kind``, importing its module on first use."""
    return cast(FileHandler, importlib.import_module(kind.module).HANDLER)


def handler_for_path(path: Path) -> FileHandler:
    """The handler for ``path``. A file of no known kind goes to the image reader, whose
    decoder knows more formats than the suffixes listed and says clearly when it cannot."""
    kind = kind_for(path)
    if kind is None:
        if not path.exists():
            raise InputError("cannot read file: No such file or directory")
        kind = KINDS[0]
    return handler_for(kind)
