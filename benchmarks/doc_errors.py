"""Fast loop for personal text in document images: OCR once, then re-run only the text rules.

Run with the project venv: ``/work/main/.venv/bin/python benchmarks/doc_errors.py
[--cache-only] [--misses FILE] [--folder generated|documents ...]``.

The first run reads every image of the generated set (``doc_data.py``) and of the corpus
documents once and pickles, per image, the OCR lines and the regions of the detectors that do
not depend on the text rules (faces, codes, plates) under ``benchmarks/.cache/ocr-lines/``.
Later runs redact each image from those (``ImageTextDetector.text_regions`` on the cached
lines, the default policy's operators) and score it like ``documents.py``: recall of ``pii``
boxes per entity and per kind, ``word`` boxes kept. ``--misses`` writes each missed value
with the page rows around it, for error analysis (personal values of fake or public data).
"""

from __future__ import annotations

import argparse
import json
import pickle
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from corpus_scoring import box_protected, grey, load_manifest, word_kept
from doc_data import DEFAULT_OUT
from veil import Redactor
from veil.detect import image_text
from veil.detect.image_text import ImageTextDetector, page_of
from veil.detect.ocr import Line
from veil.images import Picture, read_image
from veil.regions import Region

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "ocr-lines"
FOLDERS = {"generated": DEFAULT_OUT, "documents": Path("/work/shared/corpus/documents")}
WORD_PREFIXES = ("funsd_", "sroie_")


class Fixed:
    """A detector returning given regions (display pixels)."""

    name = "fixed"
    kinds: tuple[str, ...] = ("*",)

    def __init__(self, regions: list[Region]) -> None:
        self.regions = regions

    def detect(self, image: np.ndarray) -> list[Region]:
        return self.regions


def cached(key: str, folder: Path, name: str, redactor: Redactor) -> tuple[list[Line],
                                                                             list[Region]]:
    """OCR lines and non-text regions of one image, read once."""
    path = CACHE / key / (name + ".pkl")
    if path.is_file():
        data: tuple[list[Line], list[Region]] = pickle.loads(path.read_bytes())
        return data
    lines_seen: list[Line] = []
    original = image_text.read_lines  # type: ignore[attr-defined]

    def spy(image: np.ndarray) -> list[Line]:
        lines = original(image)
        lines_seen.extend(lines)
        return lines

    setattr(image_text, "read_lines", spy)  # noqa: B010 (not re-exported: mypy)
    try:
        regions = redactor.scan(read_image(folder / name, redactor.policy.limits))
    finally:
        setattr(image_text, "read_lines", original)  # noqa: B010
    other = [r for r in regions if not r.kind.startswith("text.")]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps((lines_seen, other)))
    return lines_seen, other


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", nargs="*", default=list(FOLDERS))
    parser.add_argument("--cache-only", action="store_true")
    parser.add_argument("--misses", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--lost", type=Path, help="write the words not kept here")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    redactor = Redactor()
    text = next(d for d in redactor.detectors if isinstance(d, ImageTextDetector))
    misses: list[dict[str, Any]] = []
    lost: list[str] = []
    figures: dict[str, Any] = {}
    for key in args.folder:
        folder = FOLDERS[key]
        pii: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        words: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for rec in load_manifest(folder)[: args.limit]:
            name = str(rec["file"])
            lines, other = cached(key, folder, name, redactor)
            if args.cache_only:
                continue
            picture: Picture = read_image(folder / name, redactor.policy.limits)
            display = picture.display_rgb()
            found = other + text.text_regions(display, lines)
            result, _ = Redactor(redactor.policy, [Fixed(found)]).redact(picture)
            orig = grey(folder / name)
            out = np.asarray(result.to_pil().convert("L"), dtype=np.float64)
            kind = str(rec.get("kind", name.split("_")[0]))
            page = None
            for box in rec.get("boxes", []):
                label = box.get("label")
                if label == "pii":
                    ok = box_protected(orig, out, box["xyxy"])
                    for k in ("all", "e:" + str(box.get("entity")), "k:" + kind):
                        pii[k][0] += ok
                        pii[k][1] += 1
                    if not ok and args.misses is not None:
                        page = page or page_of(lines)
                        misses.append(_miss(name, kind, box, page, found))
                elif label == "word" and (key != "documents" or name.startswith(WORD_PREFIXES)):
                    ok = word_kept(orig, out, box["xyxy"])
                    if not ok:
                        lost.append(f"{name}\t{box.get('text')}\t{box['xyxy']}")
                    for k in ("all", "k:" + kind):
                        words[k][0] += ok
                        words[k][1] += 1
        if args.cache_only:
            continue
        figures[key] = {"pii": dict(pii), "words": dict(words)}
        print(f"== {key}")
        for k in sorted(pii, key=lambda k: (k != "all", k[0], -pii[k][1])):
            w = words.get(k)
            kept = f"   kept {w[0] / w[1]:.3f} ({w[0]}/{w[1]})" if w else ""
            print(f"  {k:32} {pii[k][0] / pii[k][1]:.3f} ({pii[k][0]}/{pii[k][1]}){kept}")
        for k in sorted(set(words) - set(pii)):
            w = words[k]
            print(f"  {k:32} kept {w[0] / w[1]:.3f} ({w[0]}/{w[1]})")
    if args.misses is not None:
        args.misses.write_text("\n".join(json.dumps(m, ensure_ascii=False) for m in misses))
    if args.lost is not None:
        args.lost.write_text("\n".join(lost) + "\n")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))


def _miss(name: str, kind: str, box: dict[str, Any], page: image_text.Page,
          found: list[Region]) -> dict[str, Any]:
    """A missed value, the page rows it overlaps and the regions touching it."""
    x1, y1, x2, y2 = box["xyxy"]
    rows = sorted({page.rows[i] for i, w in enumerate(page.words)
                   if w.box[1] < y2 and w.box[3] > y1})
    text_rows = page.text.split("\n")
    touching = [f"{r.kind}:{r.text}" for r in found
                if r.box[0] < x2 and r.box[2] > x1 and r.box[1] < y2 and r.box[3] > y1]
    return {"file": name, "kind": kind, "entity": box.get("entity"), "value": box.get("text"),
            "rows": [text_rows[r] for r in rows], "regions": touching}


if __name__ == "__main__":
    main()
