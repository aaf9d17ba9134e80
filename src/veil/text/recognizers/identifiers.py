"""Identity, tax, health and licence numbers: the US ones the benchmarks grew with, and
the rest as data (``data/identifiers.yaml``)."""

from __future__ import annotations

from veil.text import patterns as tp
from veil.text.recognizer import Pattern, PatternRecognizer
from veil.text.spec import builtin_specs

US_SSN = PatternRecognizer(
    "us-ssn", "US_SSN", (Pattern(tp.SSN_DASHED, 0.85), Pattern(tp.SSN_PLAIN, 0.2)),
    ("en",), tp.SSN_CONTEXT, "us_ssn")
US_PASSPORT = PatternRecognizer("us-passport", "US_PASSPORT", (Pattern(tp.US_PASSPORT, 0.1),),
                                ("en",), tp.PASSPORT_CONTEXT)
US_DRIVER_LICENSE = PatternRecognizer(
    "us-driver-license", "US_DRIVER_LICENSE", (Pattern(tp.US_DRIVER_LICENSE, 0.35),), ("en",),
    tp.DRIVER_CONTEXT)
DEA = PatternRecognizer("us-dea", "MEDICAL_LICENSE", (Pattern(tp.DEA, 0.6),), ("en",),
                        tp.MEDICAL_CONTEXT, "dea")


def listed() -> tuple[PatternRecognizer, ...]:
    """The recognizers of ``data/identifiers.yaml``."""
    return tuple(spec.build() for spec in builtin_specs("identifiers.yaml"))
