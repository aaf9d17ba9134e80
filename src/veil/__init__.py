"""Veil: a privacy layer for vision-language models."""

from veil.anonymize import Blur, Fill, Operator, Pixelate, Replace
from veil.audit import AuditLog
from veil.detect import Detector
from veil.errors import (
    DetectorError,
    InputError,
    PolicyError,
    SessionExpiredError,
    VaultError,
    VaultKeyError,
    VeilError,
)
from veil.pipeline import Redactor, redact_image
from veil.policy import ApiKey, KindRule, Limits, Policy, Role, ServerPolicy
from veil.pseudo.engine import Pseudonymized, Pseudonymizer, pseudonymize, restore, scan_text
from veil.pseudo.restore import StreamRestorer
from veil.pseudo.vault import Vault
from veil.regions import Region, Span
from veil.report import Action, Report
from veil.video import VideoRedactor, redact_video

__all__ = [
    "Action",
    "ApiKey",
    "AuditLog",
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
    "Pseudonymized",
    "Pseudonymizer",
    "Redactor",
    "Region",
    "Replace",
    "Report",
    "Role",
    "ServerPolicy",
    "SessionExpiredError",
    "Span",
    "StreamRestorer",
    "Vault",
    "VaultError",
    "VaultKeyError",
    "VeilError",
    "VideoRedactor",
    "pseudonymize",
    "redact_image",
    "redact_video",
    "restore",
    "scan_text",
]
