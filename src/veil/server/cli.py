"""``veil serve`` and ``veil audit verify``; registered on the main command group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from veil.audit import AuditError, verify
from veil.errors import VeilError
from veil.policy import Policy


@click.command("serve")
@click.option("--upstream", required=True, envvar="VEIL_UPSTREAM", show_envvar=True,
              help="The model's OpenAI-compatible base URL, e.g. https://api.openai.com/v1. "
                   "Its key comes from $VEIL_UPSTREAM_API_KEY.")
@click.option("--policy", "policy_path", type=click.Path(path_type=Path), envvar="VEIL_POLICY",
              show_envvar=True, help="YAML policy: kinds, roles, API keys, server limits.")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="VEIL_HOST",
              show_envvar=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              envvar="VEIL_PORT", show_envvar=True)
@click.option("--vault", "vault_path", type=click.Path(path_type=Path),
              help="Vault database (default: $VEIL_VAULT_PATH or ~/.local/share/veil/vault.db).")
@click.option("--audit-log", "audit_path", type=click.Path(path_type=Path),
              envvar="VEIL_AUDIT_LOG", show_envvar=True,
              help="Audit log, JSONL (default: ~/.local/share/veil/audit.jsonl).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="info logs one access line a request.")
def serve(upstream: str, policy_path: Path | None, host: str, port: int,
          vault_path: Path | None, audit_path: Path | None, log_level: str) -> None:
    """Serve an OpenAI-compatible privacy gateway in front of the --upstream model."""
    import uvicorn

    from veil.server.app import create_app
    from veil.server.settings import Settings

    try:
        policy = Policy.load(policy_path) if policy_path else Policy()
        if not policy.keys and policy.server.anonymous_role is None:
            raise click.UsageError(
                "the policy defines no API keys ('keys:') and no 'server.anonymous_role'; "
                "every request would be refused")
        settings = Settings.from_env(upstream, policy, vault_path=vault_path,
                                     audit_path=audit_path)
        app = create_app(settings)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"veil: gateway for {settings.upstream} on http://{host}:{port} "
               f"(audit log {settings.audit_path})", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


@click.group("audit")
def audit() -> None:
    """Check the gateway's audit log."""


@audit.command("verify")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def audit_verify(path: Path) -> None:
    """Prove the audit log untouched, or name its first broken record (exit status 1)."""
    try:
        result = verify(path)
    except AuditError as exc:
        raise click.ClickException(str(exc)) from None
    if result.ok:
        click.echo(f"veil: {path}: {result.records} record(s), chain intact; "
                   f"last hash {result.last_hash}")
        return
    click.echo(f"veil: {path}: record {result.broken_at} (line {result.broken_at}) is broken: "
               f"{result.reason}; the {result.records} record(s) before it are intact",
               err=True)
    sys.exit(1)
