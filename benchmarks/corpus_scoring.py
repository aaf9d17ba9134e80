"""The evaluation corpus scoring rule (see /work/shared/corpus/README.md) as plain functions.

A ground-truth box is *protected* when the SSIM (7x7 window, grey levels) of its crop before
and after is below 0.5; a ``word`` box is *kept* when that SSIM is >= 0.8; background pixels
(outside every labelled box grown by 25 %) should stay within 30 grey levels. Boxes are in
stored-pixel coordinates with x2/y2 exclusive. The rule itself is ``veil.eval.scoring`` (the
one ``veil eval residual`` uses); this module adds the corpus-level summaries and the
metadata-leak check.

Usage: ``python benchmarks/corpus_scoring.py CORPUS_FOLDER OUT_FOLDER [LABEL]``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from veil.eval import scoring
from veil.eval.scoring import (
    PROTECTED_BELOW,
    Grey,
    background_changed_share,
    box_protected,
    box_ssim,
    crop_ssim,
    grey,
    word_kept,
)

__all__ = ["Grey", "background_changed_share", "box_protected", "box_ssim", "crop_ssim", "grey",
           "load_manifest", "metadata_leaks", "score_images", "word_kept"]

_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_CAMERA_TAGS = (0x010F, 0x0110)  # Make, Model (IFD0)
_IFD0_TIME_TAGS = (0x0132,)  # DateTime
_EXIF_TIME_TAGS = (0x9003, 0x9004)  # DateTimeOriginal, DateTimeDigitized
_SERIAL_TAGS = (0xA431, 0xA435)  # BodySerialNumber, LensSerialNumber
_MAKER_NOTE = 0x927C
_XMP_PACKET = re.compile(
    rb"<\?xpacket begin.*?<\?xpacket end[^>]*>|<x:xmpmeta.*?</x:xmpmeta>", re.S
)
LEAK_KEYS = ("gps", "serial", "camera", "timestamp")


def load_manifest(folder: Path) -> list[dict[str, Any]]:
    """Return the records of ``folder/manifest.jsonl`` (one JSON object per non-empty line)."""
    return scoring.load_manifest(folder / "manifest.jsonl")


def _ratio(k: int, n: int) -> float:
    return k / n if n else math.nan


def score_images(
    corpus_folder: Path, out_folder: Path, label: str = "face", min_height: int = 16
) -> dict[str, Any]:
    """Score the outputs in ``out_folder`` (same file names) against a corpus folder.

    Recall counts boxes of ``label``; ``recall_all`` includes every such box, also WIDER
    boxes flagged ``attrs.invalid == 1``; ``recall_min_height`` only boxes whose manifest
    height (y2 - y1) is >= ``min_height``; the extra ``recall_min_side`` only boxes whose
    width and height are both >= ``min_height``. An output that is missing, unreadable or of a
    different pixel size counts all its boxes as not protected, is listed in ``problems`` and
    is left out of ``background_changed`` (the mean over measured images of
    :func:`background_changed_share`, computed against all labelled boxes of any label).
    Ratios with an empty denominator are NaN.
    """
    per_image: list[dict[str, Any]] = []
    problems: list[str] = []
    totals = [0] * 6  # boxes, protected; tall boxes, protected; min-side boxes, protected
    shares: list[float] = []
    for rec in load_manifest(corpus_folder):
        name = str(rec["file"])
        all_boxes = [b["xyxy"] for b in rec.get("boxes", [])]
        boxes = [b["xyxy"] for b in rec.get("boxes", []) if b.get("label") == label]
        orig = grey(corpus_folder / name)
        out: Grey | None = None
        problem = None
        out_path = out_folder / name
        if not out_path.is_file():
            problem = "missing output"
        else:
            try:
                out = grey(out_path)
            except Exception as exc:  # any unreadable output is a scoring problem, not a crash
                problem = f"unreadable output ({type(exc).__name__}: {exc})"
            else:
                if out.shape != orig.shape:
                    problem = f"size (h, w) {out.shape} != {orig.shape}"
                    out = None
        if problem:
            problems.append(f"{name}: {problem}")
        ssims = [box_ssim(orig, out, b) if out is not None else 1.0 for b in boxes]
        tall = [b[3] - b[1] >= min_height for b in boxes]
        hits = [s < PROTECTED_BELOW and out is not None for s in ssims]
        n, k = len(boxes), sum(hits)
        big = [min(b[2] - b[0], b[3] - b[1]) >= min_height for b in boxes]
        n_h, k_h = sum(tall), sum(h and t for h, t in zip(hits, tall, strict=True))
        n_s, k_s = sum(big), sum(h and t for h, t in zip(hits, big, strict=True))
        share = background_changed_share(orig, out, all_boxes) if out is not None else None
        if share is not None:
            shares.append(share)
        per_image.append(
            {
                "file": name,
                "n_boxes": n,
                "n_protected": k,
                "n_boxes_min_height": n_h,
                "n_protected_min_height": k_h,
                "background_changed": share,
                "ssim": [round(s, 4) for s in ssims] if out is not None else None,
                "problem": problem,
            }
        )
        totals = [t + v for t, v in zip(totals, (n, k, n_h, k_h, n_s, k_s), strict=True)]
    n, k, n_h, k_h, n_s, k_s = totals
    return {
        "recall_all": _ratio(k, n),
        "recall_min_height": _ratio(k_h, n_h),
        "n_boxes": n,
        "n_boxes_min_height": n_h,
        "recall_min_side": _ratio(k_s, n_s),
        "n_boxes_min_side": n_s,
        "background_changed": float(np.mean(shares)) if shares else math.nan,
        "per_image": per_image,
        "problems": problems,
    }


def _has(tags: Mapping[int, Any], keys: Sequence[int]) -> bool:
    """True when any of ``keys`` is present with a non-blank value."""
    for key in keys:
        value = tags.get(key)
        if isinstance(value, bytes):
            value = value.strip(b"\x00 ")
        elif isinstance(value, str):
            value = value.strip("\x00 ")
        if value not in (None, b"", ""):
            return True
    return False


def metadata_leaks(path: Path) -> dict[str, bool]:
    """Which kinds of identifying metadata a file still holds.

    - ``gps``: the EXIF GPS IFD (0x8825) has any entry, or "GPS" occurs in XMP;
    - ``serial``: BodySerialNumber 0xA431 / LensSerialNumber 0xA435, or "SerialNumber" text in
      XMP or in the maker note 0x927C (binary maker-note serials are not decoded);
    - ``camera``: Make 0x010F / Model 0x0110;
    - ``timestamp``: DateTime 0x0132, DateTimeOriginal 0x9003, DateTimeDigitized 0x9004.

    XMP is read from Pillow's ``info["xmp"]`` and from raw XMP packets in the file bytes.
    Never raises: if Pillow cannot open the file or parse its EXIF, every key is reported
    True when the raw bytes still contain an EXIF block (b"Exif" or PNG "eXIf"), else False;
    unparseable metadata cannot be shown to be clean, so it counts as a leak.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return dict.fromkeys(LEAK_KEYS, False)
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            gps_ifd = exif.get_ifd(_GPS_IFD)
            exif_ifd = exif.get_ifd(_EXIF_IFD)
            info_xmp = im.info.get("xmp", b"")
    except Exception:
        present = b"Exif" in raw or b"eXIf" in raw
        return dict.fromkeys(LEAK_KEYS, present)
    if isinstance(info_xmp, str):
        info_xmp = info_xmp.encode("utf-8", "replace")
    xmp = b"\n".join([info_xmp if isinstance(info_xmp, bytes) else b"", *_XMP_PACKET.findall(raw)])
    maker_note = exif_ifd.get(_MAKER_NOTE, b"")
    maker_bytes = maker_note if isinstance(maker_note, bytes) else str(maker_note).encode()
    return {
        "gps": len(gps_ifd) > 0 or b"GPS" in xmp,
        "serial": _has(exif_ifd, _SERIAL_TAGS)
        or b"SerialNumber" in xmp
        or b"SerialNumber" in maker_bytes,
        "camera": _has(exif, _CAMERA_TAGS),
        "timestamp": _has(exif, _IFD0_TIME_TAGS) or _has(exif_ifd, _EXIF_TIME_TAGS),
    }


def main(argv: Sequence[str]) -> int:
    """Print the figures for ``CORPUS_FOLDER OUT_FOLDER [LABEL]``; returns an exit code."""
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-1] if __doc__ else "", file=sys.stderr)
        return 2
    corpus, out = Path(argv[0]), Path(argv[1])
    result = score_images(corpus, out, argv[2] if len(argv) == 3 else "face")
    summary = {k: v for k, v in result.items() if k != "per_image"}
    names = [str(r["file"]) for r in load_manifest(corpus) if (out / str(r["file"])).is_file()]
    leaks = [metadata_leaks(out / n) for n in names]
    summary["metadata_leaks"] = {k: sum(d[k] for d in leaks) for k in LEAK_KEYS}
    summary["metadata_checked"] = len(leaks)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
