"""Postal addresses and places."""

from __future__ import annotations

from collections.abc import Sequence

from veil.regions import Span
from veil.text import patterns as tp
from veil.text.recognizer import FunctionRecognizer, Pattern, PatternRecognizer

STREET = PatternRecognizer("street-address", "ADDRESS", (Pattern(tp.ADDRESS, 0.9),),
                           context=tp.ADDRESS_CONTEXT)
POSTAL_BOX = PatternRecognizer("postal-box", "ADDRESS", (Pattern(tp.POSTAL_BOX, 0.7),),
                               context=tp.ADDRESS_CONTEXT)
CUED_ADDRESS = PatternRecognizer("cued-address", "ADDRESS", (Pattern(tp.CUED_ADDRESS, 0.8, 1),))
UNIT_ADDRESS = PatternRecognizer("unit-address", "ADDRESS", (Pattern(tp.UNIT_ADDRESS, 0.8),))


def cued_places(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """Any capitalised place name after a cue such as "grew up in" or "moved here from"."""
    return [Span(*m.span(1), "LOCATION", 0.7, "place-cue") for m in tp.CUED_PLACE.finditer(text)
            if m.group(1).split()[0].casefold() not in tp.NOT_PLACES]


def gazetteer_places(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    """Cities (population 100,000 or more) and countries, from a gazetteer."""
    spans = []
    for m in tp.CAPITALISED.finditer(text):
        for name in tp.places_from(m.group(0)):
            after = text[m.start() + len(name) : m.start() + len(name) + 2]
            if text[m.start() : m.start() + len(name)].casefold() == name and not (
                    after[:1].isalnum() or after.lstrip().startswith(":")):
                spans.append(Span(m.start(), m.start() + len(name), "LOCATION", 0.55,
                                  "gazetteer"))
                break
    return spans


PLACE_CUE = FunctionRecognizer("place-cue", ("LOCATION",), cued_places, ("en", "de", "fr", "es"))
GAZETTEER = FunctionRecognizer("gazetteer", ("LOCATION",), gazetteer_places)
