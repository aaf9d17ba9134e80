"""Gateway settings: command-line flags and environment; bounds and roles come from the policy."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from veil.errors import PolicyError
from veil.policy import Policy


def default_audit_path() -> Path:
    """$VEIL_AUDIT_LOG, else audit.jsonl in Veil's data folder (beside the default vault)."""
    if env := os.environ.get("VEIL_AUDIT_LOG"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "veil" / "audit.jsonl"


@dataclass(frozen=True)
class Settings:
    """What ``create_app`` needs.

    ``upstream``: the model's OpenAI-compatible base URL (``https://api.openai.com/v1``);
    requests go to ``{upstream}/chat/completions``, ``{upstream}/models`` and the like, and
    to ``{upstream}/messages`` for Anthropic's Messages API.
    ``upstream_api_key``: the gateway's own key for the upstream ($VEIL_UPSTREAM_API_KEY);
    callers' keys are never forwarded. ``vault_path``: a SQLite path, ``memory:`` or a
    ``postgresql://`` URL; None: the policy's ``server.vault``, else $VEIL_VAULT_PATH or
    the default file. ``audit_path`` None: the audit log goes into the vault's database
    (PostgreSQL), else to the default file.
    """

    upstream: str
    policy: Policy = field(default_factory=Policy)
    upstream_api_key: str | None = field(default=None, repr=False)
    vault_path: Path | str | None = None
    audit_path: Path | None = field(default_factory=default_audit_path)
    audit_fsync: bool = False

    def __post_init__(self) -> None:
        try:
            url = httpx.URL(self.upstream)
        except httpx.InvalidURL:
            url = httpx.URL("")
        if url.scheme not in ("http", "https") or not url.host:
            raise PolicyError("upstream must be an http(s) URL such as https://api.openai.com/v1")

    @classmethod
    def from_env(cls, upstream: str, policy: Policy, *, vault_path: Path | str | None = None,
                 audit_path: Path | None = None) -> Settings:
        """Settings with the upstream key from $VEIL_UPSTREAM_API_KEY; with a PostgreSQL
        vault and no audit path given, the audit log goes into the vault's database."""
        vault = vault_path or policy.server.vault
        in_database = audit_path is None and not os.environ.get("VEIL_AUDIT_LOG") and \
            str(vault or "").startswith(("postgresql://", "postgres://"))
        return cls(upstream=upstream, policy=policy,
                   upstream_api_key=os.environ.get("VEIL_UPSTREAM_API_KEY") or None,
                   vault_path=vault,
                   audit_path=None if in_database else audit_path or default_audit_path())
