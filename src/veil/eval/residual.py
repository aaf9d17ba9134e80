"""``veil eval residual``: run Veil on a folder, then attack its outputs.

Known values are, with a manifest, the text of its ``pii`` and ``plate`` boxes and its
``face`` boxes; without one, what Veil itself found in the input (the text of its text
and plate regions, its face boxes). A second OCR reads input and output whole, and the
text detector (every kind, whatever the policy) looks for personal values in all it read:
those it finds in the input, and those it finds in the output that the reader also read
in the input (a surrogate the ``replace`` operator drew is not a leak), are known values
too, so a value Veil never found still counts, with or without a manifest. A value
*leaks* when the second reader reads it in the output; the rate is taken over the values
it could read in the input. A face detector at a very low threshold looks at the output outside the
face regions Veil hid (inside them it fires on the hidden head's outline, not on a face):
a known face it finds there leaks, and any detection there may be a face Veil missed.
Context kept: the words the reader read confidently in the input (known values left out)
that it still reads in the output. With a manifest, the corpus rule scores every box by SSIM.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from veil.detect.base import Detector
from veil.detect.faces import DEFAULT_THRESHOLD as VEIL_FACE_THRESHOLD
from veil.detect.faces import CenterFace
from veil.detect.image_text import ImageTextDetector
from veil.detect.ocr import Line
from veil.errors import VeilError
from veil.eval import scoring
from veil.eval.attack import SecondReader, readable, words_of
from veil.eval.metrics import normalise, tokens
from veil.images import Picture, box_to_stored, decode_image, encode_image, read_image
from veil.pipeline import Redactor, default_detectors
from veil.policy import Policy
from veil.pseudo.engine import default_detector
from veil.regions import Box, Region

ATTACK_FACE_THRESHOLD = 0.02
"""Score from which the attacking face detector reports a face (Veil hides from 0.12)."""
MIN_VALUE_CHARS = 3
"""Known values shorter than this (letters and digits) are not looked for: "M", "[F]"."""
CONTEXT_CONFIDENCE = 0.6
"""Context words are the words the reader read in the input with this confidence or more
(on photos, low-confidence reads are noise that any change of pixels reshuffles)."""
GT_LABELS = ("face", "plate", "pii", "word")


class _Recording:
    """Wraps a detector and keeps what it found in the last image."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.name = inner.name
        self.kinds = inner.kinds
        self.found: list[Region] = []

    def detect(self, image: np.ndarray) -> list[Region]:
        self.found = list(self.inner.detect(image))
        return self.found


@dataclass
class Known:
    """What should not be read or seen in the output of one image."""

    values: list[tuple[str, str]] = field(default_factory=list)
    """(kind, value); never written to a report."""
    from_reader: int = 0
    """How many of ``values`` only the second reader and the text detector found."""
    faces: list[Box] = field(default_factory=list)
    """Stored-pixel boxes."""


@dataclass
class ImageResult:
    """The counts for one image (no values)."""

    file: str
    ms: float
    attack_ms: float
    regions: dict[str, int]
    values: Counter[str] = field(default_factory=Counter)
    before: Counter[str] = field(default_factory=Counter)
    after: Counter[str] = field(default_factory=Counter)
    from_reader: int = 0
    from_reader_after: int = 0
    faces: int = 0
    faces_before: int = 0
    faces_after: int = 0
    detections_after: int = 0
    detections_outside: int = 0
    detections_outside_strong: int = 0
    words_before: int = 0
    words_kept: int = 0
    pixels_changed: float = 0.0
    gt: dict[str, list[float]] | None = None
    background_changed: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "file": self.file, "ms": round(self.ms, 1), "attack_ms": round(self.attack_ms, 1),
            "regions": self.regions, "values": dict(self.values),
            "readable_before": dict(self.before), "readable_after": dict(self.after),
            "values_from_reader": self.from_reader,
            "values_from_reader_leaked": self.from_reader_after,
            "faces": self.faces, "faces_found_before": self.faces_before,
            "faces_found_after": self.faces_after,
            "face_detections_after": self.detections_after,
            "face_detections_outside_hidden": self.detections_outside,
            "face_detections_outside_hidden_strong": self.detections_outside_strong,
            "context_words": self.words_before,
            "context_words_kept": self.words_kept,
            "pixels_changed": round(self.pixels_changed, 5),
        }
        if self.gt is not None:
            out["ssim"] = {label: [round(s, 4) for s in v] for label, v in self.gt.items()}
            out["background_changed"] = self.background_changed
        return out


class ResidualAttack:
    """Runs Veil on images, then attacks each output."""

    def __init__(self, policy: Policy, reader: SecondReader,
                 face_threshold: float = ATTACK_FACE_THRESHOLD) -> None:
        self.policy = policy
        self.detectors = [_Recording(d) for d in default_detectors(policy)]
        self.redactor = Redactor(policy, detectors=self.detectors)
        self.reader = reader
        self.text = ImageTextDetector(default_detector(), text=True, plates=False)
        self.faces = CenterFace(threshold=face_threshold, margin=0.0)

    def run(self, src: Path, name: str, truth: dict[str, Any] | None
            ) -> tuple[ImageResult, Picture, Picture, bytes]:
        """Redact one image and attack the output; also the input, output and its bytes."""
        picture = read_image(src, self.policy.limits)
        start = time.perf_counter()
        out, report = self.redactor.redact(picture)
        data = encode_image(out, self.policy.jpeg_quality)
        ms = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        output = decode_image(data, self.policy.limits)
        known = self._known(picture, truth)
        result = ImageResult(name, ms, 0.0, report.counts())
        rgb_in, rgb_out = picture.display_rgb(), output.display_rgb()
        lines_in, lines_out = self.reader.lines(rgb_in), self.reader.lines(rgb_out)
        read_in, read_out = words_of(lines_in), words_of(lines_out)
        words_in, words_out = [w for w, _ in read_in], [w for w, _ in read_out]
        self._add_read_values(known, rgb_in, lines_in, words_in)
        self._add_read_values(known, rgb_out, lines_out, words_in)
        first_from_reader = len(known.values) - known.from_reader
        for n, (kind, value) in enumerate(known.values):
            result.values[kind] += 1
            if readable(value, words_in):
                result.before[kind] += 1
                if readable(value, words_out):
                    result.after[kind] += 1
                    result.from_reader_after += n >= first_from_reader
        result.from_reader = known.from_reader
        hidden = {t for _, v in known.values for t in tokens(v)}
        context = Counter(t for w, conf in read_in if conf >= CONTEXT_CONFIDENCE
                          for t in tokens(w) if len(t) >= MIN_VALUE_CHARS and t not in hidden)
        kept = context & Counter(t for w in words_out for t in tokens(w))
        result.words_before, result.words_kept = sum(context.values()), sum(kept.values())
        veiled = [a.box for a in report.actions if a.kind == "face"]
        found_in = [box for box, _ in self._faces(picture)]
        found_out = self._faces(output)
        outside = [(box, score) for box, score in found_out
                   if not any(_holds(h, box) for h in veiled)]
        result.faces = len(known.faces)
        result.faces_before = sum(any(_match(f, d) for d in found_in) for f in known.faces)
        result.faces_after = sum(any(_match(f, d) for d, _ in outside) for f in known.faces)
        result.detections_after = len(found_out)
        result.detections_outside = len(outside)
        result.detections_outside_strong = sum(s >= VEIL_FACE_THRESHOLD for _, s in outside)
        before, after = scoring.grey(src), scoring.grey(data)
        result.pixels_changed = float(np.mean(np.abs(before - after) > scoring.GREY_TOLERANCE))
        if truth is not None:
            boxes = truth.get("boxes", [])
            result.gt = {label: [scoring.box_ssim(before, after, b["xyxy"]) for b in boxes
                                 if b.get("label") == label] for label in GT_LABELS}
            result.background_changed = scoring.background_changed_share(
                before, after, [b["xyxy"] for b in boxes])
        result.attack_ms = (time.perf_counter() - start) * 1000
        return result, picture, out, data

    def _known(self, picture: Picture, truth: dict[str, Any] | None) -> Known:
        known = Known()
        if truth is not None:
            for box in truth.get("boxes", []):
                label, text = box.get("label"), str(box.get("text") or "")
                if label == "face":
                    x1, y1, x2, y2 = (round(float(v)) for v in box["xyxy"])
                    known.faces.append((x1, y1, x2, y2))
                elif label in ("pii", "plate") and len(normalise(text)) >= MIN_VALUE_CHARS:
                    known.values.append((str(label), text))
            return known
        regions = [r for d in self.detectors for r in d.found if self._wanted(r)]
        for region in regions:
            if region.kind == "face":
                known.faces.append(box_to_stored(region.box, picture.orientation,
                                                 picture.size))
            elif region.text and len(normalise(region.text)) >= MIN_VALUE_CHARS:
                known.values.append((region.kind, region.text))
        return known

    def _add_read_values(self, known: Known, rgb: np.ndarray, lines: list[Line],
                         words_in: list[str]) -> None:
        """Add the personal values the text detector finds in what the second reader read
        (only those also read in the input: the output may hold drawn surrogates)."""
        seen = {normalise(v) for _, v in known.values}
        for region in self.text.text_regions(rgb, lines):
            value = region.text or ""
            key = normalise(value)
            if len(key) >= MIN_VALUE_CHARS and key not in seen and readable(value, words_in):
                seen.add(key)
                known.values.append((region.kind, value))
                known.from_reader += 1

    def _wanted(self, region: Region) -> bool:
        rule = self.policy.rule(region.kind)
        return rule.enabled and (rule.threshold is None or region.score >= rule.threshold)

    def _faces(self, picture: Picture) -> list[tuple[Box, float]]:
        found = self.faces.detect(picture.display_rgb())
        return [(box_to_stored(r.box, picture.orientation, picture.size), r.score)
                for r in found]


def _match(truth: Box, found: Box) -> bool:
    """The detection is on the known face: IoU >= 0.3, or each holds the other's centre."""
    ix = max(0, min(truth[2], found[2]) - max(truth[0], found[0]))
    iy = max(0, min(truth[3], found[3]) - max(truth[1], found[1]))
    inter = ix * iy
    union = ((truth[2] - truth[0]) * (truth[3] - truth[1])
             + (found[2] - found[0]) * (found[3] - found[1]) - inter)
    if union > 0 and inter / union >= 0.3:
        return True

    return _holds(truth, found) and _holds(found, truth)


def _holds(box: Box, other: Box) -> bool:
    """``box`` holds the centre of ``other``."""
    cx, cy = (other[0] + other[2]) / 2, (other[1] + other[3]) / 2
    return box[0] <= cx < box[2] and box[1] <= cy < box[3]


def _ratio(k: int, n: int) -> float | None:
    return k / n if n else None


def summarise(results: Sequence[ImageResult], failures: Sequence[tuple[str, str]],
              reader: str, manifest: bool) -> dict[str, Any]:
    """The report: leak rate per kind, faces, context kept, over-redaction, time."""
    values: Counter[str] = Counter()
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    for r in results:
        values.update(r.values)
        before.update(r.before)
        after.update(r.after)
    leak = {k: {"values": values[k], "readable_before": before[k], "readable_after": after[k],
                "leak_rate": _ratio(after[k], before[k]), "leak_rate_all": _ratio(after[k],
                                                                                  values[k])}
            for k in sorted(values)}
    faces = sum(r.faces for r in results)
    faces_before = sum(r.faces_before for r in results)
    faces_after = sum(r.faces_after for r in results)
    words = sum(r.words_before for r in results)
    kept = sum(r.words_kept for r in results)
    ms = [r.ms for r in results]
    out: dict[str, Any] = {
        "images": len(results),
        "failed": len(failures),
        "failures": [{"file": f, "reason": why} for f, why in failures],
        "reader": reader,
        "face_threshold": ATTACK_FACE_THRESHOLD,
        "known_values_from": ("manifest" if manifest else "veil") + "+reader",
        "values_from_reader": {
            "values": sum(r.from_reader for r in results),
            "readable_after": sum(r.from_reader_after for r in results)},
        "leak": leak,
        "leak_rate": _ratio(sum(after.values()), sum(before.values())),
        "faces": {"known": faces, "found_before": faces_before, "found_after": faces_after,
                  "leak_rate": _ratio(faces_after, faces_before),
                  "leak_rate_all": _ratio(faces_after, faces),
                  "detections_after": sum(r.detections_after for r in results),
                  "detections_outside_hidden": sum(r.detections_outside for r in results),
                  "detections_outside_hidden_strong": sum(r.detections_outside_strong
                                                          for r in results)},
        "context": {"words": words, "kept": kept, "share_kept": _ratio(kept, words)},
        "over_redaction": {
            "pixels_changed": statistics.fmean(r.pixels_changed for r in results)
            if results else None},
        "ms_per_image": _times(ms),
        "attack_ms_per_image": _times([r.attack_ms for r in results]),
        "regions": dict(sum((Counter(r.regions) for r in results), Counter())),
    }
    scored = [r for r in results if r.gt is not None]
    if scored:
        gt: dict[str, Any] = {}
        for label in GT_LABELS:
            ssims = [s for r in scored for s in (r.gt or {}).get(label, [])]
            if not ssims:
                continue
            if label == "word":
                gt[label] = {"boxes": len(ssims), "kept": _ratio(
                    sum(s >= scoring.KEPT_FROM for s in ssims), len(ssims))}
            else:
                gt[label] = {"boxes": len(ssims), "protected": _ratio(
                    sum(s < scoring.PROTECTED_BELOW for s in ssims), len(ssims))}
        shares = [r.background_changed for r in scored if r.background_changed is not None]
        gt["background_changed"] = statistics.fmean(shares) if shares else None
        gt["images"] = len(scored)
        out["ground_truth"] = gt
        words_gt = gt.get("word")
        out["over_redaction"]["words_lost"] = (1 - words_gt["kept"]) if words_gt and \
            words_gt["kept"] is not None else None
        out["over_redaction"]["background_changed"] = gt["background_changed"]
    out["per_image"] = [r.to_dict() for r in results]
    return out


def _times(ms: Sequence[float]) -> dict[str, float | None]:
    if not ms:
        return {"mean": None, "median": None, "p90": None}
    ordered = sorted(ms)
    return {"mean": statistics.fmean(ms), "median": statistics.median(ms),
            "p90": ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]}


def manifest_records(paths: Sequence[Path]) -> dict[Path, dict[str, Any]]:
    """Ground truth by resolved image path; ``file`` is relative to its manifest's folder."""
    records: dict[Path, dict[str, Any]] = {}
    for path in paths:
        for record in scoring.load_manifest(path):
            records[(path.parent / str(record["file"])).resolve()] = record
    return records


Progress = Callable[[int, int], None]


def run_residual(files: Sequence[tuple[Path, str]], attack: ResidualAttack,
                 truth: dict[Path, dict[str, Any]] | None,
                 progress: Progress | None = None,
                 keep: Callable[[str, Picture, Picture, bytes], None] | None = None
                 ) -> tuple[list[ImageResult], list[tuple[str, str]]]:
    """Attack every file; ``keep`` sees (name, input, output, output bytes) of each."""
    results: list[ImageResult] = []
    failures: list[tuple[str, str]] = []
    for n, (src, name) in enumerate(files, 1):
        record = truth.get(src.resolve()) if truth is not None else None
        try:
            result, picture, out, data = attack.run(src, name, record)
        except VeilError as exc:
            failures.append((name, str(exc)))
        else:
            results.append(result)
            if keep is not None:
                keep(name, picture, out, data)
        if progress is not None:
            progress(n, len(files))
    return results, failures
