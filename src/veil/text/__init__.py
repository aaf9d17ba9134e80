"""Personal data in text: named recognizers in a registry, one detector built from it."""

from veil.text.detector import TextDetector, resolve
from veil.text.recognizer import (
    FunctionRecognizer,
    Passage,
    PassageRecognizer,
    Pattern,
    PatternRecognizer,
    Recognizer,
)
from veil.text.registry import Registry, default_registry

__all__ = ["FunctionRecognizer", "Passage", "PassageRecognizer", "Pattern", "PatternRecognizer",
           "Recognizer", "Registry", "TextDetector", "default_registry", "resolve"]
