"""Still images, multi-page TIFFs and animated GIF/WebP: every page or frame protected,
the count, order, timing and loop of the frames kept, metadata dropped."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from veil.images import Frames, Picture, encode_frames, read_frames, write_atomic
from veil.report import Report
from veil.timing import add_times, stage, stages

if TYPE_CHECKING:
    from veil.pipeline import Redactor


class ImageHandler:
    """Reads all frames, protects each with the Redactor, writes them back as one file."""

    def redact_file(self, redactor: Redactor, src: Path, dst: Path,
                    session: str | None) -> Report:
        start = time.perf_counter()
        with stages() as times:  # each frame's redact() keeps to the per-image budget
            with stage("decode"):
                frames = read_frames(src, redactor.policy.limits)
            done = [redactor.redact(picture, session) for picture in frames.pictures]
            with stage("encode"):
                data = encode_frames(replace(frames, pictures=tuple(p for p, _ in done)),
                                     redactor.policy.jpeg_quality)
            write_atomic(dst, data)
        return _merged([r for _, r in done], frames, start, times)

    def scan_file(self, redactor: Redactor, src: Path) -> Report:
        start = time.perf_counter()
        with stages() as times:
            with stage("decode"):
                frames = read_frames(src, redactor.policy.limits)
            reports = [redactor.scan_report(picture) for picture in frames.pictures]
        return _merged(reports, frames, start, times)


def _merged(reports: list[Report], frames: Frames, start: float,
            times: dict[str, float]) -> Report:
    """One report for the file: a single picture's report, or every frame's regions
    marked with their frame."""
    for report in reports:
        add_times(times, report.stages)
    first: Picture = frames.pictures[0]
    width, height = first.size
    ms = (time.perf_counter() - start) * 1000
    if len(reports) == 1:
        return replace(reports[0], ms=ms, stages=times)
    actions = tuple(replace(a, page=i) for i, r in enumerate(reports) for a in r.actions)
    metadata = tuple(dict.fromkeys(m for r in reports for m in r.metadata_removed))
    return Report(width, height, actions, metadata, ms, stages=times, pages=len(reports))


HANDLER = ImageHandler()
