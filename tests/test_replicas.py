"""Two real ``veil serve`` processes on one PostgreSQL vault, in front of a real HTTP double
of the model: conversations move between replicas, erasure and rate limits are shared,
keys rotate under traffic, and the audit chain in the database stays verifiable."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pgcluster import PostgresCluster
from processes import free_port, wait_ready
from upstream_double import UpstreamDouble
from veil.audit import AuditKey, verify_store
from veil.pseudo.vault import Vault
from veil.server.auth import hash_key
from veil.store import open_store

pytestmark = pytest.mark.slow  # real servers, a database and models

VAULT_KEY = bytes(range(32))
AUDIT_KEY = bytes(range(50, 82))
KEYS = {"agent": "sk-replica-agent", "limited": "sk-replica-limited"}
VEIL = Path(sys.executable).with_name("veil")


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


class Replica:
    """One ``veil serve`` process."""

    def __init__(self, upstream: str, policy: Path, vault: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "VEIL_VAULT_KEY": _b64(VAULT_KEY), "VEIL_AUDIT_KEY": _b64(AUDIT_KEY),
               "VEIL_UPSTREAM_API_KEY": "sk-upstream"}
        env.pop("VEIL_AUDIT_LOG", None)
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [str(VEIL), "serve", "--upstream", upstream, "--policy", str(policy), "--vault",
             vault, "--port", str(self.port), "--log-level", "warning"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        wait_ready(self.url, self.process, timeout=600)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def vault_url(postgres: PostgresCluster) -> str:
    return postgres.url(schema="replicas")


@pytest.fixture(scope="module")
def replicas(double: UpstreamDouble, vault_url: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Replica]]:
    folder = tmp_path_factory.mktemp("replicas")
    policy = folder / "policy.yaml"
    policy.write_text(yaml.safe_dump({
        "roles": {"agent": {"restore": ["text"]}},
        "keys": [{"name": "agent", "sha256": hash_key(KEYS["agent"]), "role": "agent"},
                 {"name": "limited", "sha256": hash_key(KEYS["limited"]), "role": "agent",
                  "rate_per_minute": 1, "burst": 2}],
        "server": {"image_workers": 1, "upstream_timeout": 10},
    }))
    started = [Replica(double.url, policy, vault_url, folder / f"replica{i}.log")
               for i in range(2)]
    try:
        for replica in started:
            replica.wait_ready()
        yield started
    finally:
        for replica in started:
            replica.stop()


def chat(replica: Replica, text: str, session: str, key: str = "agent",
         history: list[dict[str, str]] | None = None) -> httpx.Response:
    return httpx.post(f"{replica.url}/v1/chat/completions", timeout=60, headers={
        "Authorization": f"Bearer {KEYS[key]}", "X-Veil-Session": session}, json={
        "model": "m", "messages": [*(history or []), {"role": "user", "content": text}]})


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content: str = response.json()["choices"][0]["message"]["content"]
    return content


def sent(double: UpstreamDouble) -> str:
    """The last user text the model received."""
    body: dict[str, Any] = double.chats[-1]
    content: str = body["messages"][-1]["content"]
    return content


def test_a_conversation_alternating_between_replicas_stays_consistent(
        replicas: list[Replica], double: UpstreamDouble) -> None:
    a, b = replicas
    assert httpx.get(f"{a.url}/readyz").json() == {"status": "ready", "vault": "ok"}
    turns = ["I am Jane Roe, write to jane.roe@example.org.",
             "Jane Roe also knows John Smith.",
             "Tell John Smith and Jane Roe the news by jane.roe@example.org.",
             "John Smith said hello."]
    seen: list[str] = []
    for i, text in enumerate(turns):
        replica = (a, b)[i % 2]
        assert answer(chat(replica, text, "conversation-1")) == text  # restored on each
        seen.append(sent(double))
    assert "<PERSON_1>" in seen[0] and "<EMAIL_ADDRESS_1>" in seen[0]
    assert seen[1].startswith("<PERSON_1> also knows <PERSON_2>")
    assert seen[2] == "Tell <PERSON_2> and <PERSON_1> the news by <EMAIL_ADDRESS_1>."
    assert seen[3] == "<PERSON_2> said hello."
    for text in seen:
        assert "Jane" not in text and "John" not in text
    # the model's pseudonymised answer, sent back as history to the other replica
    history = [{"role": "user", "content": turns[0]},
               {"role": "assistant", "content": "Hello <PERSON_1>."}]
    answer(chat(b, "And John Smith?", "conversation-1", history=history))
    assert double.chats[-1]["messages"][1]["content"] == "Hello <PERSON_1>."


def test_erasure_on_one_side_is_seen_by_the_other(replicas: list[Replica],
                                                  double: UpstreamDouble,
                                                  vault_url: str) -> None:
    a, b = replicas
    chat(a, "Ysolde Marchetti called.", "erase-1")
    assert "<PERSON_1>" in sent(double)
    forget = subprocess.run([str(VEIL), "vault", "forget", "--vault", vault_url, "--value",
                             "Ysolde Marchetti"], capture_output=True, text=True,
                            env={**os.environ, "VEIL_VAULT_KEY": _b64(VAULT_KEY)}, check=False)
    assert forget.returncode == 0 and "erased 1 mapping" in forget.stderr, forget.stderr
    chat(b, "Ysolde Marchetti called again.", "erase-1")
    assert "<PERSON_2>" in sent(double)  # a new number: the old mapping is gone everywhere


def test_rate_limits_are_shared_by_the_replicas(replicas: list[Replica]) -> None:
    a, b = replicas
    statuses = [chat(r, "hello", "rate", key="limited").status_code for r in (a, b, a, b)]
    assert statuses[:2] == [200, 200] and statuses[2:] == [429, 429]


def test_key_rotation_during_traffic_loses_nothing(replicas: list[Replica], vault_url: str,
                                                   tmp_path: Path) -> None:
    errors: list[str] = []
    done: list[tuple[str, str]] = []
    stop = threading.Event()

    def traffic(worker: int) -> None:
        i = 0
        while not stop.is_set() or i < 6:
            text = f"Patient Anna Kowalska-{worker}{i} wrote to anna{worker}x{i}@example.org."
            session = f"rotate-{worker}-{i % 3}"
            response = chat(replicas[(worker + i) % 2], text, session)
            if response.status_code != 200 or answer(response) != text:
                errors.append(f"{response.status_code}")
            done.append((session, text))
            i += 1

    threads = [threading.Thread(target=traffic, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    env = {**os.environ, "VEIL_VAULT_KEY": _b64(VAULT_KEY)}
    new_key = tmp_path / "new.key"
    for extra in ([], ["--new-key-file", str(new_key)]):
        time.sleep(1.0)
        rotated = subprocess.run([str(VEIL), "vault", "rotate-key", "--vault", vault_url,
                                  *extra], capture_output=True, text=True, env=env, check=False)
        assert rotated.returncode == 0, rotated.stderr
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert not errors and len(done) >= 24
    with Vault(vault_url, key_file=new_key) as vault:  # the old key no longer opens it
        for session in {s for s, _ in done}:
            originals = set(vault.originals(f"agent\0agent\0{session}").values())  # key, role, name
            for s, text in done:
                if s == session:
                    email = re.search(r"anna\S+@example\.org", text)
                    assert email is not None and email.group(0) in originals
        gens = vault.store.atomic(lambda tx: tx.all("SELECT DISTINCT gen FROM entries"))
        assert {g for (g,) in gens} >= {1}
    for replica in replicas:  # running replicas keep working on the old KEK
        answer(chat(replica, "Jane Roe again.", "after-rotation"))


def test_the_audit_chain_in_the_database_verifies(replicas: list[Replica],
                                                  vault_url: str) -> None:
    for replica in replicas:
        answer(chat(replica, "Jane Roe once more.", "audit"))
    store = open_store(vault_url)
    try:
        result = verify_store(store, key=AuditKey(AUDIT_KEY))
        rows = store.atomic(lambda tx: tx.all("SELECT body FROM audit_records"))
        values = b"\n".join(r[0].encode() for r in rows)
        clear = store.atomic(lambda tx: tx.all("SELECT original, pseudonym FROM entries"))
    finally:
        store.close()
    assert result.ok and result.records >= 20, result
    assert b"Jane" not in values and b"Roe" not in values
    for row in clear:
        assert not any(b"Jane" in bytes(c) or b"Kowalska" in bytes(c) for c in row)
    cli = subprocess.run([str(VEIL), "audit", "verify", "--vault", vault_url], text=True,
                         capture_output=True, check=False,
                         env={**os.environ, "VEIL_AUDIT_KEY": _b64(AUDIT_KEY)})
    assert cli.returncode == 0 and "chain intact" in cli.stdout, cli.stderr


def test_readyz_reports_an_unreachable_vault(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from upstream_double import run_app
    from veil.policy import Policy
    from veil.server.app import create_app
    from veil.server.settings import Settings

    monkeypatch.setenv("VEIL_VAULT_KEY", _b64(VAULT_KEY))
    monkeypatch.setenv("VEIL_AUDIT_KEY", _b64(AUDIT_KEY))
    cluster = PostgresCluster().start()
    try:
        settings = Settings.from_env("http://127.0.0.1:9/v1", Policy.from_dict(
            {"server": {"anonymous_role": "r", "image_workers": 1}, "roles": {"r": {}}}),
            vault_path=cluster.url())
        assert settings.audit_path is None  # the audit log goes into the database
        with run_app(create_app(settings), ready=False) as url:  # models may still load
            up = httpx.get(f"{url}/readyz", timeout=30).json()
            assert up.get("vault") == "ok" or up["reason"] == "models are loading", up
            cluster.stop()
            down = httpx.get(f"{url}/readyz", timeout=30)
            assert down.status_code == 503 and down.json()["reason"].startswith("vault:")
            assert "unreachable" in down.json()["reason"]
    finally:
        cluster.stop()
