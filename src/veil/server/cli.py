"""``veil serve`` and ``veil audit verify``; registered on the main command group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from veil.audit import verify
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
@click.option("--vault", "vault_path", metavar="PATH|URL",
              help="Vault: a SQLite file (default: the policy's server.vault, $VEIL_VAULT_PATH "
                   "or ~/.local/share/veil/vault.db), postgresql://... (shared by replicas) "
                   "or memory:.")
@click.option("--audit-log", "audit_path", type=click.Path(path_type=Path),
              envvar="VEIL_AUDIT_LOG", show_envvar=True,
              help="Audit log, JSONL (default: the vault's database when it is PostgreSQL, "
                   "else ~/.local/share/veil/audit.jsonl).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True, help="info logs one access line a request.")
def serve(upstream: str, policy_path: Path | None, host: str, port: int,
          vault_path: str | None, audit_path: Path | None, log_level: str) -> None:
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
               f"(vault {app.state.gateway.vault.target}, audit log "
               f"{app.state.gateway.audit.path})", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


@click.group("audit")
def audit() -> None:
    """Check the gateway's audit log."""


@audit.command("verify")
@click.argument("path", required=False,
                type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--checkpoints", type=click.Path(path_type=Path, dir_okay=False),
              help="The signed checkpoints (default: PATH.checkpoints).")
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False),
              help="The audit key (default: $VEIL_AUDIT_KEY, $VEIL_AUDIT_KEY_FILE or PATH.key).")
@click.option("--public-key", help="Pin the checkpoints' Ed25519 public key (hex).")
@click.option("--vault", "vault_url", metavar="URL",
              help="Verify the audit log kept in this PostgreSQL vault instead of a file.")
def audit_verify(path: Path | None, checkpoints: Path | None, key_file: Path | None,
                 public_key: str | None, vault_url: str | None) -> None:
    """Prove the audit log untouched (MACs, links, signed checkpoints, tail), or name its
    first broken record (exit status 1)."""
    from veil.audit import load_audit_key, verify_store
    from veil.store import open_store

    if (path is None) == (vault_url is None):
        raise click.UsageError("give the audit log's PATH or --vault URL")
    try:
        key = load_audit_key(key_file or (f"{path}.key" if path else None))
        if vault_url is not None:
            store = open_store(vault_url)
            try:
                result = verify_store(store, key=key, public_key=public_key)
            finally:
                store.close()
            where = store.target
        else:
            assert path is not None
            result = verify(path, key=key, checkpoints=checkpoints, public_key=public_key)
            where = str(path)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None
    if result.ok:
        tail = f", {result.uncovered} after the last" if result.uncovered else ""
        click.echo(f"veil: {where}: {result.records} record(s), chain intact; "
                   f"{result.covered} covered by {result.checkpoints} signed checkpoint(s)"
                   f"{tail}; last MAC {result.last_mac}")
        return
    click.echo(f"veil: {where}: record {result.broken_at} (line {result.broken_at}) is broken: "
               f"{result.reason}; the {result.records} record(s) before it are intact",
               err=True)
    sys.exit(1)
