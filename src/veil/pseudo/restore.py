"""Putting originals back into a model's answer, whole or as a stream of chunks.

Tokens are found by one fixed grammar, never by turning a pseudonym into a regex. It
accepts what models do to ``<PERSON_1>``: ``PERSON_1``, ``<Person_1>``, ``[PERSON_1]``,
``{PERSON_1}``, ``<<PERSON_1>>``, ``Person 1``, ``PERSON-1``, ``Email Address 1``, a
following ``'s``. Only pseudonyms of the session are
replaced; text that merely looks like a token is left alone. Realistic surrogates are
matched literally (escaped), case-insensitively, on word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

TOKEN = re.compile(
    r"(?P<open>[<\[{(]{1,2}\s?)?(?<![A-Za-z0-9_])(?P<name>[A-Za-z]+(?:[_ -][A-Za-z]+)*)[_ -]"
    r"(?P<num>\d+)(?![A-Za-z0-9_])(?P<close>\s?[>\]})]{1,2})?"
)
"""A token in any form models write it; its name may follow other words ("to Person 1")."""
_STRICT = re.compile(
    r"(?P<open>[<\[{(]{1,2}\s?)?(?<![A-Za-z0-9_])(?P<name>[A-Za-z]+(?:_[A-Za-z]+)*)_(?P<num>\d+)"
    r"(?![A-Za-z0-9_])(?P<close>\s?[>\]})]{1,2})?"
)
"""A token as Veil writes it, with underscores only (a surrogate "Main Street 12" is none)."""
_PARTIAL = re.compile(r"(?:[<\[{(]{1,2}\s?)?[A-Za-z_ -]*\d*\s?[>\]})]?$")
_SEP = re.compile(r"[_ -]")


def token(entity: str, number: int) -> str:
    """The token form of a pseudonym: ``<PERSON_1>``."""
    return f"<{entity}_{number}>"


def token_key(text: str) -> tuple[str, int] | None:
    """(ENTITY, number) if ``text`` is exactly one token in any accepted form."""
    m = _STRICT.fullmatch(text)
    return (m["name"].upper(), int(m["num"])) if m else None


class Restorer:
    """Replaces a session's pseudonyms by their originals."""

    def __init__(self, originals: Mapping[str, str]) -> None:
        self._tokens: dict[tuple[str, int], str] = {}
        surrogates: dict[str, str] = {}
        for pseudonym, original in originals.items():
            key = token_key(pseudonym)
            if key is not None:
                self._tokens[key] = original
            else:
                surrogates[pseudonym.lower()] = original  # lower, not casefold: "ß" stays
        self._surrogates = surrogates
        self._names = {name for name, _ in self._tokens}
        alternatives = sorted(surrogates, key=len, reverse=True)
        self._surrogate_re = (
            re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)", re.I)
            if alternatives else None
        )
        self._longest = max((len(s) for s in surrogates), default=0)

    def restore(self, text: str) -> str:
        """``text`` with every known pseudonym replaced by its original."""
        text = TOKEN.sub(self._token_sub, text)
        if self._surrogate_re is not None:
            text = self._surrogate_re.sub(lambda m: self._original(m.group(0)), text)
        return text

    def _original(self, found: str) -> str:
        """The original of a surrogate found case-insensitively (as the regex matches)."""
        original = self._surrogates.get(found.lower())
        if original is not None:
            return original
        return next(o for s, o in self._surrogates.items()
                    if re.fullmatch(re.escape(s), found, re.I))

    def _token_sub(self, m: re.Match[str]) -> str:
        name, num = m["name"], int(m["num"])
        for sep in [None, *re.finditer(" ", name)]:  # "to Person 1": try "Person" after "to"
            start = 0 if sep is None else sep.end()
            original = self._tokens.get((_SEP.sub("_", name[start:]).upper(), num))
            if original is not None:
                if start == 0:
                    return _unpaired(m["open"] or "", m["close"] or "", original)
                before = m.group(0)[: m.start("name") - m.start() + start]
                return before + _unpaired("", m["close"] or "", original)
        return m.group(0)

    def holdback(self, text: str) -> int:
        """How many trailing characters of ``text`` could still grow into a pseudonym."""
        hold = 0
        start = max(0, len(text) - 64)
        for i in range(start, len(text)):
            tail = text[i:]
            if _PARTIAL.match(tail) and self._could_be_token(tail):
                hold = len(tail)
                break
        folded = text[-self._longest :].lower() if self._longest else ""
        for surrogate in self._surrogates:
            for k in range(min(len(surrogate), len(folded)), hold, -1):
                if folded.endswith(surrogate[:k]):
                    hold = max(hold, k)
                    break
        return len(text) - self._outside_matches(text, len(text) - hold)

    def _outside_matches(self, text: str, cut: int) -> int:
        """``cut`` moved left until no pseudonym found in ``text`` straddles it: what is
        held back may end with what could start a token ("l " of "Amaya Hall ", which
        could start "LITERAL_1"), and must not split a whole surrogate or token from its
        start."""
        patterns = [TOKEN] if self._surrogate_re is None else [TOKEN, self._surrogate_re]
        moved = True
        while moved:
            moved = False
            for pattern in patterns:
                for m in pattern.finditer(text, max(0, cut - 2 * self._longest - 64)):
                    if m.start() < cut < m.end():
                        cut, moved = m.start(), True
        return cut

    def _could_be_token(self, tail: str) -> bool:
        opened = re.match(r"[<\[{(]{0,2}", tail)
        assert opened is not None
        if tail[-1] in ">]})" and len(opened.group(0)) < 2:
            return False  # complete: nothing more can join it
        letters = re.sub(r"^[<\[{(]{0,2}\s?", "", tail)
        name = re.match(r"[A-Za-z_ -]*", letters)
        assert name is not None
        head = _SEP.sub("_", name.group(0)).upper()
        if not head:
            return letters == "" and tail != ""
        return any(n.startswith(head.rstrip("_")) or (n + "_").startswith(head)
                   for n in self._names if " " not in name.group(0) or len(head) <= len(n) + 1)


_PAIRS = {"<": ">", "[": "]", "{": "}", "(": ")"}


def _unpaired(opened: str, closed: str, original: str) -> str:
    """Drop the bracket pair around a token (doubled if it is the same bracket twice, as
    in "<<PERSON_1>>"); keep other brackets, which belong to the surrounding text:
    "(<EMAIL_1>)" gives "(" + original + ")"."""
    o, c = opened.rstrip(), closed.lstrip()
    k = 0
    while (k < min(len(o), len(c)) and _PAIRS[o[len(o) - 1 - k]] == c[k]
           and (k == 0 or o[len(o) - 1 - k] == o[-1])):
        k += 1
    if k == 0:
        return opened + original + closed
    return o[: len(o) - k] + original + c[k:]


class StreamRestorer:
    """Restores a stream of chunks, holding back only what could still become a pseudonym.

    >>> s = StreamRestorer({"<PERSON_1>": "Jane"})
    >>> s.feed("Hello <PER") + s.feed("SON_1>!") + s.flush()
    'Hello Jane!'
    """

    def __init__(self, originals: Mapping[str, str] | Restorer) -> None:
        self._restorer = originals if isinstance(originals, Restorer) else Restorer(originals)
        self._buffer = ""

    def feed(self, chunk: str) -> str:
        """Restored text that is safe to emit now."""
        self._buffer += chunk
        hold = self._restorer.holdback(self._buffer)
        ready, self._buffer = self._buffer[: len(self._buffer) - hold], self._buffer[
            len(self._buffer) - hold :]
        return self._restorer.restore(ready)

    def flush(self) -> str:
        """Whatever is left at the end of the stream, restored."""
        ready, self._buffer = self._buffer, ""
        return self._restorer.restore(ready)
