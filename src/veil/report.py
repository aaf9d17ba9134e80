"""What was done to an image: per region its kind, box, score, operator and source.

A report never holds a pixel or a recognised value, so it can be logged and stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from veil.regions import Box


@dataclass(frozen=True, slots=True)
class Action:
    """One region hidden: ``box`` is in the stored pixels of the output file."""

    kind: str
    box: Box
    score: float
    operator: str
    source: str
    page: int | None = None
    """The page or frame (from 0) of a multi-page file; None for a single picture."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "box": list(self.box),
                                "score": round(self.score, 4), "operator": self.operator,
                                "source": self.source}
        if self.page is not None:
            data["page"] = self.page
        return data


@dataclass(frozen=True, slots=True)
class TrackSummary:
    """One face, plate or text value followed through a video: hidden from frame ``first``
    to ``last`` (0-based, inclusive); ``boxes`` are its detections as (frame, box), the
    hidden box between two being their linear interpolation (see veil.video.tracker)."""

    kind: str
    first: int
    last: int
    boxes: tuple[tuple[int, Box], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "first": self.first, "last": self.last,
                "boxes": [[frame, *box] for frame, box in self.boxes]}


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome for one file (an image, or every page or frame of a longer one)."""

    width: int
    height: int
    actions: tuple[Action, ...] = ()
    metadata_removed: tuple[str, ...] = ()
    ms: float = 0.0
    file: str | None = None
    error: str | None = field(default=None)
    stages: dict[str, float] = field(default_factory=dict)
    """Milliseconds per stage (decode, faces, ocr.detect, ocr.read, text, plates, codes,
    hide, encode): where the time went."""
    pages: int | None = None
    """Pages or frames of a multi-page file (``width``/``height`` are the first one's)."""
    tracks: tuple[TrackSummary, ...] = ()
    """Videos: every track hidden (the actions then hold one region per track)."""

    def counts(self) -> dict[str, int]:
        """How many regions of each kind were hidden."""
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.kind] = out.get(action.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "file": self.file,
            "width": self.width,
            "height": self.height,
            "regions": [a.to_dict() for a in self.actions],
            "metadata_removed": list(self.metadata_removed),
            "ms": round(self.ms, 1),
            "stages": {name: round(ms, 1) for name, ms in self.stages.items()},
        }
        if self.pages is not None:
            data["pages"] = self.pages
        if self.tracks:
            data["tracks"] = [t.to_dict() for t in self.tracks]
        if self.error is not None:
            data["error"] = self.error
        return data


def report_from_dict(data: dict[str, Any]) -> Report:
    """The Report that ``Report.to_dict`` wrote (a journal line, a report line)."""
    actions = tuple(Action(str(a["kind"]), _box(a["box"]), float(a["score"]),
                           str(a["operator"]), str(a["source"]), _int(a.get("page")))
                    for a in data["regions"])
    return Report(int(data["width"]), int(data["height"]), actions,
                  tuple(str(m) for m in data["metadata_removed"]), float(data["ms"]),
                  data.get("file"), data.get("error"),
                  {str(k): float(v) for k, v in data["stages"].items()},
                  _int(data.get("pages")))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _box(value: list[int]) -> Box:
    x1, y1, x2, y2 = (int(v) for v in value)
    return (x1, y1, x2, y2)
