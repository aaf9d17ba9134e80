"""Videos: Veil beside deface 1.5.0 on the same 720p clips, in one run, alternating clip by clip.

The clips are made here from real photos of people in ``../shared/corpus`` (faces with
ground-truth boxes): a camera move (pan and zoom) over each photo, 1280x720, H.264 in MP4,
with a sine audio track and container tags holding a GPS position, a device make and model
and a creation time. The faces' boxes follow the move, so every frame has its ground truth.
Clips are written to a temporary folder and deleted after the run (no corpus pixel enters
the repository).

For every clip in turn: Veil (``VideoRedactor.redact_file``, models loaded once, the default
policy and the faces-only one) and deface (its ``video_detect`` in a warm worker with its CLI
defaults and ``--keep-audio``). Scored on every frame with the corpus rule (a face is
protected when the SSIM of its box before and after is below 0.5), for the faces whose box
lies at least 75 % inside the frame; a *flash* is a face unprotected on a frame while
protected on the frames before and after. Also: frames per second (frames over wall time of
the call), frame count and duration kept, audio packets byte for byte, tags left.

Usage: ``.venv/bin/python benchmarks/video.py [--corpus ../shared/corpus] [--seconds 6]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from clips import all_tags, audio_packets, grey_frames, write_clip  # noqa: E402
from corpus_scoring import load_manifest  # noqa: E402
from deface_reference import VENV_PY, ensure_venv  # noqa: E402
from veil.eval.scoring import PROTECTED_BELOW, crop_ssim  # noqa: E402
from veil.policy import Policy  # noqa: E402
from veil.video import VideoRedactor  # noqa: E402

WIDTH, HEIGHT, FPS = 1280, 720, 25
TAGS = {"location": "+48.8577+002.2950/", "make": "BenchCam", "model": "BC-720",
        "creation_time": "2026-01-02T03:04:05Z",
        "com.apple.quicktime.location.ISO6709": "+48.8577+002.2950/"}
CLIPS = [("photos_hires", "mei_Canon_PowerShot_A560.jpg"),
         ("photos_hires", "mei_Olympus_S760.jpg"),
         ("photos_hires", "mei_Canon_IXUS_750.jpg"),
         ("faces", "dlib_2008_002079.jpg"),
         ("faces", "wider_0_Parade_Parade_0_873.jpg")]
FACES_ONLY = Policy.from_dict({"kinds": {k: {"enabled": False} for k in ("text", "plate", "code")}})

WORKER = r"""
import json, sys, time
from deface import deface as d
sys.argv = ["deface", "unused", "--keep-audio"]
a = d.parse_cli_args()
cf = d.CenterFace(backend=a.backend, override_execution_provider=a.execution_provider)
for line in sys.stdin:
    src, dst = line.rstrip("\n").split("\t")
    t0 = time.perf_counter()
    d.video_detect(ipath=src, opath=dst, centerface=cf, threshold=a.thresh, cam=False,
                   replacewith=a.replacewith, mask_scale=a.mask_scale, ellipse=not a.boxes,
                   draw_scores=False, enable_preview=False, nested=False,
                   ffmpeg_config=a.ffmpeg_config, replaceimg=None, keep_audio=a.keep_audio,
                   mosaicsize=a.mosaicsize)
    print("RESULT", json.dumps({"ms": (time.perf_counter() - t0) * 1e3}), flush=True)
"""


@dataclass
class Clip:
    name: str
    path: Path
    boxes: list[list[tuple[float, float, float, float]]]
    """Per frame, the faces' boxes in frame pixels (at least 75 % inside the frame)."""


def make_clip(photo: Path, faces: list[list[float]], out: Path, frames: int) -> Clip:
    """A pan and zoom over ``photo`` (stored pixels) as a 720p H.264 clip with sound."""
    image = cv2.cvtColor(cv2.imread(str(photo), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION),
                         cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    full_w = min(w, h * WIDTH / HEIGHT)
    boxes: list[list[tuple[float, float, float, float]]] = []

    def move() -> Iterator[np.ndarray]:
        """The frames; each frame's visible faces go to ``boxes``."""
        for i in range(frames):
            t = i / max(1, frames - 1)
            cw = full_w * (1.0 - 0.35 * t)  # zoom in by a third while panning across
            ch = cw * HEIGHT / WIDTH
            x0 = (w - cw) * (0.1 + 0.8 * t)
            y0 = (h - ch) * (0.5 + 0.3 * np.sin(np.pi * t))
            scale = WIDTH / cw
            matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float64)
            frame = cv2.warpAffine(image, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_AREA
                                   if scale < 1 else cv2.INTER_LINEAR)
            visible = []
            for x1, y1, x2, y2 in faces:
                bx = ((x1 - x0) * scale, (y1 - y0) * scale, (x2 - x0) * scale,
                      (y2 - y0) * scale)
                ix = max(0.0, min(bx[2], WIDTH) - max(bx[0], 0.0))
                iy = max(0.0, min(bx[3], HEIGHT) - max(bx[1], 0.0))
                if ix * iy >= 0.75 * (bx[2] - bx[0]) * (bx[3] - bx[1]):
                    visible.append((max(0.0, bx[0]), max(0.0, bx[1]), min(WIDTH, bx[2]),
                                    min(HEIGHT, bx[3])))
            boxes.append(visible)
            yield frame

    write_clip(out, move(), size=(WIDTH, HEIGHT), fps=FPS, tags=TAGS, options={"crf": "16"})
    return Clip(photo.stem, out, boxes)


def facts(path: Path) -> dict[str, Any]:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        seconds = float(video.duration * video.time_base) if video.duration else float("nan")
        return {"frames": video.frames, "seconds": seconds, "codec": video.codec_context.name,
                "tags": all_tags(path)}


def score(clip: Clip, out: Path, before: list[np.ndarray]) -> dict[str, Any]:
    """Faces protected per frame by the corpus rule, flashes, and what the file kept."""
    after = grey_frames(out)
    protected = total = small_total = small_protected = flashes = 0
    per_face: dict[int, list[bool]] = defaultdict(list)
    unprotected_frames = 0
    for i, (a, b) in enumerate(zip(before, after, strict=False)):
        frame_ok = True
        for j, (x1, y1, x2, y2) in enumerate(clip.boxes[i]):
            box = (int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2)))
            ok = crop_ssim(a[box[1]:box[3], box[0]:box[2]],
                           b[box[1]:box[3], box[0]:box[2]]) < PROTECTED_BELOW
            total += 1
            protected += ok
            if y2 - y1 >= 16:
                small_total += 1
                small_protected += ok
            per_face[j].append(ok)
            frame_ok &= ok
        unprotected_frames += not frame_ok
    for seq in per_face.values():
        flashes += sum(1 for k in range(1, len(seq) - 1)
                       if seq[k - 1] and seq[k + 1] and not seq[k])
    src, dst = facts(clip.path), facts(out)
    left = sorted(k for k, v in dst["tags"].items()
                  if any(str(v) == str(t) or t in str(v) for t in TAGS.values()))
    return {"faces": total, "protected": protected / max(1, total),
            "faces16": small_total, "protected16": small_protected / max(1, small_total),
            "flashes": flashes, "frames_all_hidden": 1 - unprotected_frames / max(1, len(before)),
            "frames": (src["frames"], dst["frames"], len(after)),
            "seconds": (round(src["seconds"], 3), round(dst["seconds"], 3)),
            "codec": dst["codec"], "audio_exact": audio_packets(clip.path) == audio_packets(out),
            "tags_left": left}


class DefaceWorker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen([str(VENV_PY), "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)

    def run(self, src: Path, dst: Path) -> float:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{src}\t{dst}\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the deface worker stopped")
            if line.startswith("RESULT "):
                return float(json.loads(line.removeprefix("RESULT "))["ms"])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clips", type=int, default=len(CLIPS))
    parser.add_argument("--no-deface", action="store_true")
    parser.add_argument("--detect-every", type=int, help="override the policy's detect_every")
    args = parser.parse_args()
    frames = round(args.seconds * FPS)
    policies = {"veil": Policy(), "veil faces": FACES_ONLY}
    if args.detect_every:
        policies = {k: p.model_copy(update={"video": p.video.model_copy(
            update={"detect_every": args.detect_every})}) for k, p in policies.items()}
    tools = {label: VideoRedactor(policy) for label, policy in policies.items()}
    for tool in tools.values():
        tool.warm_up()
    if not args.no_deface:
        ensure_venv()
    worker = None if args.no_deface else DefaceWorker()
    results: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        with tempfile.TemporaryDirectory(prefix="veil-video-") as tmp:
            root = Path(tmp)
            for folder, name in CLIPS[: args.clips]:
                record = next(r for r in load_manifest(args.corpus / folder) if r["file"] == name)
                faces = [b["xyxy"] for b in record["boxes"] if b["label"] == "face"]
                clip = make_clip(args.corpus / folder / name, faces,
                                 root / f"{Path(name).stem}.mp4", frames)
                before = grey_frames(clip.path)
                runs: list[tuple[str, Path, float]] = []
                for label, tool in tools.items():
                    out = root / label.replace(" ", "-") / clip.path.name
                    start = time.perf_counter()
                    tool.redact_file(clip.path, out)
                    runs.append((label, out, time.perf_counter() - start))
                if worker is not None:
                    out = root / "deface" / clip.path.name
                    out.parent.mkdir(exist_ok=True)
                    runs.append(("deface", out, worker.run(clip.path, out) / 1000))
                for label, out, seconds in runs:
                    result = score(clip, out, before)
                    result.update(clip=clip.name, fps=frames / seconds)
                    results[label].append(result)
                    print(json.dumps({"tool": label, **result}), flush=True)
    finally:
        if worker is not None:
            worker.close()
    summary(results)


def summary(results: dict[str, list[dict[str, Any]]]) -> None:
    print(f"\n{'tool':12} {'fps median':>10} {'faces protected':>16} {'h>=16 px':>9} "
          f"{'flashes':>8} {'frames all hidden':>18} {'audio exact':>12} {'tags left':>10}")
    for label, rows in results.items():
        faces = sum(r["faces"] for r in rows)
        prot = sum(r["protected"] * r["faces"] for r in rows) / max(1, faces)
        faces16 = sum(r["faces16"] for r in rows)
        prot16 = sum(r["protected16"] * r["faces16"] for r in rows) / max(1, faces16)
        print(f"{label:12} {statistics.median(r['fps'] for r in rows):10.2f} {prot:16.4f} "
              f"{prot16:9.4f} {sum(r['flashes'] for r in rows):8d} "
              f"{statistics.mean(r['frames_all_hidden'] for r in rows):18.3f} "
              f"{sum(r['audio_exact'] for r in rows):>7}/{len(rows)} "
              f"{sum(bool(r['tags_left']) for r in rows):>6}/{len(rows)}")


if __name__ == "__main__":
    main()
