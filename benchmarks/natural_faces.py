"""What the ``synthesize`` operator keeps and removes, on ../shared/corpus/faces (crowds,
group photos, masked faces) and ../shared/corpus/photos_hires (camera and phone photos,
scaled to at most ``MAX_SIDE`` px: faces there are still 60 to 1,000 px tall).

For every picture the face detector's regions are hidden by ``synthesize`` (identities
from one session) and, alternating picture by picture for the timing, by ``blur`` (the
peer). Then, on every ground-truth face at least ``--min-height`` px tall that a region
covers:

- identity: an independent face-recognition model, dlib's ResNet embeddings
  (``face-recognition-models`` with ``dlib-bin``, installed into
  ``benchmarks/.cache/dlib-venv``, evaluation only), compares the face before and after in
  the ground-truth box; a distance below 0.6 (that model's authors' threshold) is a
  match, i.e. the person is still recognised. The same for blurs of the same regions at
  several strengths and for the untouched face saved as JPEG quality 75 (the baseline:
  how often the model recognises a face at all at these sizes);
- detection kept: whether the face detector still finds a face there;
- expression kept: eye and mouth aspect ratios (MediaPipe landmarks) before and after;
- time per face (ms), synthesize and blur, on the machine's cores.

Identities of ``--sessions`` more sessions are drawn on the same faces too (identity
only), since a few faces near the threshold flip with the identity drawn.

Usage: ``.venv/bin/python benchmarks/natural_faces.py [--corpus ../shared/corpus]
[--out FOLDER]`` (``--out`` keeps the pictures for a look).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from corpus_scoring import box_ssim, load_manifest
from veil.anonymize import Blur, Fill, Synthesize
from veil.detect.faces import CenterFace
from veil.detect.landmarks import face_mesh
from veil.regions import Box, Region

HERE = Path(__file__).resolve().parent
VENV = HERE / ".cache" / "dlib-venv"
VENV_PY = VENV / "bin" / "python"
MATCH = 0.6
MAX_SIDE = 2048
"""Longer side (px) the camera photos are scaled to, with their boxes: the evaluation
writes every variant of every picture to disk for the recognition model."""
BLURS = (0.05, 0.1, 0.25, 1.0)
SIZES = ((24, 48), (48, 96), (96, 10_000))
EYES = ((159, 145, 33, 133), (386, 374, 263, 362))
"""Upper lid, lower lid, outer and inner corner of each eye (MediaPipe indices)."""
MOUTH = (13, 14, 78, 308)

# Run by the dlib venv's python: argv[1] a JSON job [{file, boxes}], argv[2] the result
# file: one 128-number descriptor per box.
EMBED = r"""
import json, sys
import dlib, face_recognition_models as m
shape = dlib.shape_predictor(m.pose_predictor_five_point_model_location())
net = dlib.face_recognition_model_v1(m.face_recognition_model_location())
out = []
for item in json.load(open(sys.argv[1])):
    img = dlib.load_rgb_image(item["file"])
    descs = []
    for x1, y1, x2, y2 in item["boxes"]:
        rect = dlib.rectangle(int(x1), int(y1), int(x2) - 1, int(y2) - 1)
        descs.append(list(net.compute_face_descriptor(img, shape(img, rect))))
    out.append(descs)
json.dump(out, open(sys.argv[2], "w"))
"""


def ensure_venv() -> None:
    """Create the evaluation venv with dlib and its face models if needed."""
    if not VENV_PY.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = "import dlib, face_recognition_models, numpy"
    if subprocess.run([str(VENV_PY), "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([str(VENV_PY), "-m", "pip", "install", "-q", "dlib-bin",
                        "face-recognition-models", "numpy"], check=True)


@dataclass
class Face:
    """One ground-truth face covered by a detector region."""

    image: int
    dataset: str
    box: Box
    region: Box
    synthesized: bool
    found_after: bool = False
    ratios: tuple[list[float], list[float], list[float]] | None = None
    """Eye and mouth aspect ratios: original, synthesized, original as JPEG q75."""
    distance: dict[str, float] = field(default_factory=dict)


def aspect(points: np.ndarray) -> list[float]:
    """Eye aspect ratio (both eyes' mean) and mouth aspect ratio."""
    def ratio(top: int, bottom: int, a: int, b: int) -> float:
        return float(np.linalg.norm(points[top, :2] - points[bottom, :2])
                     / max(np.linalg.norm(points[a, :2] - points[b, :2]), 1e-6))
    return [float(np.mean([ratio(*e) for e in EYES])), ratio(*MOUTH)]


def covering(gt: Box, regions: list[Region]) -> Region | None:
    cx, cy = (gt[0] + gt[2]) / 2, (gt[1] + gt[3]) / 2
    for r in regions:
        x1, y1, x2, y2 = r.box
        if x1 <= cx < x2 and y1 <= cy < y2:
            return r
    return None


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def painted_black(image: np.ndarray, out: np.ndarray, regions: list[Region]) -> np.ndarray:
    """``image`` black over what synthesize changed in each region (the convex hull of
    the changed pixels): what the face's surroundings alone give the model."""
    changed = (image != out).any(axis=2).astype(np.uint8)
    black = image.copy()
    for r in regions:
        x1, y1, x2, y2 = r.box
        points = cv2.findNonZero(changed[y1:y2, x1:x2])
        if points is not None and len(points) >= 3:
            hull = np.zeros(image.shape[:2], np.uint8)
            cv2.fillConvexPoly(hull, cv2.convexHull(points + np.array([x1, y1], np.int32)), 1)
            black[hull.astype(bool)] = 0
    return black


def picture(path: Path) -> tuple[np.ndarray, float]:
    """A picture in its stored pixels (the boxes' frame), scaled to at most ``MAX_SIDE``
    px, and the scale."""
    image = Image.open(path).convert("RGB")
    zoom = min(1.0, MAX_SIDE / max(image.size))
    if zoom < 1:
        image = image.resize((round(image.width * zoom), round(image.height * zoom)),
                             Image.Resampling.LANCZOS)
    return np.asarray(image), zoom


def jpeg(image: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=75)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared" / "corpus")
    parser.add_argument("--min-height", type=int, default=24)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--sets", nargs="+", default=["faces", "photos_hires"])
    args = parser.parse_args()
    ensure_venv()
    detector = CenterFace()
    synthesize = Synthesize().for_session("natural-faces benchmark")
    blur = Blur()
    faces: list[Face] = []
    times: dict[str, list[float]] = {"synthesize": [], "blur": []}
    region_count = 0
    per_face: dict[str, list[float]] = {"synthesize": [], "blur": []}
    variants: dict[str, list[np.ndarray]] = {"original": [], "synthesize": [], "jpeg75": [],
                                             "fill": [], "painted black": []}
    variants.update({f"blur {s}": [] for s in BLURS})
    others = [Synthesize().for_session(f"natural-faces benchmark {k}")
              for k in range(1, args.sessions + 1)]
    variants.update({f"session {k}": [] for k in range(1, args.sessions + 1)})
    ssims: list[float] = []
    with tempfile.TemporaryDirectory(prefix="natural-faces-") as tmp:
        scratch = args.out or Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        records = [(args.corpus / name, rec) for name in args.sets
                   for rec in load_manifest(args.corpus / name)
                   if any(b["label"] == "face" for b in rec.get("boxes", []))]
        synthesize.apply_all(np.zeros((64, 64, 3), np.uint8), [])  # nothing to load yet
        for n, (folder, rec) in enumerate(records):
            image, zoom = picture(folder / rec["file"])
            regions = detector.detect(image)
            region_count += len(regions)
            order = [("synthesize", synthesize), ("blur", blur)]
            outputs: dict[str, np.ndarray] = {}
            for name, op in order if n % 2 == 0 else order[::-1]:
                start = time.perf_counter()
                outputs[name] = op.apply_all(image, regions)
                ms = (time.perf_counter() - start) * 1000
                times[name].append(ms)
                if regions:
                    per_face[name].append(ms / len(regions))
            out = outputs["synthesize"]
            found = detector.detect(out)
            variants["original"].append(image)
            variants["synthesize"].append(out)
            variants["jpeg75"].append(jpeg(image))
            variants["fill"].append(Fill().apply_all(image, regions))
            variants["painted black"].append(painted_black(image, out, regions))
            for s in BLURS:
                variants[f"blur {s}"].append(Blur(strength=s).apply_all(image, regions))
            for k, other in enumerate(others, 1):
                variants[f"session {k}"].append(other.apply_all(image, regions))
            before = np.asarray(Image.fromarray(image).convert("L"), np.float64)
            after = np.asarray(Image.fromarray(out).convert("L"), np.float64)
            for b in rec["boxes"]:
                if b["label"] != "face":
                    continue
                x1, y1, x2, y2 = (round(v * zoom) for v in b["xyxy"])
                if y2 - y1 < args.min_height:
                    continue
                region = covering((x1, y1, x2, y2), regions)
                if region is None:
                    continue
                rx1, ry1, rx2, ry2 = region.box
                synthesized = bool(out[ry1:ry2, rx1:rx2].any())
                face = Face(n, rec.get("dataset", folder.name), (x1, y1, x2, y2),
                            region.box, synthesized)
                face.found_after = any(iou(region.box, f.box) > 0.4 for f in found)
                if synthesized:
                    face.ratios = (aspect(face_mesh(image, region.box).points),
                                   aspect(face_mesh(out, region.box).points),
                                   aspect(face_mesh(variants["jpeg75"][-1], region.box).points))
                    ssims.append(box_ssim(before, after, [x1, y1, x2, y2]))
                faces.append(face)
            if args.out:
                Image.fromarray(out).save(scratch / f"{Path(rec['file']).stem}.synth.png")
        descriptors = embed(variants, faces, scratch)
    report(faces, descriptors, times, per_face, ssims, len(records), region_count)


def embed(variants: dict[str, list[np.ndarray]], faces: list[Face],
          scratch: Path) -> dict[str, list[np.ndarray]]:
    """dlib descriptors of every face in every variant (index aligned with ``faces``)."""
    job = []
    for name, images in variants.items():
        for i, image in enumerate(images):
            path = scratch / f"{name.replace(' ', '_')}_{i}.png"
            Image.fromarray(image).save(path)
            job.append({"file": str(path), "boxes": [f.box for f in faces if f.image == i]})
    (scratch / "job.json").write_text(json.dumps(job))
    subprocess.run([str(VENV_PY), "-c", EMBED, str(scratch / "job.json"),
                    str(scratch / "descs.json")], check=True)
    result = json.loads((scratch / "descs.json").read_text())
    out: dict[str, list[np.ndarray]] = {}
    k = 0
    for name, images in variants.items():
        out[name] = []
        for _ in images:
            out[name].extend(np.asarray(d) for d in result[k])
            k += 1
    return out


def false_matches(faces: list[Face], descs: dict[str, list[np.ndarray]], synth: list[int]) -> None:
    """What a match means at these sizes, per data set: how often two different people's
    untouched faces match (the model's false matches), beside the synthesized faces
    matched to their own original; and how often a synthesized face's nearest original,
    among all faces of the corpus, is its own (rank-1 identification)."""
    original = np.array(descs["original"])
    after = np.array(descs["synthesize"])
    filled = np.array(descs["fill"])
    print("what a match means (per data set; different people = untouched faces of two "
          "different ground-truth faces of that set):")
    for dataset in sorted({f.dataset for f in faces}):
        members = [i for i, f in enumerate(faces) if f.dataset == dataset]
        pairs = np.linalg.norm(original[members][:, None] - original[members][None], axis=2)
        others = pairs[~np.eye(len(members), dtype=bool)]
        own = [i for i in synth if faces[i].dataset == dataset]
        hit = {i for i in own if float(np.linalg.norm(after[i] - original[i])) < MATCH}
        black = {i for i in own if float(np.linalg.norm(filled[i] - original[i])) < MATCH}
        print(f"  {dataset}: synthesized faces still recognised {len(hit)}/{len(own)}, the "
              f"same faces filled black {len(black)}/{len(own)}, recognised synthesized but "
              f"not filled {len(hit - black)}/{len(own)}; different people matched "
              f"{np.mean(others < MATCH):.1%} of {len(others)} pairs")
    if synth:
        apart = np.linalg.norm(after[synth][:, None] - original[None], axis=2)
        apart[np.arange(len(synth)), synth] = np.inf
        print(f"  a synthesized face matches other people's originals in "
              f"{np.mean(apart[np.isfinite(apart)] < MATCH):.1%} of pairs (untouched faces: "
              f"{np.mean(everyone_apart(original) < MATCH):.1%})")
        nearest = np.linalg.norm(after[synth][:, None] - original[None], axis=2).argmin(axis=1)
        own_first = int(np.sum(nearest == np.array(synth)))
        print(f"  rank-1: a synthesized face's nearest original is its own for "
              f"{own_first}/{len(synth)} (untouched JPEG q75: "
              f"{rank_one(descs['jpeg75'], original)}/{len(original)}; chance "
              f"1/{len(original)})")


def everyone_apart(original: np.ndarray) -> np.ndarray:
    """Distances between the untouched faces of different ground-truth faces."""
    pairs = np.linalg.norm(original[:, None] - original[None], axis=2)
    return np.asarray(pairs[~np.eye(len(original), dtype=bool)])


def rank_one(variant: list[np.ndarray], original: np.ndarray) -> int:
    nearest = np.linalg.norm(np.array(variant)[:, None] - original[None], axis=2).argmin(axis=1)
    return int(np.sum(nearest == np.arange(len(original))))


def report(faces: list[Face], descs: dict[str, list[np.ndarray]],
           times: dict[str, list[float]], per_face: dict[str, list[float]],
           ssims: list[float], pictures: int, regions: int) -> None:
    synth = [i for i, f in enumerate(faces) if f.synthesized]
    print(f"{pictures} pictures; {len(faces)} ground-truth faces >= min height covered by a "
          f"region; synthesized {len(synth)}, filled (no landmarks) {len(faces) - len(synth)}")

    def matched(variant: str, subset: list[int]) -> str:
        d = [float(np.linalg.norm(descs[variant][i] - descs["original"][i])) for i in subset]
        hits = sum(x < MATCH for x in d)
        return (f"{hits}/{len(d)} = {hits / max(len(d), 1):.1%} "
                f"(median distance {statistics.median(d):.2f})")

    everyone = list(range(len(faces)))
    print("still recognised (dlib distance < 0.6 to the original):")
    print(f"  synthesize, synthesized faces:   {matched('synthesize', synth)}")
    print(f"  synthesize, all covered faces:   {matched('synthesize', everyone)}")
    sessions = sorted(k for k in descs if k.startswith("session "))
    for name in sessions:
        print(f"  synthesize, {name}, synthesized: {matched(name, synth)}")
    if sessions:
        pooled = [float(np.linalg.norm(descs[name][i] - descs["original"][i]))
                  for name in ["synthesize", *sessions] for i in synth]
        print(f"  mean over the {len(sessions) + 1} sessions: "
              f"{np.mean(np.array(pooled) < MATCH):.1%}")
        apart = [float(np.linalg.norm(descs["synthesize"][i] - descs[sessions[0]][i]))
                 for i in synth]
        print(f"  two sessions' synthetic faces of one person: median distance "
              f"{statistics.median(apart):.2f}, the same person to the model for "
              f"{np.mean(np.array(apart) < MATCH):.1%}")
    print(f"  untouched, saved as JPEG q75:    {matched('jpeg75', everyone)}")
    print(f"  fill (black), all covered faces: {matched('fill', everyone)}")
    print(f"  fill (black), synthesized faces: {matched('fill', synth)}")
    print(f"  black over what synthesize painted, synthesized faces: "
          f"{matched('painted black', synth)}")
    for low, high in SIZES:
        group = [i for i in synth if low <= faces[i].box[3] - faces[i].box[1] < high]
        if group:
            print(f"  faces {low}-{high} px tall: synthesize {matched('synthesize', group)}; "
                  f"fill {matched('fill', group)}")
    for s in BLURS:
        print(f"  blur strength {s:<5}:            {matched(f'blur {s}', everyone)}")
    false_matches(faces, descs, synth)
    kept = sum(faces[i].found_after for i in synth)
    print(f"detection kept: {kept}/{len(synth)} = {kept / max(len(synth), 1):.1%}")
    pairs = [faces[i].ratios for i in synth]
    before = np.array([p[0] for p in pairs if p])
    after = np.array([p[1] for p in pairs if p])
    again = np.array([p[2] for p in pairs if p])
    if len(synth):
        diff = np.abs(before - after).mean(axis=0)
        floor = np.abs(before - again).mean(axis=0)
        print(f"expression: eye aspect ratio mean {before[:, 0].mean():.3f}, mean abs diff "
              f"{diff[0]:.3f} (JPEG q75 of the original: {floor[0]:.3f}); mouth aspect ratio "
              f"mean {before[:, 1].mean():.3f}, mean abs diff {diff[1]:.3f} (JPEG: "
              f"{floor[1]:.3f})")
        print(f"corpus rule (SSIM of the ground-truth box < 0.5) on synthesized faces: "
              f"{sum(s < 0.5 for s in ssims)}/{len(ssims)}, median SSIM "
              f"{statistics.median(ssims):.2f}")
    for name in ("synthesize", "blur"):
        print(f"time {name}: {sum(times[name]) / max(regions, 1):.1f} ms per face over all "
              f"{regions} regions; median over pictures "
              f"{statistics.median(per_face[name]):.1f} ms per face")


if __name__ == "__main__":
    main()
