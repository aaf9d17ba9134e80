"""Fill, blur and pixelate: each returns a new array, touches every pixel of the region's
box (last row and column included) and nothing outside it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, Protocol, runtime_checkable

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from veil.regions import Region


@runtime_checkable
class Operator(Protocol):
    """Hides one region: ``apply`` returns a new image and never mutates its input."""

    name: str

    def apply(self, image: np.ndarray, region: Region) -> np.ndarray: ...


class OperatorBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str

    def apply(self, image: np.ndarray, region: Region) -> np.ndarray:
        """Return a copy of ``image`` with ``region`` hidden (channels-last array)."""
        return self.apply_all(image, [region])

    def apply_noting(self, image: np.ndarray, regions: Sequence[Region]
                     ) -> tuple[np.ndarray, list[str]]:
        """``apply_all``, and per region the name of the operator that hid it: this one,
        or the one it fell back on (``synthesize`` fills a face it cannot draw on)."""
        return self.apply_all(image, regions), [self.name] * len(regions)

    def apply_all(self, image: np.ndarray, regions: Iterable[Region]) -> np.ndarray:
        """Return a copy of ``image`` with every region hidden, copying the image once."""
        out = image.copy()
        for region in regions:
            x1, y1, x2, y2 = region.box
            roi = out[y1:y2, x1:x2]
            if roi.size == 0:
                continue
            hidden = self._hide(roi)
            if region.mask is not None:
                keep = ~region.mask.astype(bool)
                hidden[keep] = roi[keep]
            out[y1:y2, x1:x2] = hidden
        return out

    def _hide(self, roi: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class Fill(OperatorBase):
    """Paint the region a solid colour (default black: the strongest protection)."""

    name: Literal["fill"] = "fill"
    color: tuple[int, int, int] = (0, 0, 0)

    def _hide(self, roi: np.ndarray) -> np.ndarray:
        scale = 257 if roi.dtype == np.uint16 else 1
        channels = 1 if roi.ndim == 2 else roi.shape[2]
        if channels < 3:
            r, g, b = self.color
            value: list[int] = [round(0.299 * r + 0.587 * g + 0.114 * b) * scale] * channels
        else:
            value = [c * scale for c in self.color] + [255 * scale] * (channels - 3)
        filled = np.empty_like(roi)
        filled[...] = value if roi.ndim == 3 else value[0]
        return filled


class Blur(OperatorBase):
    """Blur with a kernel scaled to the region (``strength`` x its longer side).

    Three box-blur passes approximate a Gaussian at a cost independent of kernel size.
    """

    name: Literal["blur"] = "blur"
    strength: float = Field(default=1.0, gt=0.0, le=2.0)

    def _hide(self, roi: np.ndarray) -> np.ndarray:
        k = max(3, int(self.strength * max(roi.shape[:2])) | 1)
        work: np.ndarray = roi.astype(np.float32)
        for _ in range(3):
            work = cv2.blur(work, (k, k), borderType=cv2.BORDER_REFLECT)
        return _cast_like(work, roi)


class Pixelate(OperatorBase):
    """Replace the region by at most ``cells`` blocks along its longer side, each at
    least ``min_block`` pixels, so that small regions are not left nearly intact."""

    name: Literal["pixelate"] = "pixelate"
    cells: int = Field(default=4, ge=1, le=64)
    min_block: int = Field(default=4, ge=1, le=64)

    def _hide(self, roi: np.ndarray) -> np.ndarray:
        h, w = roi.shape[:2]
        block = max(max(h, w) / self.cells, self.min_block)
        cw = max(1, round(w / block))
        ch = max(1, round(h / block))
        small = cv2.resize(roi.astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
        big = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
        return _cast_like(big.reshape(roi.shape), roi)


def _cast_like(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    values = values.reshape(like.shape)
    if np.issubdtype(like.dtype, np.integer):
        info = np.iinfo(like.dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(like.dtype)
