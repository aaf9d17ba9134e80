"""Veil and presidio-analyzer on presidio's own synthetic evaluation sentences.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/presidio_synth.py``.

Data. presidio-evaluator 0.3.2 (installed, with a pinned Faker, into the Presidio venv of
``presidio_reference.py`` on first run; it adds packages there and changes none that
presidio-analyzer uses) generates the set the way presidio-research's notebook 1 builds its
published ``generated_size_1500`` set: ``PresidioSentenceFaker("en_US",
lower_case_ratio=0.05)``, the package's default templates, providers and FakeNameGenerator
records, 1,500 sentences, here with a fixed seed (42, set before the name records load,
and PYTHONHASHSEED=0). Two departures, both kept small:
the literal ``\\n`` in 22 templates is written as a line break (as in presidio-research's
earlier published set; left literal it glues words together, "Mackay\\nParis"), and the
hospital provider is left out (no template uses it and it queries Wikidata). The set is
written to ``benchmarks/.cache/presidio_synth.jsonl``: per sentence its text, template id
and spans with the generator's ``label`` and the mapped ``entity`` (null when not scored).

Mapping (generator label -> Presidio entity both tools report):

    PERSON -> PERSON (full, first and last names)
    STREET_ADDRESS -> ADDRESS (street, building number, unit, postcode);
        text_scoring's ADDRESS <-> LOCATION equivalence also accepts a LOCATION finding
    GPE -> LOCATION (city, state, country)
    DATE_TIME -> DATE_TIME (dates, birthdays, years, weekdays)
    DOMAIN_NAME -> URL (presidio-evaluator's own mapping; the values are URLs)
    PHONE_NUMBER, EMAIL_ADDRESS, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN,
        US_DRIVER_LICENSE -> themselves

Not scored (gold spans dropped; findings on them stay false positives, as in presidio's
evaluation): ORGANIZATION (presidio's default configuration ignores spaCy's ORG, Veil does
not look for it), TITLE (job titles, "Mr."), AGE and ZIP_CODE (a bare zip code; presidio's
evaluation leaves these three out: no recognizer reports them) and NRP (nationalities: only
presidio reports them; its NRP recall is printed apart and its NRP findings are ignored).

Scoring: ``text_scoring.score`` (a finding counts when it overlaps a gold span of the same
entity), per entity and micro-averaged. presidio-analyzer runs exactly as in
``presidio_reference.py`` (same venv, model and configuration, default threshold); Veil's
``TextDetector`` as in ``text.py``. Speed: characters per second of detection only, one
warm process each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from presidio_reference import VENV_PY, ensure_venv, run_presidio
from text import CACHE, print_comparison, run_veil
from text_data import read_jsonl, write_jsonl
from text_scoring import score

DATA = CACHE / "presidio_synth.jsonl"
FINDINGS = CACHE / "presidio_synth_findings.jsonl"
EVALUATOR = ("presidio-evaluator==0.3.2", "faker==40.63.0")
SIZE, SEED = 1500, 42

ENTITY_OF = {
    "PERSON": "PERSON", "STREET_ADDRESS": "ADDRESS", "GPE": "LOCATION",
    "DATE_TIME": "DATE_TIME", "DOMAIN_NAME": "URL", "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS", "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS", "US_SSN": "US_SSN", "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
}  # fmt: skip
NOT_SCORED = frozenset({"ORGANIZATION", "TITLE", "AGE", "ZIP_CODE", "NRP"})
_JOIN = re.compile(r"[\s,]*")
_TOKEN = re.compile(r"\w+")

# Executed by the Presidio venv's python: argv = output JSONL, size, seed.
GENERATOR = r"""
import json, sys
from importlib.metadata import version
from presidio_evaluator.data_generator import (
    PresidioSentenceFaker, presidio_additional_entity_providers, presidio_templates_file_path)
from presidio_evaluator.data_generator.faker_extensions import HospitalProvider
out, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
templates = [t.strip().replace("\\n", "\n")
             for t in presidio_templates_file_path.read_text().splitlines()]
providers = [p for p in presidio_additional_entity_providers if p is not HospitalProvider]
PresidioSentenceFaker.seed(seed)  # loading the name records already draws random numbers
faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, sentence_templates=templates,
                              entity_providers=providers, random_seed=seed)
with open(out, "w", encoding="utf-8") as fh:
    for i, s in enumerate(faker.generate_new_fake_sentences(size)):
        spans = sorted(({"start": p.start_position, "end": p.end_position,
                         "label": p.entity_type} for p in s.spans), key=lambda p: p["start"])
        fh.write(json.dumps({"id": f"ps-{i:04d}", "text": s.full_text,
                            "template_id": s.template_id, "spans": spans}) + "\n")
print("generator:", ", ".join(f"{p} {version(p)}" for p in ("presidio-evaluator", "faker")))
"""


def ensure_evaluator() -> None:
    """Install the pinned presidio-evaluator and Faker into the Presidio venv if needed."""
    ensure_venv()
    probe = ("from importlib.metadata import version; "
             "assert version('presidio-evaluator') == '0.3.2'; "
             "assert version('faker') == '40.63.0'")  # fmt: skip
    if subprocess.run([str(VENV_PY), "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", *EVALUATOR], check=True)


def generate(path: Path, size: int = SIZE, seed: int = SEED) -> list[dict[str, Any]]:
    """Generate the sentences into ``path`` and return them with mapped entities."""
    ensure_evaluator()
    cmd = [str(VENV_PY), "-c", GENERATOR, str(path), str(size), str(seed)]
    env = os.environ | {"PYTHONHASHSEED": "0"}  # the generator iterates over sets
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    print(done.stdout.strip().splitlines()[-1])
    records = read_jsonl(path)
    unknown = {s["label"] for r in records for s in r["spans"]} - set(ENTITY_OF) - NOT_SCORED
    if unknown:
        raise ValueError(f"unmapped generator labels: {sorted(unknown)}")
    for record in records:
        for span in record["spans"]:
            span["entity"] = ENTITY_OF.get(span["label"])
    write_jsonl(records, path)
    return records


def scored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records with only the scored spans, neighbouring fragments of one entity merged.

    The generator labels the parts of one address apart ("083" building number, "Lindenweg
    12" street, "Apt. 4" unit, each STREET_ADDRESS); spans of one entity separated only by
    spaces, commas or line breaks become one span, so an address counts once.
    """
    out = []
    for record in records:
        spans: list[dict[str, Any]] = []
        for span in sorted((s for s in record["spans"] if s["entity"]), key=lambda s: s["start"]):
            last = spans[-1] if spans else None
            gap = record["text"][last["end"] : span["start"]] if last else "x"
            if last and last["entity"] == span["entity"] and _JOIN.fullmatch(gap):
                last["end"] = max(last["end"], span["end"])
            else:
                spans.append({"start": span["start"], "end": span["end"],
                              "entity": span["entity"]})
        out.append({**record, "spans": spans})
    return out


def by_token(records: list[dict[str, Any]], found: list[list[dict[str, Any]]]
             ) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Gold and findings cut into words, for presidio-evaluator's token-level view: each
    word a span is on becomes a span of its own, so ``score`` counts words."""

    def cut(text: str, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"start": m.start(), "end": m.end(), "entity": s["entity"]}
                for s in spans for m in _TOKEN.finditer(text)
                if m.start() < s["end"] and s["start"] < m.end()]

    gold = [{"spans": cut(r["text"], r["spans"])} for r in records]
    return gold, [cut(r["text"], f) for r, f in zip(records, found, strict=True)]


def nrp_recall(records: list[dict[str, Any]], predicted: list[list[dict[str, Any]]]) -> str:
    """presidio's NRP recall on the (unscored) nationality spans, for the record."""
    gold = [{"spans": [{**s, "entity": "NRP"} for s in r["spans"] if s["label"] == "NRP"]}
            for r in records]
    row = score(gold, predicted, equivalents={}, labels={"NRP"})["overall"]
    return f"{row['recalled']}/{row['support']}"


def main() -> None:
    """Generate (or load) the set, run both detectors, print the tables and speeds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--reuse", action="store_true", help="load the set if it exists")
    parser.add_argument("--size", type=int, default=SIZE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each tool")
    args = parser.parse_args()
    if args.reuse and DATA.exists():
        records = read_jsonl(DATA)
        ensure_venv()
    else:
        records = generate(DATA, args.size, args.seed)
    gold = scored(records)
    presidio_rates, veil_rates = [], []
    for _ in range(args.rounds):  # alternating, as the machine is shared
        meta = run_presidio(DATA, FINDINGS)
        presidio_rates.append(meta["chars"] / meta["seconds"])
        mine, rate = run_veil(records)
        veil_rates.append(rate)
    by_id = {row["id"]: row["findings"] for row in read_jsonl(FINDINGS)}
    theirs = [by_id[r["id"]] for r in records]
    labels = Counter(s["label"] for r in records for s in r["spans"])
    print(f"{len(records)} sentences, {meta['chars']} characters; generator labels: "
          + ", ".join(f"{k} {v}" for k, v in labels.most_common()))
    print(f"not scored: {', '.join(sorted(NOT_SCORED))}; presidio NRP recall "
          f"{nrp_recall(records, theirs)} (its NRP findings are ignored)\n")
    ref = score(gold, theirs)
    print_comparison(score(gold, mine), ref)
    tok_gold, tok_theirs = by_token(gold, theirs)
    tok_mine = by_token(gold, mine)[1]
    print("\nthe same, counted per word (presidio-evaluator's token-level view):")
    print_comparison(score(tok_gold, tok_mine), score(tok_gold, tok_theirs))
    ignored = ", ".join(f"{e} {n}" for e, n in sorted(ref["ignored"].items()))
    print(f"presidio findings not scored: {ignored or 'none'}")
    ratios = [v / p for v, p in zip(veil_rates, presidio_rates, strict=True)]
    print("speed, detection only, one warm process each, rounds alternating: Veil "
          + ", ".join(f"{v:,.0f}" for v in veil_rates) + " chars/s, presidio "
          + ", ".join(f"{p:,.0f}" for p in presidio_rates) + " chars/s; ratio "
          + ", ".join(f"{r:.1f}x" for r in ratios) + f" (median {statistics.median(ratios):.1f}x)")
    Path(CACHE / "presidio_synth_veil.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "findings": f}) + "\n"
                for r, f in zip(records, mine, strict=True)), encoding="utf-8")


if __name__ == "__main__":
    main()
