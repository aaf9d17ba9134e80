"""Prompt in -> personal values replaced by session pseudonyms; answer in -> restored."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from veil.errors import InputError
from veil.policy import Policy
from veil.pseudo.canonical import canonical
from veil.pseudo.mentions import full_name_of, mentions, name_words
from veil.pseudo.restore import TOKEN, Restorer, StreamRestorer, token, token_key
from veil.pseudo.surrogates import surrogate
from veil.pseudo.vault import Vault
from veil.regions import Span
from veil.text import TextDetector, default_registry, resolve
from veil.text.configure import detector_for

Style = Literal["token", "surrogate"]
LITERAL = "LITERAL"
"""Entity of token-like text already in the input, pseudonymised so that restoring the
answer cannot turn the user's own "<PERSON_1>" into somebody's name."""

ENTITIES = default_registry().entities() | {"GENDER", "MRZ", "PLATE", "ID_NUMBER", LITERAL}


@dataclass(frozen=True, slots=True)
class Replacement:
    """One value replaced: offsets in the input text, never the value itself."""

    start: int
    end: int
    entity: str
    pseudonym: str


@dataclass(frozen=True, slots=True)
class Pseudonymized:
    """The protected text and what was replaced in it."""

    text: str
    replacements: tuple[Replacement, ...]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.replacements:
            out[r.entity] = out.get(r.entity, 0) + 1
        return out


class Pseudonymizer:
    """Consistent pseudonyms per session, kept in a vault; and their restoration."""

    def __init__(self, vault: Vault | None = None, detector: TextDetector | None = None,
                 style: Style = "token", policy: Policy | None = None) -> None:
        self.vault = vault if vault is not None else default_vault()
        self.policy = policy or Policy()
        self.detector = detector if detector is not None else default_detector(self.policy)
        self.style: Style = style

    def scan(self, text: str, session: str | None = None) -> list[Span]:
        """The personal data the policy protects in ``text``, with the partial mentions of
        people it names in full, or that ``session`` named before ("Roe" after "Jane
        Roe")."""
        found = scan_text(text, self.policy, self.detector)
        if not self.policy.enabled("text.PERSON"):
            return found
        known = self._people(session) if session is not None else []
        return resolve(found + mentions(text, found, known))

    def pseudonymize(self, text: str, session: str) -> Pseudonymized:
        """Replace every protected value; the same value always gets the same pseudonym
        within ``session`` (also across calls and processes), a different one elsewhere."""
        chosen = resolve(_literals(text) + self.scan(text, session))
        # People named in full first, so that "Roe" before "Jane Roe" is Jane Roe too.
        pseudonyms = {}
        for span in sorted(chosen, key=lambda s: -len(name_words(text[s.start:s.end]))
                           if s.entity == "PERSON" else 0):
            pseudonyms[span] = self.pseudonym_for(span.entity, text[span.start : span.end],
                                                  session)
        out: list[str] = []
        replacements: list[Replacement] = []
        last = 0
        for span in chosen:
            pseudonym = pseudonyms[span]
            out.append(text[last : span.start])
            out.append(pseudonym)
            replacements.append(Replacement(span.start, span.end, span.entity, pseudonym))
            last = span.end
        out.append(text[last:])
        return Pseudonymized("".join(out), tuple(replacements))

    def pseudonym_for(self, entity: str, value: str, session: str) -> str:
        """The session's pseudonym for one value (created on first sight), so that a value
        seen in an image and in the prompt text of one session gets the same pseudonym. A
        partial mention of a person the session already named in full ("Roe", "J. Roe")
        gets that person's pseudonym."""
        if entity == "PERSON" and (full := self._full_name(value, session)) is not None:
            value = full
        return self.vault.pseudonym(session, entity, canonical(entity, value), value,
                                    self._maker(entity, value))

    def _full_name(self, value: str, session: str) -> str | None:
        words = name_words(value)
        if len(words) >= 2 and not re.match(r"\s*[^\W\d_]\.", value):
            return None  # a full name of its own
        return full_name_of(value, self._people(session))

    def _people(self, session: str) -> list[str]:
        """The people the session has named (with token pseudonyms: a surrogate does not
        say its entity)."""
        return [o for p, o in self.vault.originals(session).items()
                if (key := token_key(p)) is not None and key[0] == "PERSON"]

    def restore(self, text: str, session: str) -> str:
        """``text`` (a model's answer) with the session's pseudonyms put back."""
        return Restorer(self.vault.originals(session)).restore(text)

    def stream(self, session: str) -> StreamRestorer:
        """A restorer for an answer that arrives in chunks."""
        return StreamRestorer(self.vault.originals(session))

    def _maker(self, entity: str, value: str) -> Callable[[int], str]:
        if self.style == "surrogate" and entity != LITERAL:
            return lambda _n: surrogate(entity, value)
        return lambda n: token(entity, n)


def _literals(text: str) -> list[Span]:
    """Token-like text the user wrote themselves ("<PERSON_1>", "EMAIL_ADDRESS_2",
    "Person 1"), from the token's name on (words before it are not part of it)."""
    out = []
    for m in TOKEN.finditer(text):
        name = m["name"]
        for sep in [None, *re.finditer(" ", name)]:
            start = 0 if sep is None else sep.end()
            if re.sub(r"[ -]", "_", name[start:]).upper() in ENTITIES:
                begin = m.start() if start == 0 else m.start("name") + start
                out.append(Span(begin, m.end(), LITERAL, 2.0, "literal"))
                break
    return out


@functools.cache
def default_vault() -> Vault:
    """The vault at the default path ($VEIL_VAULT_PATH or the user's data folder)."""
    return Vault()


def default_detector(policy: Policy | None = None) -> TextDetector:
    """The text detector ``policy`` asks for (its own recognizers, deny and allow lists),
    one per process for each distinct text configuration."""
    return detector_for(policy.text if policy is not None else None)


def check_text(text: str, policy: Policy) -> None:
    """Refuse text over the policy's size limit (fail closed, with a clear error)."""
    limit = policy.limits.max_text_chars
    if len(text) > limit:
        raise InputError(f"text is {len(text)} characters, above the limit of {limit}")


def scan_text(text: str, policy: Policy | None = None,
              detector: TextDetector | None = None) -> list[Span]:
    """Personal data in ``text`` that the policy protects, as Spans."""
    policy = policy or Policy()
    check_text(text, policy)
    return protected((detector or default_detector(policy)).scan(text), policy)


def protected(spans: list[Span], policy: Policy) -> list[Span]:
    """The spans whose entity the policy protects (kind ``text.ENTITY``)."""
    return [s for s in spans if policy.enabled(f"text.{s.entity}")]


def pseudonymize(text: str, session: str, *, vault: Vault | None = None,
                 style: Style = "token", policy: Policy | None = None) -> str:
    """``text`` with personal values replaced by the session's pseudonyms."""
    return Pseudonymizer(vault, style=style, policy=policy).pseudonymize(text, session).text


def restore(text: str, session: str, *, vault: Vault | None = None) -> str:
    """``text`` with the session's pseudonyms replaced by the originals."""
    return Pseudonymizer(vault).restore(text, session)
