"""Operators that hide a region of an image."""

from veil.anonymize.operators import Blur, Fill, Operator, OperatorSpec, Pixelate

__all__ = ["Blur", "Fill", "Operator", "OperatorSpec", "Pixelate"]
