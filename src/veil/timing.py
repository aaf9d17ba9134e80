"""Time per stage of one image (decode, faces, OCR detection, ...), like Ultralytics' speed.

``with stages() as times:`` opens a record for the current thread of work; ``with
stage("faces"):`` anywhere below adds its elapsed milliseconds to that record under the
name. Outside a record, ``stage`` measures nothing and costs nothing. A record may carry a
time budget: a stage that ends past it raises ``TimeBudgetError`` (the image is blocked).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

from veil.errors import DetectorError

StageTimes = dict[str, float]
"""Milliseconds per stage name, in the order stages first ran."""

_current: ContextVar[StageTimes | None] = ContextVar("veil_stage_times", default=None)
_deadline: ContextVar[float | None] = ContextVar("veil_deadline", default=None)


class TimeBudgetError(DetectorError):
    """An image took longer than the policy's time budget; it is blocked, not written."""


def add_times(into: StageTimes, more: StageTimes) -> None:
    """Add the milliseconds of ``more`` (one frame's or page's stages) into ``into``."""
    for name, ms in more.items():
        into[name] = into.get(name, 0.0) + ms


@contextlib.contextmanager
def stages(budget: float | None = None) -> Iterator[StageTimes]:
    """Collect stage times for the work done inside the block; ``budget`` in seconds."""
    times: StageTimes = {}
    token = _current.set(times)
    outer = _deadline.get()
    deadline = None if budget is None else time.monotonic() + budget
    if outer is not None:
        deadline = outer if deadline is None else min(outer, deadline)
    limit = _deadline.set(deadline)
    try:
        yield times
    finally:
        _deadline.reset(limit)
        _current.reset(token)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the block's wall time to stage ``name`` of the open record, if any."""
    times = _current.get()
    if times is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        times[name] = times.get(name, 0.0) + (time.perf_counter() - start) * 1000
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise TimeBudgetError(f"image over its time budget (after stage {name}); image blocked")
