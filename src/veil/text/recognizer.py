"""The unit of text detection: a named recognizer that finds one or a few entity kinds.

Shapes behind one protocol: ``PatternRecognizer`` (regexes, context words, a named
validator, a score: the shape a policy can write too), ``FunctionRecognizer`` (a rule
that needs code: phone numbers, dates, names from lists) and ``PassageRecognizer`` (such a
rule that asks what is known of the whole text: its language). Every recognizer gets the
text as a ``Passage``, which works out the text's language once for all of them. Every
Span a recognizer returns carries its name as ``source``, so a user can see why a value
was hidden.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

from veil.regions import Span
from veil.text import patterns as tp
from veil.text import validators

CONTEXT_WINDOW = 48
CONTEXT_BOOST = 0.4
CONTEXT_ONLY = 0.4
"""A recognizer whose patterns all score below this finds values only after one of its
context words: in a text without any of them it does not run."""
CHECKED_IN_CONTEXT = 1.0
"""The score of a match that passes its validator after one of its context words: such a
value is what the words say it is, whatever else its digits could dial or be (a South
African ID number after "ID number" is not a card number because it passes Luhn)."""


@dataclass(frozen=True, slots=True)
class Passage:
    """A text under detection and what several recognizers ask of it (its language by
    stop words), worked out once: the detector makes one per text and hands it to every
    recognizer, rules and models. It stays small, as the detector keeps a batch's
    Passages until the models have read them all: what only the rules share (the text's
    lower case, its word starts) is cached for the text in hand instead."""

    text: str
    _best: str = field(init=False, repr=False)
    _votes: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        best, votes = tp.language_votes(self.text)
        object.__setattr__(self, "_best", best)
        object.__setattr__(self, "_votes", votes)

    def language(self, votes: int = 1) -> str | None:
        """en, de, fr or es by their own stop words; None when fewer than ``votes`` of the
        text's words say so."""
        return self._best if self._votes >= max(votes, 1) else None


@runtime_checkable
class Recognizer(Protocol):
    """Finds values of ``entities`` in a text (``passage.text``). ``languages`` ("en",
    "de", ...) are those whose texts it is meant for; empty means every language. ``prior``
    holds what the recognizers before it in the registry found in the same text."""

    @property
    def name(self) -> str: ...

    @property
    def entities(self) -> tuple[str, ...]: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def find(self, passage: Passage, prior: Sequence[Span]) -> list[Span]: ...


@dataclass(frozen=True, slots=True)
class Pattern:
    """One regex of a recognizer; ``group`` is the part of the match that is the value."""

    regex: re.Pattern[str]
    score: float
    group: int = 0


@dataclass(frozen=True, slots=True)
class PatternRecognizer:
    """Matches of ``patterns`` that pass ``validator`` (a name from ``validators``);
    ``context`` words shortly before a match raise its score by ``CONTEXT_BOOST`` (to at
    least ``CHECKED_IN_CONTEXT`` when a validator passed too).
    Trailing ``strip`` characters are not part of a value. With ``cut``, a match that fails
    its validator is cut back to its longest valid part before a space or line break (an
    IBAN that ran on into the next line's label)."""

    name: str
    entity: str
    patterns: tuple[Pattern, ...]
    languages: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    validator: str | None = None
    strip: str = ".,;:"
    cut: bool = True

    @property
    def entities(self) -> tuple[str, ...]:
        return (self.entity,)

    def find(self, passage: Passage, prior: Sequence[Span] = ()) -> list[Span]:
        text = passage.text
        if self.context and all(p.score < CONTEXT_ONLY for p in self.patterns) and not (
                _may_hold(text, self.context)
                and context_regex(self.context).search(_lower(text))):
            return []  # what it finds counts only after a context word, and there is none
        check = validators.get(self.validator) if self.validator else None
        spans = []
        for pattern in self.patterns:
            for m in pattern.regex.finditer(text):
                start, end = m.span(pattern.group)
                value = text[start:end].rstrip(self.strip)
                if value and check is not None and not _safe(check, value):
                    value = valid_prefix(value, check) if self.cut else ""
                if not value:
                    continue
                boost = context_boost(text, start, self.context)
                score = min(1.0, pattern.score + boost)
                if boost and check is not None:
                    score = max(score, CHECKED_IN_CONTEXT)
                spans.append(Span(start, start + len(value), self.entity, score, self.name))
        return spans


@dataclass(frozen=True, slots=True)
class FunctionRecognizer:
    """A rule written as code: ``finder(text, prior)`` returns its Spans, which are
    stamped with the recognizer's name."""

    name: str
    entities: tuple[str, ...]
    finder: Callable[[str, Sequence[Span]], list[Span]]
    languages: tuple[str, ...] = ()

    def find(self, passage: Passage, prior: Sequence[Span] = ()) -> list[Span]:
        return _stamped(self.name, self.finder(passage.text, prior))


@dataclass(frozen=True, slots=True)
class PassageRecognizer:
    """A rule written as code that asks what is known of the whole text (its language):
    ``finder(passage, prior)`` returns its Spans, stamped as a ``FunctionRecognizer``'s."""

    name: str
    entities: tuple[str, ...]
    finder: Callable[[Passage, Sequence[Span]], list[Span]]
    languages: tuple[str, ...] = ()

    def find(self, passage: Passage, prior: Sequence[Span] = ()) -> list[Span]:
        return _stamped(self.name, self.finder(passage, prior))


def _stamped(name: str, spans: list[Span]) -> list[Span]:
    """``spans`` with ``name`` as their ``source``."""
    return [s if s.source == name else replace(s, source=name) for s in spans]


@functools.lru_cache(maxsize=4)
def _lower(text: str) -> str:
    """``text`` in lower case, once for all the recognizers that look for context."""
    return text.lower()


_WORD = re.compile(r"\w+")
_PREFIX = 24


@functools.lru_cache(maxsize=4)
def _word_starts(text: str) -> frozenset[str]:
    """Every start (up to ``_PREFIX`` characters) of every word of ``text``, lower case:
    one pass for all recognizers' context words instead of one search each."""
    return frozenset(w[:i] for w in _WORD.findall(_lower(text))
                     for i in range(1, min(len(w), _PREFIX) + 1))


@functools.cache
def _heads(words: tuple[str, ...]) -> frozenset[str] | None:
    """The first word of each context word or phrase ("social" of "social security"), as
    far as a word start can show it; None when one does not begin with a letter or digit."""
    heads = [_WORD.match(w.lower()) for w in words]
    if any(h is None for h in heads):
        return None
    return frozenset(h.group(0)[:_PREFIX] for h in heads if h is not None)


def _may_hold(text: str, words: tuple[str, ...]) -> bool:
    """False only when none of ``words`` can start a word of ``text`` (a cheap test before
    the context regex)."""
    heads = _heads(words)
    return heads is None or not _word_starts(text).isdisjoint(heads)


def _safe(check: validators.Validator, value: str) -> bool:
    """A validator that raises on a value it cannot parse has rejected it."""
    try:
        return check(value)
    except Exception:
        return False


def valid_prefix(value: str, check: validators.Validator) -> str:
    """The longest part of ``value`` before one of its spaces or line breaks that passes
    ``check`` ("" if none): an IBAN whose match ran on into the next line's label."""
    for cut in reversed([m.start() for m in re.finditer(r"\s", value)]):
        if _safe(check, value[:cut]):
            return value[:cut]
    return ""


def context_boost(text: str, start: int, words: tuple[str, ...]) -> float:
    """The context boost if one of ``words`` starts a word shortly before ``start``."""
    if not words:
        return 0.0
    before = text[max(0, start - CONTEXT_WINDOW) : start].lower()
    return CONTEXT_BOOST if context_regex(words).search(before) else 0.0


@functools.cache
def context_regex(words: tuple[str, ...]) -> re.Pattern[str]:
    """Any of ``words`` starting a word ("tel" in "Tel.: ", not in "Artikel")."""
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + ")")
