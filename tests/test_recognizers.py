"""The recognizer registry: named units, documented, each finding naming its recognizer."""

import re
from collections.abc import Sequence
from pathlib import Path

from veil.regions import Span
from veil.text import Passage, PassageRecognizer, TextDetector, default_registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "recognizers.md"


def test_every_documented_recognizer_is_registered_and_the_other_way_round() -> None:
    documented = re.findall(r"^\| `([\w.-]+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    assert len(documented) == len(set(documented))
    assert set(documented) == set(default_registry().names())


def test_findings_name_the_recognizer_that_fired() -> None:
    text = "Mail jane.roe@example.org or call +1 (555) 010-2030, card **** **** **** 4242."
    sources = {text[s.start:s.end]: s.source for s in TextDetector(ner=False).scan(text)}
    assert sources == {"jane.roe@example.org": "email", "+1 (555) 010-2030": "phone",
                       "**** **** **** 4242": "masked-card"}
    assert set(sources.values()) <= set(default_registry().names())


def test_an_added_recognizer_gets_the_text_its_language_and_what_was_found_before() -> None:
    text = "Please forward the invoice to jane.roe@example.org and ask Olek about it."
    seen: list[tuple[str, str | None, str | None, list[str]]] = []

    def finder(passage: Passage, prior: Sequence[Span]) -> list[Span]:
        seen.append((passage.text, passage.language(), passage.language(votes=99),
                     [p.source for p in prior]))
        start = passage.text.index("Olek")
        return [Span(start, start + 4, "PERSON", 0.9, "")]

    mine = PassageRecognizer("mine", ("PERSON",), finder)
    spans = TextDetector(ner=False).with_recognizers([mine]).scan(text)
    assert ("Olek", "mine") in [(text[s.start:s.end], s.source) for s in spans]
    assert len(seen) == 1
    assert seen[0][:3] == (text, "en", None)  # English by its stop words, not by 99 of them
    assert "email" in seen[0][3]
