"""Partial mentions of a person named in full: after "Jane Roe", the mentions "Roe",
"Roe, Jane", "J. Roe" and "Jane" are the same person and get the same pseudonym."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from veil.pseudo.canonical import canonical
from veil.regions import Span

SOURCE = "partial-mention"
_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")
_MENTION = re.compile(
    r"(?<!\w)(?:(?P<initial>[^\W\d_])\.[ \t]?)?(?P<first>[^\W\d_][\w'\u2019-]+)"
    r"(?:,[ \t]*(?P<second>[^\W\d_][\w'\u2019-]+))?(?!\w)")


def name_words(name: str) -> list[str]:
    """A name's words in reading order ("Roe, Jane" -> Jane, Roe)."""
    if name.count(",") == 1:
        last, first = name.split(",")
        name = f"{first} {last}"
    return _WORD.findall(name)


def full_name_of(value: str, fulls: Iterable[str]) -> str | None:
    """The one full name in ``fulls`` that ``value`` mentions in part (its first or last
    word, both in either order, or an initial and the last word); None if none or several."""
    found = _owners(value, fulls)
    return next(iter(found.values())) if len(found) == 1 else None


def _owners(value: str, fulls: Iterable[str]) -> dict[str, str]:
    """The full names (by canonical form) ``value`` may mention."""
    initial = re.match(r"\s*([^\W\d_])\.", value)
    words = [w.casefold() for w in name_words(value[initial.end():] if initial else value)]
    found: dict[str, str] = {}
    for full in fulls:
        parts = [w.casefold() for w in name_words(full)]
        if len(parts) < 2 or len(parts[0]) < 2:
            continue  # not a full name ("J. Roe" is itself a partial mention)
        if canonical("PERSON", full) == canonical("PERSON", value):
            found.setdefault(canonical("PERSON", full), full)
            continue
        ends = {parts[0], parts[-1]}
        if words and set(words) <= ends and (
                initial is None or initial.group(1).casefold() == parts[0][0]):
            found.setdefault(canonical("PERSON", full), full)
    return found


def mentions(text: str, found: Sequence[Span], known: Iterable[str] = ()) -> list[Span]:
    """PERSON spans for the parts of full names (found in ``text`` or ``known``) that
    ``text`` mentions without them being found: a capitalised surname or first name alone,
    "Roe, Jane", "J. Roe"; one that may be several people ("Roe" after "Jane Roe" and
    "Jim Roe") is a person of its own. Mentions inside a person already found are left to
    it."""
    persons = [s for s in found if s.entity == "PERSON"]
    fulls = [*known, *(text[s.start:s.end] for s in persons)]
    fulls = [f for f in fulls if len(words := name_words(f)) >= 2 and len(words[0]) > 1]
    if not fulls:
        return []
    out = []
    for m in _MENTION.finditer(text):
        if not m["first"][0].isupper():
            continue
        start = m.start() if m["initial"] else m.start("first")
        end = m.end("second") if m["second"] else m.end("first")
        owners = _owners(text[start:end], fulls)
        if not owners and (m["second"] or m["initial"]):
            start, end = m.start("first"), m.end("first")
            owners = _owners(text[start:end], fulls)
        if not owners or any(p.start <= start and end <= p.end for p in persons):
            continue
        out.append(Span(start, end, "PERSON", 0.9, SOURCE))
    return out
