"""A run's summary as one self-contained HTML file: counts per kind, failures with their
reasons, the slowest files and a few after (and, if allowed, before) thumbnails.

Like the report it never holds a value; thumbnails of originals show personal data, so
they are only included when asked for (``originals=True``).
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from veil.batch import Failure
from veil.errors import InputError
from veil.formats import KINDS
from veil.images import read_image, to_display, to_rgb8, write_atomic
from veil.policy import Limits
from veil.report import Report

THUMB_SIDE = 240
THUMBS = 6
SLOWEST = 10


_PICTURE_SUFFIXES = next(kind.suffixes for kind in KINDS if kind.name == "image")


def single_picture(path: Path, report: Report) -> bool:
    """Whether an output is one still picture (shown as a thumbnail or on the review
    page); documents, videos and multi-frame images are not."""
    return report.pages is None and path.suffix.lower() in _PICTURE_SUFFIXES


@dataclass(frozen=True, slots=True)
class Done:
    """A file the run finished (now or, ``resumed``, earlier) and where its output is."""

    report: Report
    output: Path
    resumed: bool = False


def write_summary(path: Path, done: Sequence[Done], failures: Sequence[Failure],
                  seconds: float, originals: bool = False, limits: Limits | None = None) -> None:
    """Write the summary of a run to ``path`` (temporary file, then rename)."""
    write_atomic(path, render(done, failures, seconds, originals, limits or Limits()).encode())


def render(done: Sequence[Done], failures: Sequence[Failure], seconds: float,
           originals: bool, limits: Limits) -> str:
    kinds: Counter[str] = Counter()
    for item in done:
        kinds.update(item.report.counts())
    resumed = sum(item.resumed for item in done)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [_HEAD, "<h1>veil redact: run summary</h1>",
             f"<p>{now}: {len(done)} file(s) written ({resumed} of them in an earlier run, "
             f"resumed), {len(failures)} failed, {seconds:.1f} s.</p>",
             "<h2>Regions hidden, per kind</h2>", _table(
                 ("kind", "regions", "files"),
                 [(kind, str(n), str(sum(1 for d in done if kind in d.report.counts())))
                  for kind, n in sorted(kinds.items())] or [("none", "0", "0")]),
             "<h2>Failures</h2>"]
    parts.append(_table(("file", "reason"), [(f.src, f.reason) for f in failures])
                 if failures else "<p>None.</p>")
    timed = sorted((d for d in done if not d.resumed), key=lambda d: -d.report.ms)[:SLOWEST]
    parts.append("<h2>Slowest files</h2>")
    parts.append(_table(("file", "seconds", "slowest stages"), [
        (str(d.report.file), f"{d.report.ms / 1000:.2f}", ", ".join(
            f"{name} {ms / 1000:.2f}" for name, ms in sorted(
                d.report.stages.items(), key=lambda kv: -kv[1])[:3]))
        for d in timed]) if timed else "<p>No file was processed in this run.</p>")
    pictures = [d for d in done if single_picture(d.output, d.report)]
    shown = sorted(pictures, key=lambda d: -len(d.report.actions))[:THUMBS]
    parts.append("<h2>Before and after</h2>" if originals else
                 "<h2>Outputs</h2><p>Originals are left out (run with --summary-originals "
                 "to include them).</p>")
    parts.append('<div class="thumbs">')
    for item in shown:
        parts.append(_thumbs(item, originals, limits))
    parts.append("</div></body></html>")
    return "\n".join(parts)


def _thumbs(item: Done, originals: bool, limits: Limits) -> str:
    counts = ", ".join(f"{n} {k}" for k, n in sorted(item.report.counts().items()))
    pictures = [("after", item.output)]
    if originals and item.report.file:
        pictures.insert(0, ("before", Path(item.report.file)))
    cells = "".join(f"<figure>{_img(p, limits)}<figcaption>{label}</figcaption></figure>"
                    for label, p in pictures)
    title = html.escape(f"{item.report.file}: {counts or 'no regions'}")
    return f'<div class="pair"><p>{title}</p>{cells}</div>'


def _img(path: Path, limits: Limits) -> str:
    try:
        picture = read_image(path, limits)
    except InputError as exc:
        return f"<p>({html.escape(str(exc))})</p>"
    image = Image.fromarray(to_display(to_rgb8(picture.pixels, picture.mode),
                                       picture.orientation))
    image.thumbnail((THUMB_SIDE, THUMB_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="" src="data:image/jpeg;base64,{data}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def row(cells: Sequence[str], tag: str) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"

    return "<table>" + row(head, "th") + "".join(row(r, "td") for r in rows) + "</table>"


_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>veil redact: run summary</title><style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d232a; }
table { border-collapse: collapse; margin: 6px 0 18px; }
td, th { border-bottom: 1px solid #e5e7eb; padding: 3px 10px; text-align: left; }
.thumbs { display: flex; flex-wrap: wrap; gap: 18px; }
.pair { border: 1px solid #e5e7eb; padding: 8px; } .pair p { margin: 0 0 6px; }
figure { display: inline-block; margin: 0 6px 0 0; } figcaption { color: #6b7280; }
</style></head><body>"""
