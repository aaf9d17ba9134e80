"""The recognizer registry: named units, documented, each finding naming its recognizer."""

import re
from pathlib import Path

from veil.text import TextDetector, default_registry

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
