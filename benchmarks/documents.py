"""Personal text inside images: Veil against presidio-image-redactor, scored by the corpus rule.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/documents.py [--veil-only]
[--limit N] [--n 240] [--corpus /work/shared/corpus] [--docs DIR] [--presidio-fresh]
[--json FILE]``.

Both tools redact the same images on the same machine: ``../shared/corpus/documents``,
``../shared/corpus/plates`` and the generated set of ``doc_data.py`` (made in
``benchmarks/.cache/docs`` on first use). Veil runs in this process with its default policy
(``Redactor()``, models loaded once before the first image); each output is encoded with
``encode_image`` into ``benchmarks/.cache/veil-doc-out/``. presidio-image-redactor 0.0.62 runs
in its own venv through ``presidio_image_reference.py`` (its outputs are cached there and
reused; ``--presidio-fresh`` redoes them). Its default fill crashes on greyscale pages: column
``presidio`` counts that as no output, column ``presidio+rgb`` takes its redaction of such a
page converted to RGB instead. Seconds are per image for the redaction call alone, the image
already decoded (Veil: ``Redactor.redact``; presidio: ``ImageRedactorEngine.redact``), on this
machine's cores.

Scoring (``corpus_scoring``): a ``pii`` or ``plate`` box is protected when its crop's SSIM
before/after is < 0.5; a ``word`` box is kept when it is >= 0.8. An image with no output
(the tool crashed or refused it) counts every box as not protected and every word as not
kept; "kept, outputs only" leaves such images out. Corpus words are those of the FUNSD and
SROIE files (names starting with funsd_ / sroie_).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus_scoring import Grey, box_protected, grey, load_manifest, word_kept
from doc_data import DEFAULT_N, DEFAULT_OUT, DEFAULT_SEED
from doc_data import ensure as ensure_docs
from veil import Redactor
from veil.images import encode_image, read_image

HERE = Path(__file__).resolve().parent
VEIL_OUT = HERE / ".cache" / "veil-doc-out"
WORD_PREFIXES = ("funsd_", "sroie_")


@dataclass
class Run:
    """One tool on one folder: its output per file name, per-image seconds and errors."""

    tool: str
    outputs: dict[str, Path] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class Tally:
    """Protected / kept counts, overall and by a grouping key."""

    hit: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.hit += ok
        self.total += 1

    @property
    def ratio(self) -> float:
        return self.hit / self.total if self.total else math.nan


@dataclass
class Scores:
    pii: Tally = field(default_factory=Tally)
    plates: Tally = field(default_factory=Tally)
    words: Tally = field(default_factory=Tally)
    words_with_output: Tally = field(default_factory=Tally)
    by_entity: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    words_by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    missing: list[str] = field(default_factory=list)


# --- running the tools --------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process's threads and of its waited-for child processes."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_veil(folder: Path, records: Sequence[dict[str, Any]], redactor: Redactor) -> Run:
    """Redact every image of ``records`` with Veil; outputs go to ``VEIL_OUT/<folder>``.

    Any exception on one image (a refused input, a detector failure, a bug) is recorded and
    leaves no output for it.
    """
    out = VEIL_OUT / folder.resolve().name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run = Run("veil")
    for rec in records:
        name = str(rec["file"])
        try:
            picture = read_image(folder / name, redactor.policy.limits)
            t0, c0 = time.perf_counter(), cpu_seconds()
            result, _report = redactor.redact(picture)
            run.seconds[name] = time.perf_counter() - t0
            run.cpu[name] = cpu_seconds() - c0
            (out / name).write_bytes(encode_image(result, redactor.policy.jpeg_quality))
            run.outputs[name] = out / name
        except Exception as exc:  # recorded per image: the run goes on
            run.errors[name] = f"{type(exc).__name__}: {exc}"
    return run


def run_presidio(folder: Path, records: Sequence[dict[str, Any]], fresh: bool
                 ) -> tuple[Run, Run]:
    """Redact (or reuse the cached outputs of) ``records`` with presidio-image-redactor.

    Returns its run as is (a crash leaves no output) and the same with crashed pages
    redacted again after conversion to RGB (``presidio+rgb``).
    """
    from presidio_image_reference import redact_folder

    out, results = redact_folder(folder, [folder / str(r["file"]) for r in records], fresh)
    run, retried = Run("presidio"), Run("presidio+rgb")
    for name, row in results.items():
        if "ms" in row:
            run.seconds[name] = retried.seconds[name] = float(row["ms"]) / 1e3
        if "cpu_s" in row:
            run.cpu[name] = retried.cpu[name] = float(row["cpu_s"])
        if "error" not in row:
            run.outputs[name] = retried.outputs[name] = out / name
            continue
        run.errors[name] = str(row["error"])
        if "retry_ms" in row:
            retried.outputs[name] = out / "retry_rgb" / name
            retried.seconds[name] = float(row["retry_ms"]) / 1e3
            if "retry_cpu_s" in row:
                retried.cpu[name] = float(row["retry_cpu_s"])
        else:
            retried.errors[name] = str(row.get("retry_error", row["error"]))
    return run, retried


# --- scoring ------------------------------------------------------------------------------


def _output(run: Run, name: str, orig: Grey) -> Grey | None:
    """The tool's output as grey levels, or None when missing, unreadable or resized."""
    path = run.outputs.get(name)
    if path is None or not path.is_file():
        return None
    try:
        out = grey(path)
    except Exception:  # an unreadable output counts as missing
        return None
    return out if out.shape == orig.shape else None


def score(folder: Path, records: Sequence[dict[str, Any]], run: Run,
          words_of: Callable[[str], bool] = lambda name: True) -> Scores:
    """Score ``run``'s outputs for ``records`` of ``folder``."""
    s = Scores()
    for rec in records:
        name = str(rec["file"])
        boxes = rec.get("boxes", [])
        if not boxes:
            continue
        orig = grey(folder / name)
        out = _output(run, name, orig)
        if out is None:
            s.missing.append(name)
        kind = str(rec.get("kind", ""))
        for b in boxes:
            label = b.get("label")
            if label in ("pii", "plate"):
                ok = out is not None and box_protected(orig, out, b["xyxy"])
                (s.pii if label == "pii" else s.plates).add(ok)
                if label == "pii":
                    s.by_entity[str(b.get("entity", "?"))].add(ok)
                    s.by_kind[kind].add(ok)
            elif label == "word" and words_of(name):
                kept = out is not None and word_kept(orig, out, b["xyxy"])
                s.words.add(kept)
                s.words_by_kind[kind].add(kept)
                if out is not None:
                    s.words_with_output.add(kept)
    return s


def seconds(times: dict[str, float]) -> tuple[float, float]:
    """Median and p90 of per-image seconds."""
    values = list(times.values())
    if not values:
        return math.nan, math.nan
    return float(np.median(values)), float(np.percentile(values, 90))


# --- report -------------------------------------------------------------------------------


def _f(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3f}"


def _ratio(t: Tally) -> str:
    return f"{_f(t.ratio)} ({t.hit}/{t.total})"


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run both tools on the three folders; return every figure."""
    folders = {
        "documents": args.corpus / "documents",
        "plates": args.corpus / "plates",
        "generated": ensure_docs(args.docs, args.n, args.seed),
    }
    records = {k: load_manifest(f)[: args.limit] for k, f in folders.items()}
    tools = ["veil"] + ([] if args.veil_only else ["presidio", "presidio+rgb"])
    redactor = Redactor()
    redactor.warm_up()
    figures: dict[str, Any] = {"tools": tools, "cores": os.cpu_count(), "folders": {},
                               "load_before": os.getloadavg()}
    for key, folder in folders.items():
        recs = records[key]
        runs = [run_veil(folder, recs, redactor)]
        if not args.veil_only:
            runs.extend(run_presidio(folder, recs, args.presidio_fresh))
        words_of: Callable[[str], bool] = (
            (lambda n: n.startswith(WORD_PREFIXES)) if key == "documents" else (lambda n: True)
        )
        per_tool = {}
        for run in runs:
            s = score(folder, recs, run, words_of)
            med, p90 = seconds(run.seconds)
            cpu_med, cpu_p90 = seconds(run.cpu)
            per_tool[run.tool] = {
                "pii": s.pii, "plates": s.plates, "words": s.words,
                "words_with_output": s.words_with_output, "by_entity": dict(s.by_entity),
                "by_kind": dict(s.by_kind), "words_by_kind": dict(s.words_by_kind),
                "median_s": med, "p90_s": p90, "cpu_median_s": cpu_med, "cpu_p90_s": cpu_p90,
                "images": len(recs),
                "errors": run.errors, "missing": s.missing,
            }  # fmt: skip
        figures["folders"][key] = per_tool
    figures["load_after"] = os.getloadavg()
    return figures


def print_report(fig: dict[str, Any]) -> None:
    tools: list[str] = fig["tools"]
    width = 26
    head = f"{'':44}" + "".join(f"{t:>{width}}" for t in tools)

    def row(label: str, cell: Callable[[dict[str, Any]], str], key: str) -> None:
        cells = "".join(f"{cell(fig['folders'][key][t]):>{width}}" for t in tools)
        print(f"{label:44}{cells}")

    def secs(d: dict[str, Any]) -> str:
        return f"{d['median_s']:.2f} / {d['p90_s']:.2f}"

    def cpu(d: dict[str, Any]) -> str:
        return f"{d['cpu_median_s']:.2f} / {d['cpu_p90_s']:.2f}"

    def crashed(d: dict[str, Any]) -> str:
        return f"{len(d['errors'])} of {d['images']}"

    print(head)
    row("corpus documents: pii recall", lambda d: _ratio(d["pii"]), "documents")
    row("  words kept (FUNSD + SROIE)", lambda d: _ratio(d["words"]), "documents")
    row("  words kept, outputs only", lambda d: _ratio(d["words_with_output"]), "documents")
    row("  s per image, median / p90", secs, "documents")
    row("  CPU s per image, median / p90", cpu, "documents")
    row("  images with no output (crash / refused)", crashed, "documents")
    row("corpus plates: plate recall", lambda d: _ratio(d["plates"]), "plates")
    row("  s per image, median / p90", secs, "plates")
    row("  images with no output", crashed, "plates")
    row("generated: pii recall", lambda d: _ratio(d["pii"]), "generated")
    row("  words kept", lambda d: _ratio(d["words"]), "generated")
    row("  words kept, outputs only", lambda d: _ratio(d["words_with_output"]), "generated")
    row("  s per image, median / p90", secs, "generated")
    row("  CPU s per image, median / p90", cpu, "generated")
    row("  images with no output", crashed, "generated")
    gen = fig["folders"]["generated"]
    first = gen[tools[0]]
    print("\ngenerated set, pii recall per entity (boxes)")
    for entity in sorted(first["by_entity"], key=lambda e: -first["by_entity"][e].total):
        cells = "".join(f"{_ratio(gen[t]['by_entity'][entity]):>{width}}" for t in tools)
        print(f"  {entity:42}{cells}")
    print("\ngenerated set, per document kind: pii recall | words kept")
    for kind in first["by_kind"]:
        pairs = [(gen[t]["by_kind"][kind], gen[t]["words_by_kind"][kind]) for t in tools]
        cells = "".join(f"{_f(p.ratio) + ' | ' + _f(w.ratio):>{width}}" for p, w in pairs)
        print(f"  {kind + ' (' + str(first['by_kind'][kind].total) + ' pii)':42}{cells}")
    load = ", ".join(f"{x:.1f}" for x in (*fig["load_before"][:1], *fig["load_after"][:1]))
    print(f"\nseconds: the redaction call per image, image decoded, {fig['cores']} cores (load "
          f"average before, after Veil's run: {load}; presidio's figures may come from an "
          "earlier, cached run); CPU s: user + system of all threads and child processes. "
          "recall: box crop SSIM < 0.5; kept: SSIM >= 0.8")
    for key, per_tool in fig["folders"].items():
        for t, d in per_tool.items():
            for name, err in list(d["errors"].items())[:5]:
                print(f"{t} {key}: {name}: {err}")
            if len(d["errors"]) > 5:
                print(f"{t} {key}: ... {len(d['errors']) - 5} more images with errors")


def _jsonable(x: Any) -> Any:
    if isinstance(x, Tally):
        return {"ratio": None if math.isnan(x.ratio) else x.ratio, "hit": x.hit,
                "total": x.total}
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    parser.add_argument("--docs", type=Path, default=DEFAULT_OUT, help="generated set folder")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="generated documents")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--limit", type=int, help="only the first N images of each folder")
    parser.add_argument("--veil-only", action="store_true", help="skip presidio-image-redactor")
    parser.add_argument("--presidio-fresh", action="store_true",
                        help="redo presidio's cached outputs")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    figures = measure(args)
    print_report(figures)
    if args.json:
        args.json.write_text(json.dumps(_jsonable(figures), indent=1) + "\n")


if __name__ == "__main__":
    main()
