"""Calendar dates; a birth date when a birth word comes shortly before."""

from __future__ import annotations

from collections.abc import Sequence

from veil.regions import Span
from veil.text import patterns as tp
from veil.text.recognizer import FunctionRecognizer, context_boost


def date_spans(text: str, prior: Sequence[Span] = ()) -> list[Span]:
    spans = []
    for regex in tp.DATES:
        for m in regex.finditer(text):
            if not tp.plausible_date(m):
                continue
            birth = context_boost(text, m.start(), tp.BIRTH_CONTEXT) > 0
            entity = "DATE_OF_BIRTH" if birth else "DATE_TIME"
            spans.append(Span(m.start(), m.end(), entity, 0.95 if birth else 0.6, "date"))
    return spans


DATE = FunctionRecognizer("date", ("DATE_TIME", "DATE_OF_BIRTH"), date_spans)
