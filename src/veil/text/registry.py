"""The registry of text recognizers: every rule the text detector runs, by name."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from veil.text.recognizer import Recognizer
from veil.text.recognizers import (
    accounts,
    contact,
    dates,
    documents,
    finance,
    identifiers,
    names,
    ner,
    places,
    rare_names,
)


class Registry:
    """Recognizers in the order they run (a recognizer sees what those before it found)."""

    def __init__(self, recognizers: Iterable[Recognizer]) -> None:
        self._recognizers = tuple(recognizers)
        seen: set[str] = set()
        for r in self._recognizers:
            if r.name in seen:
                raise ValueError(f"two text recognizers are called {r.name!r}")
            seen.add(r.name)

    def __iter__(self) -> Iterator[Recognizer]:
        return iter(self._recognizers)

    def __len__(self) -> int:
        return len(self._recognizers)

    def names(self) -> list[str]:
        return [r.name for r in self._recognizers]

    def get(self, name: str) -> Recognizer:
        for r in self._recognizers:
            if r.name == name:
                return r
        raise KeyError(name)

    def entities(self) -> frozenset[str]:
        """Every entity kind some recognizer finds."""
        return frozenset(e for r in self._recognizers for e in r.entities)

    def with_(self, extra: Iterable[Recognizer]) -> Registry:
        """This registry and ``extra`` after it."""
        return Registry((*self._recognizers, *extra))

    def only(self, keep: Iterable[str]) -> Registry:
        """The recognizers named in ``keep``, in registry order."""
        wanted = set(keep)
        return Registry(r for r in self._recognizers if r.name in wanted)


@functools.cache
def default_registry() -> Registry:
    """Veil's built-in recognizers."""
    return Registry((
        ner.NER,
        dates.DATE,
        contact.EMAIL, contact.EMAIL_OBFUSCATED, contact.URL, contact.DOMAIN, contact.IPV4,
        contact.IPV6,
        finance.CARD, finance.CARD_GROUPED, finance.IBAN,
        identifiers.US_SSN, identifiers.US_PASSPORT, identifiers.US_DRIVER_LICENSE,
        identifiers.DEA, *identifiers.listed(),
        places.STREET, places.POSTAL_BOX, places.CUED_ADDRESS, places.UNIT_ADDRESS,
        names.CUED_NAME, names.SAID_NAME, names.NAME_BEFORE_VERB, names.TITLED_NAME,
        names.LABELLED_NAME, names.CHAT_SPEAKER,
        contact.PHONE,
        names.NAME_LIST, names.NAME_LIST_SCRIPTS,
        places.PLACE_CUE, places.GAZETTEER,
        rare_names.RARE_NAME,
        accounts.ACCOUNT,
        names.NAME_ABOVE_ADDRESS,
        finance.MASKED_CARD,
        documents.LABELLED_FIELD,
        documents.MRZ,
    ))
