"""Detectors: each finds one family of things to hide and yields Regions."""

from veil.detect.base import Detector

__all__ = ["Detector"]
