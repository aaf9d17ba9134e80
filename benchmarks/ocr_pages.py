"""Turned pages and the second OCR reading on the shared corpus (real third-party images).

For every picture: the orientation Veil judges (anything but 1 on these upright pictures is
a false turn); for every document also turned by 90, 180 and 270 degrees: whether the
orientation that undoes it is found; and how often the second reading (Tesseract) runs on
these Latin-script pictures, and what it costs.
Run: .venv/bin/python benchmarks/ocr_pages.py [FOLDER...] [--no-turned]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from veil.detect import ocr
from veil.images import read_image
from veil.policy import Limits, OcrSettings
from veil.timing import stages

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FOLDERS = ("documents", "photos_hires", "plates", "faces")
UNDO = {1: 6, 2: 3, 3: 8}  # np.rot90 quarters -> the EXIF orientation that undoes them


def main() -> None:
    """Arguments: folders to run (default all); --no-turned skips the turned documents."""
    scripts = OcrSettings().scripts
    turned_too = "--no-turned" not in sys.argv
    for folder in [a for a in sys.argv[1:] if not a.startswith("-")] or FOLDERS:
        files = sorted(p for p in (CORPUS / folder).iterdir()
                       if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        false_turns, reread, costs, total = [], 0, [], []
        turned_right, turned_all = 0, 0
        for path in files:
            rgb = read_image(path, Limits()).display_rgb()
            start = time.perf_counter()
            with stages() as times:
                orientation, _, _ = ocr.read_upright(rgb, 0.0, scripts)
            total.append(time.perf_counter() - start)
            if orientation != 1:
                false_turns.append(f"{path.name}:{orientation}")
            if "ocr.scripts" in times:
                reread += 1
                costs.append(times["ocr.scripts"] / 1000)
            if folder == "documents" and turned_too:
                bgr = np.ascontiguousarray(rgb[..., ::-1])
                for quarters, want in UNDO.items():
                    turned = np.ascontiguousarray(np.rot90(bgr, quarters))
                    turned_all += 1
                    turned_right += ocr.page_orientation(turned, ocr.find_text(turned)) == want
        line = (f"{folder}: {len(files)} pictures, false turns {len(false_turns)} "
                f"{false_turns}, second reading ran on {reread}"
                f" (median {statistics.median(costs):.2f} s)" if costs else
                f"{folder}: {len(files)} pictures, false turns {len(false_turns)} "
                f"{false_turns}, second reading ran on 0")
        line += f"; OCR median {statistics.median(total):.2f} s/picture"
        if turned_all:
            line += f"; turned documents judged right {turned_right}/{turned_all}"
        print(line, flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
