"""Full-resolution photos: Veil beside deface 1.5.0, in one run, alternating photo by photo.

Over ``../shared/corpus/photos_hires`` (real camera and phone photos, 3.5 to 16 MP) and
``../shared/corpus/faces``. For every photo, in turn: Veil with the default policy and
with the faces-only policy (one warm process, models loaded once: ``Redactor.redact_file``,
read to write), deface in a warm worker process (its ``image_detect`` with its CLI
defaults), and the whole ``deface`` command as a process. Alternating the four spreads
machine noise over all of them.

Prints per set: time per photo (median, p90) for each, Veil's stage times, false face
regions per photo without people (every face region there is false), and face recall by
the corpus rule on photos with people (deface with its default blur, whose faces often stay
recognisable by that rule on large photos). Usage:
``.venv/bin/python benchmarks/photos.py [--corpus ../shared/corpus] [--sets photos_hires,faces]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from corpus_scoring import load_manifest, score_images
from deface_reference import VENV, VENV_PY, ensure_venv
from veil.pipeline import Redactor
from veil.policy import Policy

ROOT = Path(__file__).resolve().parent.parent
FACES_ONLY = Policy.from_dict({"kinds": {k: {"enabled": False} for k in ("text", "plate", "code")}})

# Executed by the deface venv's python: one warm worker; reads "src\tdst" lines, answers
# with JSON (ms of image_detect, faces found at the CLI's threshold).
WORKER = r"""
import json, sys, time
import imageio.v2 as iio
from deface import deface as d
sys.argv = ["deface", "unused"]
a = d.parse_cli_args()
cf = d.CenterFace(backend=a.backend, override_execution_provider=a.execution_provider)
for line in sys.stdin:
    src, dst = line.rstrip("\n").split("\t")
    t0 = time.perf_counter()
    d.image_detect(ipath=src, opath=dst, centerface=cf, threshold=a.thresh,
                   replacewith=a.replacewith, mask_scale=a.mask_scale, ellipse=not a.boxes,
                   draw_scores=False, enable_preview=False, keep_metadata=False,
                   replaceimg=None, mosaicsize=a.mosaicsize)
    ms = (time.perf_counter() - t0) * 1e3
    dets, _ = cf(iio.imread(src), threshold=a.thresh)
    print("RESULT", json.dumps({"ms": ms, "faces": int(len(dets))}), flush=True)
"""


class DefaceWorker:
    """deface 1.5.0 in its own venv, warm, one photo per request."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([str(VENV_PY), "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def run(self, src: Path, dst: Path) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{src}\t{dst}\n")
        self.proc.stdin.flush()
        while True:  # deface prints lines of its own
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the deface worker stopped")
            if line.startswith("RESULT "):
                result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
                return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def deface_cli_ms(src: Path, dst: Path) -> float:
    """Wall ms of the whole ``deface`` command on one photo (start-up included)."""
    start = time.perf_counter()
    subprocess.run([str(VENV / "bin" / "deface"), str(src), "-o", str(dst)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1e3


def measure(folder: Path, redactors: dict[str, Redactor], worker: DefaceWorker,
            out: Path) -> dict[str, Any]:
    records = load_manifest(folder)
    ms: dict[str, list[float]] = defaultdict(list)
    stage_ms: dict[str, list[float]] = defaultdict(list)
    false_faces: dict[str, list[int]] = defaultdict(list)
    for rec in records:
        src = folder / rec["file"]
        no_people = rec.get("people") is False
        for job, redactor in redactors.items():
            report = redactor.redact_file(src, out / job / rec["file"])
            ms[f"veil {job}"].append(report.ms)
            if job == "default":
                for name, value in report.stages.items():
                    stage_ms[name].append(value)
            if no_people:
                false_faces[f"veil {job}"].append(report.counts().get("face", 0))
        result = worker.run(src, out / "deface" / rec["file"])
        ms["deface warm"].append(result["ms"])
        if no_people:
            false_faces["deface"].append(result["faces"])
        ms["deface process"].append(deface_cli_ms(src, out / "deface-cli" / rec["file"]))
    recall = {name: score_images(folder, out / name) for name in (*redactors, "deface")}
    megapixels = [r["width"] * r["height"] / 1e6 for r in records]
    return {"set": folder.name, "photos": len(records), "megapixels": megapixels, "ms": ms,
            "files": [r["file"] for r in records],
            "stages": stage_ms, "false_faces": false_faces, "recall": recall}


def report(result: dict[str, Any]) -> None:
    mp = result["megapixels"]
    print(f"\n## {result['set']}: {result['photos']} photos, {min(mp):.1f} to {max(mp):.1f} MP")
    big = [i for i, m in enumerate(mp) if m >= 8]
    print(f"{'tool':18} {'ms median':>10} {'ms p90':>8} {'median >= 8 MP':>15} ({len(big)} photos)")
    for name, values in result["ms"].items():
        large = statistics.median([values[i] for i in big]) if big else float("nan")
        print(f"{name:18} {statistics.median(values):10.0f} {np.percentile(values, 90):8.0f} "
              f"{large:15.0f}")
    slowest = sorted(zip(result["ms"]["veil default"], result["files"], strict=True))[-3:]
    print("slowest with the default policy: "
          + ", ".join(f"{name} {ms:.0f} ms" for ms, name in reversed(slowest)))
    stages = ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in result["stages"].items())
    print(f"veil default, median ms per stage: {stages}")
    for name, counts in result["false_faces"].items():
        print(f"false face regions, {name}: {sum(counts)} on {len(counts)} photos without "
              f"people ({sum(counts) / max(1, len(counts)) * 10:.1f} per 10 photos; "
              f"{sum(c > 0 for c in counts)} photos with any)")
    for name, scores in result["recall"].items():
        if scores["n_boxes"]:
            print(f"face recall, {name}: all {scores['recall_all']:.3f} "
                  f"(h>=16 {scores['recall_min_height']:.3f}, {scores['n_boxes']} faces), "
                  f"background changed {scores['background_changed']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--sets", default="photos_hires,faces")
    args = parser.parse_args()
    ensure_venv()
    redactors = {"default": Redactor(Policy()), "faces": Redactor(FACES_ONLY)}
    for redactor in redactors.values():
        redactor.warm_up()
    worker = DefaceWorker()
    try:
        with tempfile.TemporaryDirectory(prefix="veil-photos-") as tmp:
            for name in args.sets.split(","):
                out = Path(tmp) / name
                for sub in (*redactors, "deface", "deface-cli"):
                    (out / sub).mkdir(parents=True)
                report(measure(args.corpus / name, redactors, worker, out))
    finally:
        worker.close()


if __name__ == "__main__":
    main()
