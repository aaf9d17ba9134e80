"""The text detector: runs the registry's recognizers and resolves what they found.

Every path (prompts through the gateway, OCR text of images, codes' payloads) uses this
one detector, so every rule runs on every path. Overlapping findings are resolved to the
strongest; names are trimmed of greetings, titles and labels; names and places inside a
company's name are the company's; a street grows over the lines of its postal block.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from veil.regions import Span
from veil.text import patterns as tp
from veil.text.recognizer import Passage, Recognizer
from veil.text.recognizers.ner import NAME as NER_NAME
from veil.text.registry import Registry, default_registry

DEFAULT_THRESHOLD = 0.4


@runtime_checkable
class BatchRecognizer(Recognizer, Protocol):
    """A recognizer that is cheaper on many texts at once (a model). It runs after the
    rules and sees what they found in each text (``priors``)."""

    def find_many(self, passages: Sequence[Passage],
                  priors: Sequence[Sequence[Span]]) -> list[list[Span]]: ...


class TextDetector:
    """Finds personal data in text; yields Spans with Presidio's entity names and the
    recognizer that found each as ``source``. ``allow``: values never reported, nor any part
    of them (found whole-word, in any case, with any run of spaces between words)."""

    name = "text-pii"

    def __init__(self, entities: Iterable[str] | None = None, ner: bool = True,
                 threshold: float = DEFAULT_THRESHOLD,
                 registry: Registry | None = None, allow: Iterable[str] = ()) -> None:
        self.entities = frozenset(entities) if entities is not None else None
        self.allowed = tuple(allow)
        self.allow = tuple(re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, v.split()))
                                      + r"(?!\w)", re.IGNORECASE) for v in allow if v.split())
        self.threshold = threshold
        registry = registry if registry is not None else default_registry()
        self.registry = registry if ner else Registry(r for r in registry
                                                      if r.name != NER_NAME)
        # split once: a protocol isinstance on each recognizer costs more per text than
        # detection itself; each part keeps registry order
        self._models = tuple(r for r in self.registry if isinstance(r, BatchRecognizer))
        self._rules = tuple(r for r in self.registry if r not in self._models)

    def with_recognizers(self, extra: Iterable[Recognizer]) -> TextDetector:
        """This detector with ``extra`` run after its registry's recognizers."""
        return TextDetector(self.entities, threshold=self.threshold,
                            registry=self.registry.with_(extra), allow=self.allowed)

    @property
    def ner(self) -> bool:
        return any(r.name == NER_NAME for r in self.registry)

    def scan(self, text: str) -> list[Span]:
        """Spans of personal data in ``text``, non-overlapping, in text order."""
        return self.scan_many([text])[0]

    def scan_many(self, texts: Sequence[str]) -> list[list[Span]]:
        """``scan`` for many texts: the rules on each, then models on them in batches."""
        passages = [Passage(text) for text in texts]
        found: list[list[Span]] = []
        for passage in passages:
            spans: list[Span] = []
            for rule in self._rules:
                spans += rule.find(passage, spans)
            found.append(spans)
        for model in self._models:
            for spans, more in zip(found, model.find_many(passages, found), strict=True):
                spans[:0] = more  # first: a model's finding wins a tie with a rule's
        return [self._finish(text, spans) for text, spans in zip(texts, found, strict=True)]

    def _finish(self, text: str, spans: list[Span]) -> list[Span]:
        spans = [c for c in (_clean_person(text, s) if s.entity == "PERSON" else s
                             for s in spans) if c is not None]
        orgs = [m.span() for m in tp.ORG_NAME.finditer(text)]
        if orgs:  # a name or place inside a company's name is the company's
            spans = [s for s in spans if s.entity not in ("PERSON", "LOCATION")
                     or not any(a <= s.start and s.end <= b for a, b in orgs)]
        if self.entities is not None:
            spans = [s for s in spans if s.entity in self.entities]
        if self.allow:  # values a policy never hides, and the parts of them
            kept = [m.span() for regex in self.allow for m in regex.finditer(text)]
            spans = [s for s in spans if not any(a <= s.start and s.end <= b for a, b in kept)]
        return resolve([_with_marks(text, _address_block(text, s) if s.entity == "ADDRESS"
                                    else s)
                        for s in spans if s.score >= self.threshold])


def resolve(spans: Iterable[Span]) -> list[Span]:
    """Keep the strongest of overlapping spans: higher score first, then longer."""
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-round(s.score, 1), s.start - s.end, s.start)):
        if all(span.end <= c.start or span.start >= c.end for c in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _with_marks(text: str, span: Span) -> Span:
    """``span`` grown over the combining marks that end its last letter ("Adébáyọ̀"
    written with U+0300): regexes stop before them, and a mark left alone is part of
    the value."""
    end = span.end
    while end < len(text) and unicodedata.category(text[end]).startswith("M"):
        end += 1
    return span if end == span.end else replace(span, end=end)


def _address_block(text: str, span: Span, max_lines: int = 4) -> Span:
    """``span`` grown over a ", Town, Country" ending its sentence and the lines that
    continue a postal address block after it (unit, town, country and postcode lines), so
    the whole block is one finding."""
    tail = tp.ADDRESS_TAIL.match(text, span.end)
    end = tail.end() if tail else span.end
    for _ in range(max_lines):
        m = tp.ADDRESS_LINE.match(text, end)
        if m is None:
            break
        end = m.end()
    return span if end == span.end else Span(span.start, end, span.entity, span.score,
                                              span.source)


def _clean_person(text: str, span: Span) -> Span | None:
    """Trim greetings, titles and labels off a name; drop what is only those, and NER
    "names" that are field labels ("Teléfono:") or too short to be a name."""
    names = tp.all_names()
    trim = tp.trim_words()
    words = [(m.start(), m.end(), m.group(0).casefold())
             for m in re.finditer(r"[^\s,.:;]+", text[span.start : span.end])]
    while words and words[0][2] in trim and words[0][2] not in names:
        words.pop(0)
    while words and words[-1][2] in trim and words[-1][2] not in names:
        words.pop()
    if not words:
        return None
    start, end = span.start + words[0][0], span.start + words[-1][1]
    score = span.score
    if span.source == NER_NAME:
        label = text[end : end + 3].lstrip().startswith(":")
        if label or (len(words) == 1 and len(words[0][2]) <= 3):
            return None
        value = text[start:end]
        listed = any(w[2] in names for w in words)
        if any(c.isdigit() for c in value) or (len(words) == 1 and not listed):
            return None  # order numbers, lone capitalised words: not names by NER alone
        score = 0.6 if listed else 0.45
    if len(words) > 1 and words[-1][2] in tp.STREET_TYPES and words[-1][2] not in names:
        return Span(start, end, "ADDRESS", score, span.source)  # "Emma Terrace" is a street
    return Span(start, end, span.entity, score, span.source)
