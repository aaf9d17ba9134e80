"""``veil review DIR``: serve the review page of a run's output folder."""

from __future__ import annotations

import getpass
import ipaddress
import secrets
from pathlib import Path

import click

from veil.errors import PolicyError, VeilError
from veil.policy import Policy


def is_loopback(host: str) -> bool:
    """Whether ``host`` only answers this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("review")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--policy", "policy_path", type=click.Path(path_type=Path),
              help="The run's policy (operators' settings, JPEG quality; its API keys and "
                   "roles give tokens and who may see originals when not on loopback).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Another address than loopback needs a token on the URL.")
@click.option("--port", type=click.IntRange(0, 65535), default=8470, show_default=True)
@click.option("--audit-log", "audit_path", type=click.Path(path_type=Path),
              help="Audit log, JSONL (default: DIR/.veil-review-audit.jsonl).")
@click.option("--reviewer", help="Name written in audit records (default: your user name; "
                                 "with the policy's API keys, the key's name).")
@click.option("--originals/--no-originals", default=True, show_default=True,
              help="Show the originals under the regions, or only the outputs.")
def review(out_dir: Path, policy_path: Path | None, host: str, port: int,
           audit_path: Path | None, reviewer: str | None, originals: bool) -> None:
    """Review a run: see its regions over each image, remove, draw, change operators,
    approve or reject; approving writes the output and an audit record."""
    import uvicorn

    from veil.review.app import Access, Review, Reviewer, create_app
    from veil.server.auth import KeyStore

    try:
        policy = Policy.load(policy_path) if policy_path else Policy()
    except PolicyError as exc:
        raise click.UsageError(str(exc)) from None
    local = Reviewer(reviewer or getpass.getuser(), originals)
    if is_loopback(host):
        access, query = Access(local), ""
    elif policy.keys:
        access, query = Access(local, keys=KeyStore(policy)), "?token=<one of the policy's keys>"
    else:
        token = secrets.token_urlsafe(24)
        access, query = Access(local, token=token), f"?token={token}"
    try:
        run = Review(out_dir, policy, audit_path)
    except VeilError as exc:
        raise click.ClickException(str(exc)) from None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"veil: review of {out_dir} ({len(run.entries())} images) on "
               f"http://{shown}:{port}/{query}", err=True)
    try:  # no access log: URLs may carry the token
        uvicorn.run(create_app(run, access), host=host, port=port, log_level="warning",
                    access_log=False, server_header=False)
    finally:
        run.close()
