"""Veil's text detector on the generated four-language set, beside presidio-analyzer.

Generates the labelled set (``text_data.generate``), runs ``TextDetector.scan_many`` in a
warm process (model loaded once, one warm-up call), scores with ``text_scoring.score``
and prints precision, recall and F1 per entity, overall and per language, and characters
per second. If ``benchmarks/presidio_reference.py`` has been run, its saved findings are
scored the same way and shown beside.

Usage: ``.venv/bin/python benchmarks/text.py [--n 2400] [--seed 7]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from text_data import generate
from text_scoring import score
from veil.text import TextDetector

CACHE = Path(__file__).resolve().parent / ".cache"


def _fmt(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.3f}"


def run_veil(records: list[dict[str, Any]]) -> tuple[list[list[dict[str, Any]]], float]:
    detector = TextDetector()
    detector.scan_many([  # warm: models and every language's word lists loaded
        "Warm-up: the meeting with Zyxa Qorvath is on Monday, john@example.com.",
        "Das Treffen mit Zyxa Qorvath ist am Montag.", "La réunion avec Zyxa Qorvath est lundi.",
        "La reunión con Zyxa Qorvath es el lunes.", "Zyxa Qorvath: ok"])
    texts = [r["text"] for r in records]
    start = time.perf_counter()
    found = detector.scan_many(texts)
    seconds = time.perf_counter() - start
    preds = [[{"start": s.start, "end": s.end, "entity": s.entity} for s in spans]
             for spans in found]
    return preds, sum(map(len, texts)) / seconds


UNSEEN_LOCALES = ("pl_PL", "nl_NL", "pt_BR", "tr_TR", "sv_SE", "cs_CZ")
MORE_UNSEEN = (("hu_HU", "fi_FI", "ro_RO", "hr_HR", "da_DK", "sk_SK", "lt_LT", "id_ID"),
               ("vi_VN", "sl_SI", "et_EE", "lv_LV", "no_NO", "az_AZ", "ga_IE", "fil_PH"))
"""Two more sets of locales whose names no list of Veil's holds, for a second opinion on
rules judged on the first."""


def with_unseen_names(records: list[dict[str, Any]], seed: int,
                      locales: tuple[str, ...] = UNSEEN_LOCALES) -> list[dict[str, Any]]:
    """The same texts with every PERSON replaced by a name from locales whose name lists
    Veil does not use (by default Polish, Dutch, Brazilian, Turkish, Swedish, Czech), same
    case."""
    from faker import Faker

    fake = Faker(list(locales))
    fake.seed_instance(seed)
    out = []
    for record in records:
        text, spans, shift = record["text"], [], 0
        new_text = ""
        last = 0
        for span in sorted(record["spans"], key=lambda s: s["start"]):
            old = text[span["start"] : span["end"]]
            value = old
            if span["entity"] == "PERSON":
                value = fake.first_name() if " " not in old.strip() else fake.name()
                value = value.upper() if old.isupper() else value.lower() if old.islower() \
                    else value
            new_text += text[last : span["start"]]
            start = len(new_text)
            new_text += value
            spans.append({**span, "start": start, "end": start + len(value)})
            last = span["end"]
            shift += len(value) - len(old)
        out.append({**record, "text": new_text + text[last:], "spans": spans})
    return out


def presidio_predictions(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]] | None:
    path = CACHE / "presidio_findings.jsonl"
    if not path.exists():
        return None
    by_id = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_id[row["id"]] = row["findings"]
    if not all(r["id"] in by_id for r in records):
        return None
    return [by_id[r["id"]] for r in records]


def print_comparison(veil: dict[str, Any], ref: dict[str, Any] | None) -> None:
    """Per-entity and overall P/R/F1 of two ``text_scoring.score`` results side by side."""
    print(f"{'entity':18} {'support':>7} | {'Veil P':>6} {'R':>5} {'F1':>5} |"
          f" {'presidio P':>10} {'R':>5} {'F1':>5}")
    entities = set(veil["per_entity"]) | set(ref["per_entity"] if ref else ())
    for entity in sorted(entities):
        theirs = ref["per_entity"].get(entity, {}) if ref else {}
        row = veil["per_entity"].get(entity, theirs)  # support is the same on both sides
        mine = row if entity in veil["per_entity"] else {}
        print(f"{entity:18} {row['support']:7d} | {_fmt(mine.get('precision')):>6} "
              f"{_fmt(mine.get('recall'))} {_fmt(mine.get('f1'))} | "
              f"{_fmt(theirs.get('precision')):>10} {_fmt(theirs.get('recall'))} "
              f"{_fmt(theirs.get('f1'))}")
    o, t = veil["overall"], (ref["overall"] if ref else {})
    print(f"{'overall (micro)':18} {o['support']:7d} | {_fmt(o['precision']):>6} "
          f"{_fmt(o['recall'])} {_fmt(o['f1'])} | {_fmt(t.get('precision')):>10} "
          f"{_fmt(t.get('recall'))} {_fmt(t.get('f1'))}")


def print_unseen(records: list[dict[str, Any]], seed: int, locales: tuple[str, ...]) -> None:
    """PERSON precision and recall, overall and per language, on ``records`` with names
    from ``locales``."""
    unseen = with_unseen_names(records, seed, locales)
    preds = run_veil(unseen)[0]
    line = f"PERSON with names from {', '.join(locales)}:"
    for lang in (None, "en", "de", "fr", "es"):
        idx = [i for i, r in enumerate(unseen) if lang is None or r["lang"] == lang]
        person = score([unseen[i] for i in idx], [preds[i] for i in idx])["per_entity"]["PERSON"]
        line += (f" {lang or 'all'} P {_fmt(person['precision'])} R {_fmt(person['recall'])}"
                 + (";" if lang != "es" else ""))
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    records = generate(args.n, args.seed)
    veil_preds, rate = run_veil(records)
    veil = score(records, veil_preds)
    other = presidio_predictions(records)
    ref = score(records, other) if other is not None else None
    print(f"{len(records)} texts, {sum(len(r['text']) for r in records)} characters")
    print_comparison(veil, ref)
    for lang in ("en", "de", "fr", "es"):
        idx = [i for i, r in enumerate(records) if r["lang"] == lang]
        mine = score([records[i] for i in idx], [veil_preds[i] for i in idx])["overall"]
        line = f"{lang:18} {mine['support']:7d} | {'':>6} {'':>5} {_fmt(mine['f1'])} |"
        if other is not None:
            theirs_l = score([records[i] for i in idx], [other[i] for i in idx])["overall"]
            line += f" {'':>10} {'':>5} {_fmt(theirs_l['f1'])}"
        print(line)
    print(f"Veil speed: {rate:,.0f} characters per second (one process, warm)")
    for locales in (UNSEEN_LOCALES, *MORE_UNSEEN):
        print_unseen(records, args.seed, locales)
    if ref is None:
        print("(run benchmarks/presidio_reference.py first to see presidio beside)")


if __name__ == "__main__":
    main()
