"""The text detector's former import path; it now lives in ``veil.text``."""

from veil.text import TextDetector, resolve

__all__ = ["TextDetector", "resolve"]
