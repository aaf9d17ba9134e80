"""The one detection type of Veil: a Region in an image, a Span in a text."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Box = tuple[int, int, int, int]
"""Pixel box (x1, y1, x2, y2); x2 and y2 are exclusive."""


@dataclass(frozen=True, slots=True)
class Region:
    """Something to hide in an image.

    ``kind`` is what it is ("face", "plate", "text.EMAIL_ADDRESS"), ``source`` which
    detector found it ("centerface@1"). ``mask``, if given, is a boolean array of the
    box's shape (height, width) marking the pixels to hide. ``text`` may hold a
    recognised value and is left out of ``repr`` so it cannot reach a log line.
    ``track``, in a video, numbers the track the region belongs to: the same thing along
    its frames (one person keeps one synthetic face).
    """

    box: Box
    kind: str
    score: float
    source: str
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    text: str | None = field(default=None, repr=False, compare=False)
    track: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.box
        if not all(isinstance(v, int) for v in self.box):
            raise TypeError("Region.box must hold ints")
        if x1 < 0 or y1 < 0 or x2 <= x1 or y2 <= y1:
            raise ValueError(f"Region.box is empty or negative: {self.box}")
        if self.mask is not None and self.mask.shape != (y2 - y1, x2 - x1):
            raise ValueError("Region.mask must have the box's shape (height, width)")

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]


def clip_box(box: tuple[float, float, float, float], width: int, height: int) -> Box | None:
    """Round a float box outward to whole pixels inside ``width`` x ``height``; None if empty."""
    x1 = max(0, int(np.floor(box[0])))
    y1 = max(0, int(np.floor(box[1])))
    x2 = min(width, int(np.ceil(box[2])))
    y2 = min(height, int(np.ceil(box[3])))
    if x2 <= x1 or y2 <= y1:
        return None
    return (x1, y1, x2, y2)


def grow_box(
    box: tuple[float, float, float, float], margin: float
) -> tuple[float, float, float, float]:
    """Enlarge a box by ``margin`` of its width and height on every side."""
    x1, y1, x2, y2 = box
    dx = (x2 - x1) * margin
    dy = (y2 - y1) * margin
    return (x1 - dx, y1 - dy, x2 + dx, y2 + dy)


@dataclass(frozen=True, slots=True)
class Span:
    """Personal data in a text: ``text[start:end]`` is a value of ``entity``."""

    start: int
    end: int
    entity: str
    score: float
    source: str

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"Span is empty or negative: {self.start}..{self.end}")
