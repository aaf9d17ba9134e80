"""Licence plates on ../shared/corpus/plates, scored by the corpus rule; false plates on pages.

For every car photo: OCR (``read_lines``) then ``plate_regions``, timed together; the found
regions are filled (``Fill``) and each ground-truth plate counts as protected when the SSIM
of its grey crop before and after is below 0.5. Prints plate recall overall and per region
(us / eu / br), regions reported away from the plate in car photos, the share of background
changed, the number of plate regions reported on the FUNSD forms and SROIE receipts of
../shared/corpus/documents (all false; the other pages there are listed apart), and median /
p90 milliseconds per image. The OCR engine is loaded before the first timed image.

Usage: ``.venv/bin/python benchmarks/plates.py [--corpus ../shared/corpus] [-v]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from corpus_scoring import background_changed_share, box_protected, load_manifest
from veil.anonymize import Fill
from veil.detect.ocr import read_lines
from veil.detect.plates import plate_regions
from veil.regions import Region

ROOT = Path(__file__).resolve().parent.parent


def rgb(path: Path) -> np.ndarray:
    """The stored pixels as RGB uint8 (no EXIF rotation: boxes refer to stored pixels)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def grey_of(image: np.ndarray) -> np.ndarray:
    """Grey levels as the scoring rule computes them (PIL ``convert("L")``)."""
    return np.asarray(Image.fromarray(image).convert("L"), dtype=np.float64)


def find(image: np.ndarray) -> tuple[list[Region], float]:
    """Plate regions of an image and the milliseconds OCR plus plate rules took."""
    start = time.perf_counter()
    regions = plate_regions(image, read_lines(image, min_score=0.0))
    return regions, (time.perf_counter() - start) * 1000


def _apart(box: tuple[int, ...], others: list[list[float]]) -> bool:
    return all(min(box[2], o[2]) <= max(box[0], o[0]) or min(box[3], o[3]) <= max(box[1], o[1])
               for o in others)


def measure_plates(folder: Path, verbose: bool) -> dict[str, Any]:
    hits: dict[str, list[bool]] = defaultdict(list)
    ms: list[float] = []
    extra = 0
    changed: list[float] = []
    for rec in load_manifest(folder):
        image = rgb(folder / rec["file"])
        regions, elapsed = find(image)
        ms.append(elapsed)
        boxes = [b["xyxy"] for b in rec["boxes"] if b["label"] == "plate"]
        before, after = grey_of(image), grey_of(Fill().apply_all(image, regions))
        protected = [box_protected(before, after, b) for b in boxes]
        hits[rec.get("region", "?")].extend(protected)
        extra += sum(_apart(r.box, boxes) for r in regions)
        changed.append(background_changed_share(before, after, [b["xyxy"] for b in rec["boxes"]]))
        if verbose and not all(protected):
            print(f"  missed {rec['file']} ({len(regions)} regions)")
    every = [h for region in hits.values() for h in region]
    return {
        "plates": len(every),
        "recall": round(sum(every) / len(every), 3),
        "recall_by_region": {k: f"{sum(v)}/{len(v)} = {sum(v) / len(v):.3f}"
                             for k, v in sorted(hits.items())},
        "regions_away_from_the_plate": extra,
        "background_changed": round(float(np.mean(changed)), 4),
        "ms_median": round(float(np.median(ms))),
        "ms_p90": round(float(np.percentile(ms, 90))),
    }


def measure_documents(folder: Path, verbose: bool) -> dict[str, Any]:
    counts: dict[str, int] = defaultdict(int)
    pages: dict[str, int] = defaultdict(int)
    ms: list[float] = []
    for rec in load_manifest(folder):
        kind = "funsd+sroie" if rec["file"].startswith(("funsd", "sroie")) else "other"
        regions, elapsed = find(rgb(folder / rec["file"]))
        ms.append(elapsed)
        counts[kind] += len(regions)
        pages[kind] += 1
        if verbose and regions:
            print(f"  {len(regions)} plate(s) on {rec['file']}")
    return {
        "false_plates_funsd_sroie": counts["funsd+sroie"],
        "pages_funsd_sroie": pages["funsd+sroie"],
        "false_plates_other_pages": counts["other"],
        "pages_other": pages["other"],
        "ms_median": round(float(np.median(ms))),
        "ms_p90": round(float(np.percentile(ms, 90))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    read_lines(np.full((64, 64, 3), 255, np.uint8))  # load the OCR engine, untimed
    result = {
        "car_photos": measure_plates(args.corpus / "plates", args.verbose),
        "documents": measure_documents(args.corpus / "documents", args.verbose),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
