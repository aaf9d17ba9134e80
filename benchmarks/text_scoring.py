"""Span-overlap precision, recall and F1 for text personal-data findings (Presidio names).

Matching is lenient: a predicted finding is a true positive when it overlaps (shares at least
one character with) a gold span whose entity accepts the prediction's entity; a gold span is
recalled when at least one accepted prediction overlaps it. Precision is counted per
predicted entity, recall per gold entity; "overall" is the micro average over all of them.
A gold entity accepts its own name and the names listed for it in ``equivalents``; the
default, ``DEFAULT_EQUIVALENTS``, treats the two date labels as one and the two place labels
as one, in both directions, because either label leads to the same redaction:

    DATE_OF_BIRTH <-> DATE_TIME,  ADDRESS <-> LOCATION

Predictions whose entity is outside the label set (``LABELS``, the gold entities and every
name in ``equivalents``, unless ``labels`` is given) are not scored but counted under
"ignored"; a fixed set keeps, e.g., a US_SSN finding in German text a false positive.
A ratio with an empty denominator is None (no division by zero); F1 is None unless both
precision and recall are defined.

Run ``python benchmarks/text_scoring.py`` for a self-check on hand-made cases.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

# The entities text_data.py labels; findings of other Presidio entities are "ignored".
LABELS = frozenset({
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS",
    "LOCATION", "ADDRESS", "DATE_TIME", "DATE_OF_BIRTH", "US_PASSPORT", "US_DRIVER_LICENSE",
    "MEDICAL_LICENSE", "URL",
})  # fmt: skip
DEFAULT_EQUIVALENTS: dict[str, set[str]] = {
    "DATE_OF_BIRTH": {"DATE_TIME"},
    "DATE_TIME": {"DATE_OF_BIRTH"},
    "ADDRESS": {"LOCATION"},
    "LOCATION": {"ADDRESS"},
}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


def _row(tp: int, n_pred: int, recalled: int, n_gold: int) -> dict[str, Any]:
    p, r = _ratio(tp, n_pred), _ratio(recalled, n_gold)
    return {"precision": p, "recall": r, "f1": _f1(p, r), "support": n_gold,
            "predicted": n_pred, "tp": tp, "recalled": recalled}  # fmt: skip


def score(
    gold: list[dict[str, Any]],
    predicted: list[list[dict[str, Any]]],
    equivalents: dict[str, set[str]] | None = None,
    labels: set[str] | None = None,
) -> dict[str, Any]:
    """Score ``predicted`` (findings per record) against ``gold`` records' ``spans``.

    Findings and spans are dicts with ``start``, ``end`` (exclusive) and ``entity``.
    Returns ``{"per_entity": {entity: row}, "overall": row, "ignored": {entity: count}}``
    where a row has precision, recall, f1, support (gold spans), predicted, tp, recalled.
    """
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold records but {len(predicted)} prediction lists")
    eq = DEFAULT_EQUIVALENTS if equivalents is None else equivalents
    if labels is None:
        labels = set(LABELS) | {s["entity"] for g in gold for s in g["spans"]}
        labels |= set(eq).union(*eq.values())
    n_gold, recalled, n_pred, tp = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
    ignored = Counter[str]()
    for record, preds in zip(gold, predicted, strict=True):
        spans = record["spans"]
        kept = [p for p in preds if p["entity"] in labels]
        ignored.update(p["entity"] for p in preds if p["entity"] not in labels)

        def match(g: dict[str, Any], p: dict[str, Any]) -> bool:
            accepts = p["entity"] == g["entity"] or p["entity"] in eq.get(g["entity"], ())
            return accepts and p["start"] < g["end"] and g["start"] < p["end"]

        for g in spans:
            n_gold[g["entity"]] += 1
            recalled[g["entity"]] += any(match(g, p) for p in kept)
        for p in kept:
            n_pred[p["entity"]] += 1
            tp[p["entity"]] += any(match(g, p) for g in spans)
    entities = sorted(set(n_gold) | set(n_pred))
    per_entity = {e: _row(tp[e], n_pred[e], recalled[e], n_gold[e]) for e in entities}
    overall = _row(tp.total(), n_pred.total(), recalled.total(), n_gold.total())
    return {"per_entity": per_entity, "overall": overall, "ignored": dict(ignored)}


def _span(start: int, end: int, entity: str) -> dict[str, Any]:
    return {"start": start, "end": end, "entity": entity}


def _selftest() -> None:
    """Hand-made cases (pytest style: plain asserts)."""
    text = "Call Anna Berg on 0151 2345678 before 05.03.2024, Hauptstr. 1, 10115 Berlin."
    gold = [{"text": text, "spans": [_span(5, 14, "PERSON"), _span(18, 30, "PHONE_NUMBER"),
             _span(38, 48, "DATE_OF_BIRTH"), _span(50, 75, "ADDRESS")]}]  # fmt: skip
    # Partial person overlap, DATE_TIME for a DOB, LOCATION inside an ADDRESS: all accepted.
    # A wrong-entity phone guess is a false positive; ORGANIZATION is ignored, not scored.
    preds = [[_span(5, 9, "PERSON"), _span(38, 48, "DATE_TIME"), _span(69, 75, "LOCATION"),
              _span(18, 30, "US_SSN"), _span(0, 4, "ORGANIZATION")]]  # fmt: skip
    res = score(gold, preds)
    per, overall = res["per_entity"], res["overall"]
    assert res["ignored"] == {"ORGANIZATION": 1}
    assert per["PERSON"]["precision"] == per["PERSON"]["recall"] == 1.0
    assert per["DATE_OF_BIRTH"]["recall"] == 1.0 and per["DATE_OF_BIRTH"]["precision"] is None
    assert per["DATE_TIME"]["precision"] == 1.0 and per["DATE_TIME"]["support"] == 0
    assert per["ADDRESS"]["recall"] == 1.0 and per["LOCATION"]["precision"] == 1.0
    assert per["PHONE_NUMBER"]["recall"] == 0.0 and per["US_SSN"]["precision"] == 0.0
    assert (overall["tp"], overall["predicted"], overall["recalled"], overall["support"]) == (
        3, 4, 3, 4)  # fmt: skip
    assert overall["f1"] == 0.75
    # Without equivalents the DOB and the address are missed.
    strict = score(gold, preds, equivalents={})
    assert strict["overall"]["recalled"] == 1 and strict["overall"]["tp"] == 1
    # Touching spans do not overlap (end is exclusive).
    assert score(gold, [[_span(0, 5, "PERSON")]])["overall"]["tp"] == 0
    # Empty inputs: nothing to divide by.
    empty = score([], [])
    assert empty["overall"]["precision"] is None and empty["overall"]["f1"] is None
    no_pred = score(gold, [[]])["overall"]
    assert no_pred["recall"] == 0.0 and no_pred["precision"] is None and no_pred["f1"] is None
    nothing_to_find = score([{"spans": []}], [[_span(0, 3, "PERSON")]])["overall"]
    assert nothing_to_find["precision"] == 0.0 and nothing_to_find["recall"] is None
    # One prediction covering two gold spans: one true positive, two spans recalled.
    two = [{"spans": [_span(0, 10, "DATE_TIME"), _span(14, 19, "DATE_TIME")]}]
    both = score(two, [[_span(0, 19, "DATE_TIME")]])["overall"]
    assert (both["tp"], both["predicted"], both["recalled"]) == (1, 1, 2)
    try:
        score(gold, [])
    except ValueError:
        pass
    else:
        raise AssertionError("length mismatch not detected")


if __name__ == "__main__":
    _selftest()
    print("text_scoring self-check passed")
