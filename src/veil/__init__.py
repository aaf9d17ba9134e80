"""Veil: a privacy layer for vision-language models."""

from pathlib import Path as _Path

from veil.anonymize import Blur, Fill, Operator, Pixelate, Replace, Synthesize
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


def redact_video(path_in: str | _Path, path_out: str | _Path,
                 policy: Policy | None = None) -> Report:
    """Hide faces and plates on every frame of a video (MP4, MOV, MKV, WebM, AVI), keep its
    audio bit-exact and drop its metadata; see ``veil.video`` (imported on first use, so
    that image work never loads the video libraries)."""
    from veil.video import redact_video as run

    return run(path_in, path_out, policy)


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
    "Synthesize",
    "Vault",
    "VaultError",
    "VaultKeyError",
    "VeilError",
    "pseudonymize",
    "redact_image",
    "redact_video",
    "restore",
    "scan_text",
]
