"""The Detector protocol every detector family implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from veil.regions import Region


@runtime_checkable
class Detector(Protocol):
    """Finds regions of some ``kinds`` in an RGB uint8 image (display orientation).

    Models load lazily and once per process, never per call.
    """

    name: str
    kinds: tuple[str, ...]

    def detect(self, image: np.ndarray) -> list[Region]: ...
