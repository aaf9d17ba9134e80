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
from veil.detect.text_pii import TextDetector

CACHE = Path(__file__).resolve().parent / ".cache"


def _fmt(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.3f}"


def run_veil(records: list[dict[str, Any]]) -> tuple[list[list[dict[str, Any]]], float]:
    detector = TextDetector()
    detector.scan("Warm-up: John Smith, john@example.com.")
    texts = [r["text"] for r in records]
    start = time.perf_counter()
    found = detector.scan_many(texts)
    seconds = time.perf_counter() - start
    preds = [[{"start": s.start, "end": s.end, "entity": s.entity} for s in spans]
             for spans in found]
    return preds, sum(map(len, texts)) / seconds


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
    print(f"{'entity':18} {'support':>7} | {'Veil P':>6} {'R':>5} {'F1':>5} |"
          f" {'presidio P':>10} {'R':>5} {'F1':>5}")
    for entity, row in sorted(veil["per_entity"].items()):
        theirs = ref["per_entity"].get(entity, {}) if ref else {}
        print(f"{entity:18} {row['support']:7d} | {_fmt(row['precision']):>6} "
              f"{_fmt(row['recall'])} {_fmt(row['f1'])} | {_fmt(theirs.get('precision')):>10} "
              f"{_fmt(theirs.get('recall'))} {_fmt(theirs.get('f1'))}")
    o, t = veil["overall"], (ref["overall"] if ref else {})
    print(f"{'overall (micro)':18} {o['support']:7d} | {_fmt(o['precision']):>6} "
          f"{_fmt(o['recall'])} {_fmt(o['f1'])} | {_fmt(t.get('precision')):>10} "
          f"{_fmt(t.get('recall'))} {_fmt(t.get('f1'))}")
    for lang in ("en", "de", "fr", "es"):
        idx = [i for i, r in enumerate(records) if r["lang"] == lang]
        mine = score([records[i] for i in idx], [veil_preds[i] for i in idx])["overall"]
        line = f"{lang:18} {mine['support']:7d} | {'':>6} {'':>5} {_fmt(mine['f1'])} |"
        if other is not None:
            theirs_l = score([records[i] for i in idx], [other[i] for i in idx])["overall"]
            line += f" {'':>10} {'':>5} {_fmt(theirs_l['f1'])}"
        print(line)
    print(f"Veil speed: {rate:,.0f} characters per second (one process, warm)")
    if ref is None:
        print("(run benchmarks/presidio_reference.py first to see presidio beside)")


if __name__ == "__main__":
    main()
