"""Serving apps for an evaluation: uvicorn on 127.0.0.1 (random port) in a thread, and the
Veil gateway configured to measure what the model says (no restoring)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from veil.errors import VeilError
from veil.policy import Policy, Role

EVAL_ROLE = "veil-eval"


class ServeError(VeilError):
    """A local server of the evaluation did not start or become ready."""


@contextmanager
def serve(app: Any, *, ready_path: str | None = None, timeout: float = 300.0
          ) -> Iterator[str]:
    """Run an ASGI app on 127.0.0.1 at a free port in a daemon thread; yields its base URL.
    With ``ready_path``, waits until that path answers 200 (models loaded)."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="veil-eval-server")
    thread.start()
    deadline = time.monotonic() + timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServeError("a local server of the evaluation did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        while ready_path is not None:
            if httpx.get(f"{url}{ready_path}", timeout=10).status_code == 200:
                break
            if not thread.is_alive() or time.monotonic() > deadline:
                raise ServeError(f"the local server at {url} did not become ready")
            time.sleep(0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def eval_policy(policy: Policy | None = None, protect: tuple[str, ...] = ("*",)) -> Policy:
    """``policy`` for the gateway of an evaluation: requests without a key get one role,
    which protects ``protect`` and restores nothing, so that the answer the evaluation
    reads is the model's own answer, pseudonyms included."""
    base = policy or Policy()
    return base.model_copy(update={
        "roles": {EVAL_ROLE: Role(protect=protect, restore=())},
        "keys": (),
        "server": base.server.model_copy(update={"anonymous_role": EVAL_ROLE}),
    })


@contextmanager
def gateway(upstream: str, folder: Path, policy: Policy | None = None,
            protect: tuple[str, ...] = ("*",), api_key: str | None = None) -> Iterator[str]:
    """The Veil gateway in front of ``upstream``, its vault and audit log in ``folder``;
    yields its base URL once its models are loaded."""
    from veil.server.app import create_app
    from veil.server.settings import Settings

    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(upstream=upstream, policy=eval_policy(policy, protect),
                        upstream_api_key=api_key, vault_path=folder / "vault.db",
                        audit_path=folder / "audit.jsonl")
    with serve(create_app(settings), ready_path="/readyz") as url:
        yield url
