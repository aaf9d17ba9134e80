"""Two ``veil serve`` replicas on one PostgreSQL vault, beside two on one SQLite file.

Starts a throwaway PostgreSQL server (tests/pgcluster.py; fsync on, synchronous_commit
off: like the SQLite vault's WAL with synchronous=NORMAL, a crash of the machine may lose
the last commits but never corrupts), an echoing model double (answers with the last user
text as it received it), and four gateways: replicas A and B on PostgreSQL (vault, rate
limits and audit chain in the database), replicas C and D on one SQLite file (audit in
one JSONL file). Then, alternating the two pairs:

1. added latency: sequential requests alternating direct and through a replica (p50);
2. load: ``--clients`` concurrent clients for ``--seconds`` per pair (two halves,
   alternating pairs), each request to the pair's replicas in turn, in 4 sessions shared
   by all clients, each naming one of 24 people (name + email) drawn at random, so the
   same new values reach both replicas at once. Half the requests use a key whose role
   restores (the answer must equal the prompt); the other half a key whose role does not
   (the answer is the prompt as the model saw it, so its pseudonyms are read back).

Counts: errors (non-200, transport errors, an answer not restored), inconsistent
pseudonyms (a value given two pseudonyms in one session, or one pseudonym for two values),
values in clear in the database (every row of every table searched for every name and
email), and the audit chains verified. Usage:
``.venv/bin/python benchmarks/replicas.py [--seconds 60] [--clients 16] [--requests 200]``.
Exit status 1 on any error, inconsistency or value in clear.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from model_double import serve, start  # noqa: E402
from pgcluster import PostgresCluster  # noqa: E402
from processes import free_port, wait_ready  # noqa: E402
from proxy import pct  # noqa: E402

KEYS = {"restore": "sk-bench-restore", "see": "sk-bench-pseudonyms"}
NAMES = ["Jane Roe", "John Smith", "Maria Garcia", "Ahmed Khan", "Olga Petrova",
         "Pierre Martin", "Anna Schmidt", "Carlos Mendoza", "Fatima Haddad", "Lars Nilsson",
         "Ingrid Bauer", "Tomasz Nowak", "Sofia Rossi", "Kenji Watanabe", "Amara Okafor",
         "Hannah Weber", "Miguel Torres", "Elena Popescu", "David Cohen", "Priya Sharma",
         "Lucas Moreau", "Chloe Dubois", "Noah Fischer", "Eva Novak"]
TOKEN = re.compile(r"<(PERSON|EMAIL_ADDRESS)_\d+>")


def email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.org"


def prompt(name: str) -> str:
    return f"Please write to {name} at {email(name)} about the signed contract."


def echo(path: str, request: bytes) -> bytes:
    """The model double's answer: the last user text, as the model received it."""
    text = json.loads(request or b"{}").get("messages", [{}])[-1].get("content", "")
    return json.dumps({"id": "c", "object": "chat.completion", "created": 0, "model": "bench",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text}}]}).encode()


# --- one pair of replicas -------------------------------------------------------------------

@dataclass
class Pair:
    label: str
    urls: list[str]
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    seen: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    added: list[float] = field(default_factory=list)
    requests: int = 0


def chat_body(text: str) -> dict[str, object]:
    return {"model": "bench", "messages": [{"role": "user", "content": text}]}


async def load(pair: Pair, seconds: float, clients: int, seed: int) -> None:
    rng = random.Random(seed)
    deadline = time.perf_counter() + seconds
    # idle connections dropped before uvicorn's 5 s keep-alive ends, so that a request never
    # goes out on a connection the server is closing (a client-side ReadError otherwise)
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2,
                          keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        async def worker(number: int) -> None:
            turn = number
            while time.perf_counter() < deadline:
                name, session = rng.choice(NAMES), f"load-{seed}-{rng.randrange(4)}"
                key = "restore" if turn % 2 else "see"
                url = pair.urls[turn % len(pair.urls)]
                turn += 1
                text = prompt(name)
                start = time.perf_counter()
                try:
                    r = await client.post(f"{url}/v1/chat/completions", json=chat_body(text),
                                          headers={"Authorization": f"Bearer {KEYS[key]}",
                                                   "X-Veil-Session": session})
                except httpx.HTTPError as exc:
                    pair.errors.append(type(exc).__name__)
                    continue
                pair.latencies.append(time.perf_counter() - start)
                pair.requests += 1
                if r.status_code != 200:
                    pair.errors.append(f"HTTP {r.status_code}")
                    continue
                answer = r.json()["choices"][0]["message"]["content"]
                if key == "restore":
                    if answer != text:
                        pair.errors.append("answer not restored")
                    continue
                tokens = [m.group(0) for m in TOKEN.finditer(answer)]
                if name in answer or email(name) in answer:
                    pair.errors.append("value reached the model")
                for token in tokens:
                    value = name if token.startswith("<PERSON") else email(name)
                    pair.seen[(session, value)].add(token)

        await asyncio.gather(*(worker(i) for i in range(clients)))


def inconsistent(pair: Pair) -> int:
    """Values with more than one pseudonym, plus pseudonyms given to more than one value."""
    count = sum(len(p) - 1 for p in pair.seen.values())
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (session, value), tokens in pair.seen.items():
        for token in tokens:
            owners[(session, token)].add(value)
    return count + sum(len(v) - 1 for v in owners.values())


def added_latency(pair: Pair, direct: str, n: int) -> None:
    """Sequential requests alternating direct and through the pair's replicas."""
    headers = {"Authorization": f"Bearer {KEYS['restore']}", "X-Veil-Session": "latency"}
    with httpx.Client(timeout=60) as client:
        times: tuple[list[float], list[float]] = ([], [])
        for i in range(n):
            text = prompt(NAMES[i % len(NAMES)])
            for url, sink in ((direct, times[0]), (f"{pair.urls[i % 2]}/v1", times[1])):
                start = time.perf_counter()
                r = client.post(f"{url}/chat/completions", json=chat_body(text), headers=headers)
                sink.append(time.perf_counter() - start)
                if r.status_code != 200:
                    pair.errors.append(f"HTTP {r.status_code}")
    pair.added.append((pct(times[1], 50) - pct(times[0], 50)) * 1000)


def clear_in_postgres(url: str) -> int:
    import psycopg

    with psycopg.connect(url.split("?")[0]) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'veil'")]
        blob = b"".join(
            str(row).encode() + b"".join(bytes(c) for c in row if isinstance(c, bytes))
            for t in tables for row in conn.execute(f"SELECT * FROM veil.{t}"))  # type: ignore[arg-type]
    return sum(blob.count(v.encode()) + blob.count(v.lower().encode())
               for name in NAMES for v in (name, email(name)))


def clear_in_files(folder: Path) -> int:
    blob = b"".join(p.read_bytes() for p in folder.glob("vault.db*") if p.is_file())
    return sum(blob.count(v.encode()) + blob.count(v.lower().encode())
               for name in NAMES for v in (name, email(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load per pair")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200, help="latency samples per pair")
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        serve(echo)
        return
    work = Path(tempfile.mkdtemp(prefix="veil-replicas-"))
    keys = [{"name": n, "sha256": hashlib.sha256(k.encode()).hexdigest(), "role": n}
            for n, k in KEYS.items()]
    policy = work / "policy.yaml"
    policy.write_text(json.dumps({"roles": {"restore": {"restore": ["text"]}, "see": {}},
                                  "keys": keys, "server": {"image_workers": 1}}))
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env = {**{k: v for k, v in os.environ.items() if k != "VEIL_AUDIT_LOG"},
           "VEIL_UPSTREAM_API_KEY": "sk-upstream", "VEIL_VAULT_KEY": secret,
           "VEIL_AUDIT_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode()}
    processes: list[subprocess.Popen[bytes]] = []
    cluster = PostgresCluster(durable=True, options=["-c synchronous_commit=off"]).start()
    try:
        double, direct = start(__file__, "--serve-echo")
        processes.append(double)
        vaults = {"PostgreSQL": [cluster.url()] * 2,
                  "SQLite": [str(work / "vault.db")] * 2}
        pairs: list[Pair] = []
        waits: list[tuple[str, subprocess.Popen[bytes]]] = []
        for label, targets in vaults.items():
            urls = []
            for target in targets:
                port = free_port()
                extra = ["--audit-log", str(work / "audit.jsonl")] if label == "SQLite" else []
                processes.append(subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "veil"), "serve", "--upstream", direct,
                     "--policy", str(policy), "--port", str(port), "--vault", target,
                     "--log-level", "warning", *extra], env=env))
                urls.append(f"http://127.0.0.1:{port}")
                waits.append((urls[-1], processes[-1]))
            pairs.append(Pair(label, urls))
        for url, process in waits:
            wait_ready(url, process, timeout=900)  # 4 gateways load their models
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
              f"{args.clients} clients, {args.seconds:.0f} s per pair")
        for half in range(2):
            for pair in pairs if half == 0 else reversed(pairs):
                added_latency(pair, direct, args.requests // 2)
                asyncio.run(load(pair, args.seconds / 2, args.clients, seed=half))
        clear = {"PostgreSQL": clear_in_postgres(cluster.url()), "SQLite": clear_in_files(work)}
        audits = {"PostgreSQL": subprocess.run(
            [str(ROOT / ".venv" / "bin" / "veil"), "audit", "verify", "--vault", cluster.url()],
            env=env, capture_output=True, text=True, check=False),
            "SQLite": subprocess.run(
            [str(ROOT / ".venv" / "bin" / "veil"), "audit", "verify", str(work / "audit.jsonl")],
            env=env, capture_output=True, text=True, check=False)}
        failed = False
        for pair in pairs:
            bad = inconsistent(pair)
            audit = audits[pair.label]
            print(f"{pair.label:10s}: {pair.requests} requests, "
                  f"{pair.requests / args.seconds:.1f}/s; p50 {pct(pair.latencies, 50) * 1000:.1f}"
                  f" ms, p99 {pct(pair.latencies, 99) * 1000:.1f} ms under load; added p50 "
                  f"(sequential) {sum(pair.added) / len(pair.added):.1f} ms; errors "
                  f"{len(pair.errors)} {sorted(set(pair.errors))[:3]}; inconsistent "
                  f"pseudonyms {bad} over {len(pair.seen)} values; values in clear in the "
                  f"database {clear[pair.label]}; audit: "
                  f"{(audit.stdout or audit.stderr).strip()[:120]}")
            failed |= bool(pair.errors) or bad > 0 or clear[pair.label] > 0 or \
                audit.returncode != 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(30)
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
