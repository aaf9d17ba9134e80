"""Videos as a file kind: MP4, MOV, MKV, WebM and AVI through ``veil.video``."""

from __future__ import annotations

import sys
import weakref
from pathlib import Path

from veil.pipeline import Redactor
from veil.report import Report
from veil.video import Progress, VideoRedactor
from veil.video.pipeline import ProgressCallback

__all__ = ["HANDLER", "VideoHandler"]


def _printer(src: Path) -> ProgressCallback | None:
    """Progress on stderr for interactive runs: frames, frames per second, time left."""
    if not sys.stderr.isatty():
        return None

    def show(progress: Progress) -> None:
        total = f"/{progress.total}" if progress.total else ""
        left = progress.seconds_left
        eta = f", {left:.0f} s left" if left is not None else ""
        end = "\n" if progress.total and progress.done >= progress.total else ""
        sys.stderr.write(f"\r{src.name}: {progress.done}{total} frames, "
                         f"{progress.fps:.1f} fps{eta}   {end}")
        sys.stderr.flush()

    return show


class VideoHandler:
    """Redacts and scans videos; one ``VideoRedactor`` per ``Redactor`` (models once)."""

    def __init__(self) -> None:
        self._videos: weakref.WeakKeyDictionary[Redactor, VideoRedactor] = (
            weakref.WeakKeyDictionary())

    def _video(self, redactor: Redactor) -> VideoRedactor:
        video = self._videos.get(redactor)
        if video is None:
            video = self._videos[redactor] = VideoRedactor(redactor=redactor)
        return video

    def redact_file(self, redactor: Redactor, src: Path, dst: Path,
                    session: str | None) -> Report:
        return self._video(redactor).redact_file(src, dst, session,
                                                 progress=_printer(src))

    def scan_file(self, redactor: Redactor, src: Path) -> Report:
        return self._video(redactor).scan_file(src, progress=_printer(src))


HANDLER = VideoHandler()
