"""Veil: a privacy layer for vision-language models."""

from veil.anonymize import Blur, Fill, Operator, Pixelate
from veil.detect import Detector
from veil.errors import DetectorError, InputError, PolicyError, VeilError
from veil.pipeline import Redactor, redact_image
from veil.policy import KindRule, Limits, Policy
from veil.regions import Region, Span
from veil.report import Action, Report

__all__ = [
    "Action",
    "Blur",
    "Detector",
    "DetectorError",
    "Fill",
    "InputError",
    "KindRule",
    "Limits",
    "Operator",
    "Pixelate",
    "Policy",
    "PolicyError",
    "Redactor",
    "Region",
    "Report",
    "Span",
    "VeilError",
    "redact_image",
]
