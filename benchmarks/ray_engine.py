"""`veil redact --engine ray` beside the local engine on one machine, alternating.

Runs the whole command as a user does (`veil redact FOLDER --out DIR --force`), in turn
with ``--engine local`` and ``--engine ray`` (a local Ray instance started by the command),
``--rounds`` times each, over ``../shared/corpus/faces`` by default. Prints per engine the
wall time of each run, and files per second two ways: over the whole command (models and,
for Ray, the instance started) and over the redaction alone (sum of the report's per-file
times divided by the workers, which is what a long run on many files tends to).
Usage: ``.venv/bin/python benchmarks/ray_engine.py [--corpus ../shared/corpus] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VEIL = Path(sys.executable).with_name("veil")


def run(engine: str, folder: Path, out: Path, workers: int) -> tuple[float, int, float]:
    """(wall seconds, files done, sum of per-file seconds) of one run."""
    report = out.with_suffix(".jsonl")
    start = time.perf_counter()
    done = subprocess.run([str(VEIL), "redact", str(folder), "--out", str(out), "--force",
                           "--report", str(report), "--workers", str(workers),
                           "--engine", engine], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    lines = [json.loads(x) for x in report.read_text().splitlines()] if report.exists() else []
    files = [x for x in lines if "ms" in x]
    if done.returncode not in (0, 1) or not files:
        raise SystemExit(f"{engine} run failed: {done.stderr[-2000:]}")
    return wall, len(files), sum(float(x["ms"]) for x in files) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    parser.add_argument("--set", default="faces")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    folder = args.corpus / args.set
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    work: dict[str, list[float]] = {"local": [], "ray": []}
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for engine in ("local", "ray") if i % 2 == 0 else ("ray", "local"):
                wall, count, busy = run(engine, folder, Path(tmp) / engine, args.workers)
                walls[engine].append(wall)
                work[engine].append(busy)
                print(f"round {i + 1} {engine}: {wall:.1f} s for {count} files", flush=True)
    for engine in ("local", "ray"):
        wall = statistics.median(walls[engine])
        busy = statistics.median(work[engine]) / args.workers
        print(f"{engine}: median {wall:.1f} s per run = {count / wall:.2f} files/s whole "
              f"command; {count / busy:.2f} files/s redaction alone ({args.workers} workers)")
    ratio = statistics.median(walls["local"]) / statistics.median(walls["ray"])
    busy_ratio = statistics.median(work["local"]) / statistics.median(work["ray"])
    print(f"ray / local throughput: {ratio:.2f} whole command, {busy_ratio:.2f} redaction alone")


if __name__ == "__main__":
    main()
