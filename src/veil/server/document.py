"""The request's texts as one document, with a map back to each text (segment).

The model reads the strings of a request together, so a value may be split across two
content parts or two messages ("SSN 523-41-" + "6789", "My name is Johanna" +
"Kowalczyk."). ``TextDocument`` joins the segments in two views: *tight* (joined as they
are) and *spaced* (a space between two segments that would otherwise touch), so a value is
found whichever way the model reads the join. Findings are ``DocSpan``s in tight
coordinates; ``merge`` unites the overlapping findings of both views (so no fragment of a
value stays in clear) and ``rewrite`` puts one pseudonym per span back into the segments: a
span crossing a boundary gets its pseudonym in the first segment it touches and is cut out
of the following ones.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from veil.regions import Span

TIGHT, SPACED = "tight", "spaced"


@dataclass(frozen=True, slots=True)
class Segment:
    """One string of the request: ``text`` sits at ``start`` in the tight view."""

    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass(frozen=True, slots=True)
class DocSpan:
    """A finding in tight coordinates. ``value`` is its text as the detector saw it (the
    view it was found in); ``keep`` marks a pseudonym of the session sent back as history,
    which stays as written. ``repr`` never shows the value."""

    start: int
    end: int
    entity: str
    score: float
    value: str
    keep: bool = False

    def __repr__(self) -> str:
        return f"DocSpan({self.start}, {self.end}, {self.entity!r}, keep={self.keep})"


class TextDocument:
    """Segments joined into one text, with maps between views and segments."""

    def __init__(self, texts: Sequence[str]) -> None:
        segments: list[Segment] = []
        start = 0
        for text in texts:
            segments.append(Segment(start, text))
            start += len(text)
        self.segments: tuple[Segment, ...] = tuple(segments)
        self.tight = "".join(texts)
        # the spaced view: a space where two non-space characters would touch
        pieces: list[str] = []
        self._inserted: list[int] = []  # tight positions before which a space was put
        previous = ""
        for seg in self.segments:
            if seg.text and previous and not previous[-1].isspace() \
                    and not seg.text[0].isspace():
                pieces.append(" ")
                self._inserted.append(seg.start)
            pieces.append(seg.text)
            previous = seg.text or previous
        self.spaced = "".join(pieces)
        self._starts = [s.start for s in self.segments]

    def view(self, name: str) -> str:
        return self.spaced if name == SPACED else self.tight

    def to_tight(self, name: str, start: int, end: int) -> tuple[int, int]:
        """A range of a view in tight coordinates (inserted spaces shrink to nothing)."""
        if name == TIGHT:
            return start, end
        return self._tight_pos(start), self._tight_pos(end)

    def text_of(self, name: str, start: int, end: int) -> str:
        """The text of the tight range ``start``..``end`` as the view shows it."""
        if name == TIGHT:
            return self.tight[start:end]
        return self.spaced[self._view_pos(start, True) : self._view_pos(end, False)]

    def glued_between(self, start: int, end: int) -> list[int]:
        """The boundaries strictly inside ``start``..``end`` with a letter on each side."""
        text = self.tight
        return [b for b in self.boundaries_between(start, end)
                if text[b - 1].isalpha() and text[b].isalpha()]

    def boundaries_between(self, start: int, end: int) -> list[int]:
        """The tight positions strictly inside ``start``..``end`` where a segment starts."""
        return sorted({p for p in self._starts[bisect.bisect_right(self._starts, start) :
                                               bisect.bisect_left(self._starts, end)]})

    def inserted_between(self, start: int, end: int) -> list[int]:
        """The tight positions strictly inside ``start``..``end`` where the spaced view has
        an inserted space."""
        return self._inserted[bisect.bisect_right(self._inserted, start) :
                              bisect.bisect_left(self._inserted, end)]

    def segment_at(self, position: int) -> int:
        """The index of the segment holding tight ``position`` (the last one at the end)."""
        return max(0, bisect.bisect_right(self._starts, position) - 1)

    def _view_pos(self, tight: int, opening: bool) -> int:
        """A tight position in the spaced view; at a boundary with a space, a span's start
        lies after the space and its end before it."""
        before = bisect.bisect_right(self._inserted, tight) if opening else \
            bisect.bisect_left(self._inserted, tight)
        return tight + before

    def _tight_pos(self, spaced: int) -> int:
        """A spaced position in tight coordinates: minus the spaces inserted before it (an
        inserted space itself maps to the start of the segment after it)."""
        lo, hi = 0, len(self._inserted)
        while lo < hi:  # inserted space k sits at spaced position inserted[k] + k
            mid = (lo + hi) // 2
            if self._inserted[mid] + mid < spaced:
                lo = mid + 1
            else:
                hi = mid
        return spaced - lo

    def rewrite(self, spans: Iterable[DocSpan], pseudonyms: Sequence[str | None]) -> list[str]:
        """Each segment's text with every span replaced: the pseudonym goes where the span
        starts; the rest of a span crossing into later segments is removed. A ``None``
        pseudonym keeps the span's text as written."""
        out: list[list[str]] = [[] for _ in self.segments]
        cursor = [s.start for s in self.segments]
        for span, pseudonym in zip(spans, pseudonyms, strict=True):
            if pseudonym is None:
                continue
            first = self.segment_at(span.start)
            last = self.segment_at(max(span.start, span.end - 1))
            for i in range(first, last + 1):
                seg = self.segments[i]
                cut_from, cut_to = max(span.start, seg.start), min(span.end, seg.end)
                out[i].append(self.tight[cursor[i] : cut_from])
                if i == first:
                    out[i].append(pseudonym)
                cursor[i] = cut_to
        return ["".join(parts) + self.tight[cursor[i] : seg.end]
                for i, (parts, seg) in enumerate(zip(out, self.segments, strict=True))]


def from_view(doc: TextDocument, name: str, spans: Iterable[Span]) -> list[DocSpan]:
    """Detector spans found in one view, in tight coordinates, with the view's text.

    The tight view glues the last word of one text to the first of the next ("Roe" +
    "Write" read as "RoeWrite"): a tight span is cut at such boundaries, and a piece is
    kept only if it still crosses a boundary (``"jo@" + "example.org"``), which only the
    tight view can read; the rest is the spaced view's to find, word by word."""
    found = []
    for s in spans:
        start, end = doc.to_tight(name, s.start, s.end)
        if start >= end:
            continue
        if name == TIGHT:
            glued = doc.glued_between(start, end)
            if glued:
                for a, b in zip([start, *glued], [*glued, end], strict=True):
                    a, b = _trim(doc.tight, a, b)
                    if a < b and doc.boundaries_between(a, b):
                        found.append(DocSpan(a, b, s.entity, s.score, doc.tight[a:b]))
                continue
        found.append(DocSpan(start, end, s.entity, s.score, doc.text_of(name, start, end)))
    return found


_WORD = re.compile(r"\s*([^\W\d_][\w'\u2019.-]*)")


def clip_glued(doc: TextDocument, span: DocSpan,
               continues: Callable[[str], bool]) -> DocSpan | None:
    """A span of the spaced view that runs over a boundary where a space was put between
    two texts ("Jane Roe" + "Write to her"): cut after the words of the later text that
    ``continues`` accepts as part of the value; None if nothing is left."""
    for b in doc.inserted_between(span.start, span.end):
        if not doc.tight[b].isalpha():
            continue
        end = b
        for m in _WORD.finditer(doc.tight, b, span.end):
            if m.start() != end or not continues(m.group(1)):
                break
            end = m.end()
        if end < span.end:
            start, end = _trim(doc.tight, span.start, end)
            if start >= end:
                return None
            return DocSpan(start, end, span.entity, span.score,
                           doc.text_of(SPACED, start, end))
    return span


def clip_explained(doc: TextDocument, tight: Iterable[DocSpan],
                   spaced: Sequence[DocSpan]) -> list[DocSpan]:
    """Tight spans cut at a boundary where the spaced view found a whole value ending: in
    "mail jo@example.org." + "name" the address ends at the boundary, and "name" is
    not part of it. A value the spaced view does not explain so ("jo@" + "example.org")
    keeps its tight reading across the boundary."""
    out = []
    for span in tight:
        for b in doc.boundaries_between(span.start, span.end):
            if any(s.end <= b and s.end > span.start and s.start < b for s in spaced):
                start, end = _trim(doc.tight, span.start, b)
                span = DocSpan(start, end, span.entity, span.score, doc.tight[start:end])
                break
        if span.start < span.end:
            out.append(span)
    return out


def merge(doc: TextDocument, spans: Iterable[DocSpan]) -> list[DocSpan]:
    """Overlapping findings united into one span, so that no part of any finding is left
    out. The strongest member (score, then length, then the spaced view's reading) gives
    the entity; the value is the united range as that member's view reads it."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    groups: list[list[DocSpan]] = []
    end = -1
    for span in ordered:
        if groups and span.start < end:
            groups[-1].append(span)
            end = max(end, span.end)
        else:
            groups.append([span])
            end = span.end
    merged = []
    for group in groups:
        best = max(group, key=lambda s: (round(s.score, 1), s.end - s.start, " " in s.value))
        start, stop = group[0].start, max(s.end for s in group)
        if (start, stop) == (best.start, best.end):
            merged.append(best)
            continue
        view = SPACED if best.value != doc.tight[best.start : best.end] else TIGHT
        merged.append(DocSpan(start, stop, best.entity, best.score,
                              doc.text_of(view, start, stop)))
    return merged


def subtract(doc: TextDocument, spans: Iterable[DocSpan],
             fixed: Sequence[DocSpan]) -> list[DocSpan]:
    """``spans`` cut around the ``fixed`` ranges (tokens); pieces without a letter or digit
    are dropped."""
    out: list[DocSpan] = []
    for span in spans:
        pieces = [(span.start, span.end)]
        for f in fixed:
            pieces = [p for a, b in pieces for p in ((a, min(b, f.start)), (max(a, f.end), b))
                      if p[0] < p[1]]
        if pieces == [(span.start, span.end)]:
            out.append(span)
            continue
        for a, b in pieces:
            a, b = _trim(doc.tight, a, b)
            if a < b:
                out.append(DocSpan(a, b, span.entity, span.score, doc.tight[a:b]))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and not text[start].isalnum():
        start += 1
    while end > start and not text[end - 1].isalnum():
        end -= 1
    return start, end


_NAME_PART = re.compile(r"[^\W\d_][\w'\u2019-]{2,}")


def propagate(doc: TextDocument, spans: Sequence[DocSpan]) -> list[DocSpan]:
    """More occurrences of what was found, in any segment, on word boundaries: the same
    value (a name repeated where the detector missed it), and each part of a person's name
    on its own ("Kowalczyk" after "Johanna Kowalczyk"), capitalised or upper case."""
    wanted: dict[str, tuple[str, float, bool]] = {}  # text -> (entity, score, name part)
    for span in spans:
        if span.keep or span.entity == "LITERAL":
            continue
        value = span.value.strip()
        if len(value) >= 3:
            wanted.setdefault(value, (span.entity, span.score, False))
        if span.entity == "PERSON":
            for part in _NAME_PART.findall(value):
                if part[0].isupper():
                    wanted.setdefault(part, ("PERSON", span.score, True))
    if not wanted:
        return []
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(
        map(re.escape, sorted(wanted, key=len, reverse=True))) + r")(?!\w)", re.IGNORECASE)
    lookup = {k.casefold(): v for k, v in wanted.items()}
    found = []
    for seg in doc.segments:
        for m in pattern.finditer(seg.text):
            entry = lookup.get(m.group(0).casefold())
            if entry is None:
                continue
            entity, score, part = entry
            if part and not m.group(0)[0].isupper():
                continue  # "mark" the verb is not "Mark" the name
            start = seg.start + m.start()
            found.append(DocSpan(start, start + len(m.group(0)), entity, score, m.group(0)))
    return found
