"""Tracks: detections of one thing across frames, and the box hidden on every frame.

Detectors run on some frames only (every ``step`` frames per group of detectors). A
detection is matched to the live track of its kind whose expected box (carried at the
track's last speed) it overlaps best; unmatched detections start tracks. On a frame
between two detections of a track its box is interpolated; around a track's first and
last detection it is held (grown a little per frame, as the thing may move) until the
detector's previous or next pass plus ``hold`` frames, so that nothing a pass missed or
a detector lost for a moment flashes into view. All of this needs detections up to
``lookahead`` frames ahead of the frame being hidden: the pipeline buffers that many.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from veil.regions import Box, Region, clip_box

MATCH_IOU = 0.2
"""Overlap from which a detection continues a track."""
MATCH_CENTRE = 1.5
"""Or (fast motion): the detection's centre lies within this many of the expected box's
widths and heights from its centre, and the areas differ by less than ``MATCH_SCALE``
squared; the nearest such pairs are matched first, after overlapping ones."""
MATCH_SCALE = 2.0
HOLD_GROWTH = 0.04
"""Growth of a held box per frame away from its detection, on each side (share of size)."""
MAX_GROWTH = 0.5
GAP_GROWTH = 0.02
"""Growth of an interpolated box per frame away from the nearest detection."""


@dataclass(slots=True)
class Track:
    """One face, plate or text value followed across frames: its detections (keys)."""

    id: int
    kind: str
    step: int
    """Frames between the passes of the detector that finds this kind."""
    keys: list[tuple[int, Region]] = field(default_factory=list)
    ended: bool = False

    @property
    def first_key(self) -> int:
        return self.keys[0][0]

    @property
    def last_key(self) -> int:
        return self.keys[-1][0]

    def expected(self, frame: int) -> tuple[float, float, float, float]:
        """Where the track should be at ``frame``, carried at its last speed."""
        last_frame, last = self.keys[-1]
        box = tuple(float(v) for v in last.box)
        if len(self.keys) < 2:
            return box  # type: ignore[return-value]
        prev_frame, prev = self.keys[-2]
        ratio = (frame - last_frame) / max(1, last_frame - prev_frame)
        return tuple(b + (b - float(p)) * ratio for b, p in
                     zip(box, prev.box, strict=True))  # type: ignore[return-value]

    def span(self, hold: int, frames: int | None = None) -> tuple[int, int]:
        """First and last frame on which the track is hidden (``frames``: the video's
        frame count once known)."""
        reach = self.step - 1 + hold
        last = self.last_key + reach
        if frames is not None:
            last = min(last, frames - 1)
        return max(0, self.first_key - reach), last

    def box_at(self, frame: int, hold: int, width: int, height: int) -> Region | None:
        """The region hidden on ``frame``, or None if the track does not cover it."""
        first, last = self.span(hold)
        if frame < first or frame > last:
            return None
        before = after = None
        for key in self.keys:  # few keys are live at once: tracks are pruned as they end
            if key[0] <= frame:
                before = key
            elif after is None:
                after = key
                break
        if before is not None and after is not None:
            (fa, ra), (fb, rb) = before, after
            t = (frame - fa) / (fb - fa)
            box = tuple(a + (b - a) * t for a, b in zip(ra.box, rb.box, strict=True))
            template, distance = (ra if t <= 0.5 else rb), min(frame - fa, fb - frame)
            growth = min(MAX_GROWTH, GAP_GROWTH * distance)
        else:
            fk, template = before if before is not None else after  # type: ignore[misc]
            box = tuple(float(v) for v in template.box)
            distance = abs(frame - fk)
            growth = min(MAX_GROWTH, HOLD_GROWTH * distance)
        x1, y1, x2, y2 = box
        dx, dy = (x2 - x1) * growth, (y2 - y1) * growth
        clipped = clip_box((x1 - dx, y1 - dy, x2 + dx, y2 + dy), width, height)
        if clipped is None:
            return None
        mask = template.mask if clipped == template.box else None
        return replace(template, box=clipped, mask=mask, track=self.id)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _distance(expected: Sequence[float], box: Box) -> float | None:
    """How far the box's centre is from the expected one, in expected box sizes; None if
    farther than ``MATCH_CENTRE`` or of a size too different."""
    ew, eh = expected[2] - expected[0], expected[3] - expected[1]
    bw, bh = box[2] - box[0], box[3] - box[1]
    if ew <= 0 or eh <= 0 or not (MATCH_SCALE ** -2 < bw * bh / (ew * eh) < MATCH_SCALE ** 2):
        return None
    dx = abs((box[0] + box[2]) / 2 - (expected[0] + expected[2]) / 2) / ew
    dy = abs((box[1] + box[3]) / 2 - (expected[1] + expected[3]) / 2) / eh
    return max(dx, dy) if max(dx, dy) <= MATCH_CENTRE else None


class Tracker:
    """Builds tracks from the detections of each pass; tells the regions of each frame.

    ``hold``: frames a track stays hidden beyond the detector pass before its first and
    after its last detection. Passes must be given in frame order.
    """

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.live: list[Track] = []
        self.done: list[Track] = []
        self._next_id = 0

    def update(self, frame: int, kinds: Iterable[str], step: int,
               regions: Sequence[Region]) -> None:
        """Record one detector pass on ``frame``, which looks for ``kinds`` (a kind or its
        family, e.g. "text") every ``step`` frames, and found ``regions``."""
        families = set(kinds)
        covers = [t for t in self.live if not t.ended and
                  (t.kind in families or t.kind.split(".", 1)[0] in families)]
        pairs: list[tuple[float, int, int]] = []
        for ti, track in enumerate(covers):
            if frame - track.last_key > step + self.hold:
                track.ended = True
                continue
            expected = track.expected(frame)
            for ri, region in enumerate(regions):
                if region.kind != track.kind:
                    continue
                overlap = _iou(expected, region.box)
                distance = _distance(expected, region.box)
                if overlap >= MATCH_IOU:
                    pairs.append((overlap, ti, ri))
                elif distance is not None:
                    pairs.append((-distance, ti, ri))
        used_t: set[int] = set()
        used_r: set[int] = set()
        for _, ti, ri in sorted(pairs, reverse=True):
            if ti in used_t or ri in used_r or covers[ti].ended:
                continue
            used_t.add(ti)
            used_r.add(ri)
            covers[ti].keys.append((frame, regions[ri]))
        for ri, region in enumerate(regions):
            if ri not in used_r:
                self.live.append(Track(self._next_id, region.kind, step, [(frame, region)]))
                self._next_id += 1

    def regions_at(self, frame: int, width: int, height: int) -> list[Region]:
        """Regions to hide on ``frame``; tracks that can no longer reach later frames are
        retired (call with frames in increasing order)."""
        out = []
        keep = []
        for track in self.live:
            region = track.box_at(frame, self.hold, width, height)
            if region is not None:
                out.append(region)
            if track.ended and track.span(self.hold)[1] <= frame:
                self.done.append(track)
            else:
                keep.append(track)
        self.live = keep
        return out

    def finish(self) -> list[Track]:
        """Every track, in the order they started (call after the last frame)."""
        return sorted(self.done + self.live, key=lambda t: t.id)
