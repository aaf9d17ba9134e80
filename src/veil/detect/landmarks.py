"""Dense face landmarks with MediaPipe's face mesh (Apache-2.0), an ONNX model shipped
inside Veil (made from the mediapipe 0.10.14 wheel by scripts/convert_face_landmark.py).

The model reads a 192x192 crop around one face and gives 468 points (x, y and a relative
depth z) and a face-presence score. A first pass reads an upright square around the
detector's box (where it finds no face, also turned by a quarter turn either way); a second
reads the square the first pass's points span, turned so the eyes are level, as MediaPipe's
own tracking does: faces turned in the picture's plane are read upright.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from veil.errors import DetectorError
from veil.regions import Box

MODEL_VERSION = "face_landmark@0.10.14"
SIZE = 192
BOX_SCALE = 1.35
"""Side of the first crop, a multiple of the detector box's longer side (its boxes reach
from the hairline to the chin)."""
POINTS_SCALE = 1.5
"""Side of the second crop, a multiple of the extent of the first pass's points."""
FOUND = 0.5
"""Face-presence score of the first pass below which the crop is also read turned by a
quarter turn either way (the model reads faces up to about 45 degrees off upright)."""
QUARTER_TURNS = (np.pi / 2, -np.pi / 2)
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
"""The outer eye corners (the person's right eye is on the picture's left)."""


@dataclass(frozen=True, slots=True)
class FaceMesh:
    """468 points in picture pixels (columns x, y, z; z in pixels too, smaller is nearer)
    and the model's face-presence score (0..1)."""

    points: np.ndarray
    score: float


@dataclass(frozen=True, slots=True)
class MeshTopology:
    """Which points form the mesh's triangles and each feature's lines (MediaPipe's
    connection lists, kept in face_mesh.json): ``lines[name]`` holds point sequences, e.g.
    the outer and the inner lip for "lips", the upper and lower edge of a brow."""

    triangles: np.ndarray
    lines: dict[str, tuple[np.ndarray, ...]]


def _models() -> Path:
    return Path(__file__).resolve().parent.parent / "models"


@functools.cache
def topology() -> MeshTopology:
    data = json.loads((_models() / "face_mesh.json").read_text())
    lines = {name: _chain(edges) for name, edges in data.items() if name != "triangles"}
    return MeshTopology(np.asarray(data["triangles"], np.int32), lines)


@functools.cache
def canonical_face() -> np.ndarray:
    """MediaPipe's mean face (canonical_face.obj), the 468 points in the mesh's order, in
    the axes of ``FaceMesh.points``: x to the picture's right, y down, z away (cm)."""
    lines = (_models() / "canonical_face.obj").read_text().splitlines()
    points = np.array([[float(v) for v in line.split()[1:4]] for line in lines
                       if line.startswith("v ")])
    points[:, 1:] *= -1
    points.setflags(write=False)
    return points


def _chain(edges: list[list[int]]) -> tuple[np.ndarray, ...]:
    """Order edges into point sequences: open lines from an end, closed loops anywhere."""
    near: dict[int, list[int]] = {}
    for a, b in edges:
        near.setdefault(a, []).append(b)
        near.setdefault(b, []).append(a)
    ends = sorted(p for p, n in near.items() if len(n) == 1)
    seen: set[int] = set()
    out: list[np.ndarray] = []
    for start in ends + sorted(near):
        if start in seen:
            continue
        line = [start]
        seen.add(start)
        while nxt := [p for p in near[line[-1]] if p not in seen]:
            line.append(nxt[0])
            seen.add(nxt[0])
        out.append(np.asarray(line, np.int32))
    return tuple(out)


@functools.cache
def _session() -> object:
    import onnxruntime as ort

    path = _models() / "face_landmark.onnx"
    if not path.is_file():
        raise DetectorError("face landmark model missing from the Veil package")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = int(os.environ.get("VEIL_THREADS", "0"))
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def face_mesh(image: np.ndarray, box: Box) -> FaceMesh:
    """The landmarks of the face in ``box`` of an RGB image (two passes, see module)."""
    x1, y1, x2, y2 = box
    centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    side = max(x2 - x1, y2 - y1) * BOX_SCALE
    first = _read(image, centre, side, 0.0)
    if first.score < FOUND:  # a face lying on its side (a person lying down, a turned photo)
        first = max([first, *(_read(image, centre, side, a) for a in QUARTER_TURNS)],
                    key=lambda mesh: mesh.score)
    pts = first.points
    dx, dy = pts[LEFT_EYE_OUTER, :2] - pts[RIGHT_EYE_OUTER, :2]
    angle = float(np.arctan2(dy, dx))
    turn = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    upright = pts[:, :2] @ turn.T  # points in the face's own frame
    low, high = upright.min(axis=0), upright.max(axis=0)
    middle = ((low + high) / 2) @ turn  # back to the picture's frame
    side = float(max(high - low)) * POINTS_SCALE
    return _read(image, (float(middle[0]), float(middle[1])), side, angle)


def _read(image: np.ndarray, centre: tuple[float, float], side: float,
          angle: float) -> FaceMesh:
    """Run the model on the square of ``side`` px around ``centre``, turned by ``angle``
    (radians); points back in picture pixels."""
    scale = SIZE / max(side, 1.0)
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    # picture -> crop: rotate by -angle about the centre, scale, centre in the crop
    forward = np.array([[cos, sin, SIZE / 2 - cos * centre[0] - sin * centre[1]],
                        [-sin, cos, SIZE / 2 + sin * centre[0] - cos * centre[1]]])
    crop = cv2.warpAffine(image, forward, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    blob = (crop.astype(np.float32) / 255.0)[None]
    session = _session()
    try:
        raw, flag = session.run(["landmarks", "face_flag"], {"input_1": blob})  # type: ignore[attr-defined]
    except Exception as exc:
        raise DetectorError(f"face landmark model failed ({type(exc).__name__})") from None
    pts = raw.reshape(-1, 3).astype(np.float64)
    back = cv2.invertAffineTransform(forward)
    xy = pts[:, :2] @ back[:, :2].T + back[:, 2]
    z = pts[:, 2:] / scale
    score = float(1.0 / (1.0 + np.exp(-float(flag.reshape(-1)[0]))))
    return FaceMesh(np.hstack([xy, z]), score)
