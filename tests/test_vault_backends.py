"""The vault on each backend (a SQLite file, memory:, a real PostgreSQL server): the same
semantics, envelope keys and their rotation, races between processes, migrations."""

from __future__ import annotations

import base64
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import SessionExpiredError, VaultError, VaultKeyError
from veil.pseudo.keys import LocalKeyProvider
from veil.pseudo.vault import Vault

KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
VALUES = ["Quentin Zablocki", "quentin.zablocki@example.org", "Ysolde Marchetti"]


def person(n: int) -> str:
    return f"PERSON_{n}"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VEIL_VAULT_PATH", "VEIL_VAULT_KEY", "VEIL_VAULT_KEY_FILE",
                 "VEIL_VAULT_KEY_PROVIDER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "vault.db")
    if request.param == "memory":
        return "memory:"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def vault(target: str) -> Iterator[Vault]:
    with Vault(target, key=KEY) as v:
        yield v


def raw_rows(vault: Vault) -> list[bytes]:
    """Every column of every row of the vault's tables, as bytes."""
    out: list[bytes] = []
    for table in ("meta", "sessions", "counters", "entries", "data_keys"):
        rows = vault.store.atomic(lambda tx, t=table: tx.all(f"SELECT * FROM {t}"))
        out.extend(bytes(c) if isinstance(c, bytes | memoryview) else str(c).encode()
                   for row in rows for c in row)
    return out


def test_same_semantics_on_every_backend(vault: Vault) -> None:
    assert vault.pseudonym("s", "PERSON", "alice", "Alice", person) == "PERSON_1"
    assert vault.pseudonym("s", "PERSON", "bob", "Bob", person) == "PERSON_2"
    assert vault.pseudonym("s", "PERSON", "alice", "ALICE", person) == "PERSON_1"
    assert vault.pseudonym("t", "PERSON", "bob", "Bob", person) == "PERSON_1"
    assert vault.originals("s") == {"PERSON_1": "Alice", "PERSON_2": "Bob"}
    assert vault.forget(["bob"]) == 2  # in every session
    assert vault.originals("t") == {}
    assert vault.pseudonym("s", "PERSON", "bob", "Bob", person) == "PERSON_3"
    vault.check()


def test_nothing_in_clear_in_the_database(vault: Vault) -> None:
    for value in VALUES:
        vault.pseudonym("session-7f3e9a", "PERSON", value.lower(), value,
                        lambda n: f"PSEUDO_Wyndham_{n}")
    blob = b"\0".join(raw_rows(vault))
    for text in [*VALUES, "session-7f3e9a", "PSEUDO_Wyndham", "Zablocki"]:
        assert text.encode() not in blob and text.lower().encode() not in blob
    assert KEY not in blob and base64.urlsafe_b64encode(KEY) not in blob


def test_sessions_expire_on_every_backend(target: str) -> None:
    now = [1000.0]
    with Vault(target, key=KEY, ttl_seconds=10, clock=lambda: now[0]) as vault:
        vault.pseudonym("old", "PERSON", "alice", "Alice", person)
        now[0] = 1011.0
        with pytest.raises(SessionExpiredError):
            vault.originals("old")
        assert vault.purge_expired() == 1


def test_memory_vault_persists_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    with Vault("memory:") as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    with Vault("memory:") as vault:
        assert vault.originals("s") == {}
    assert list(tmp_path.iterdir()) == []


def test_data_key_rotation_keeps_old_values_and_seals_new_ones_anew(vault: Vault) -> None:
    vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    rotation = vault.rotate_key()
    assert rotation.generation == 2 and rotation.rewrapped == 0
    vault.pseudonym("s", "PERSON", "bob", "Bob", person)
    gens = vault.store.atomic(lambda tx: sorted(r[0] for r in tx.all("SELECT gen FROM entries")))
    assert gens == [1, 2]
    assert vault.originals("s") == {"PERSON_1": "Alice", "PERSON_2": "Bob"}


def test_kek_rotation_rewraps_and_retires_the_old_key(tmp_path: Path) -> None:
    target = str(tmp_path / "vault.db")
    with Vault(target, key=KEY) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
        vault.rotate_key()
        done = vault.rotate_key(LocalKeyProvider(NEW_KEY))
        assert done.rewrapped == 2 and done.key_id == LocalKeyProvider(NEW_KEY).key_id
        vault.pseudonym("s", "PERSON", "bob", "Bob", person)  # keeps working at once
    with pytest.raises(VaultKeyError, match="does not match"):
        Vault(target, key=KEY)
    with Vault(target, key=NEW_KEY) as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice", "PERSON_2": "Bob"}


def test_a_database_vault_needs_a_key(pg_url: str) -> None:
    with pytest.raises(VaultKeyError, match="VEIL_VAULT_KEY"):
        Vault(pg_url)
    with Vault(pg_url, key=KEY) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    with pytest.raises(VaultKeyError, match="does not match"):
        Vault(pg_url, key=NEW_KEY)


def test_unreachable_database_is_a_clear_error(postgres: object) -> None:
    from processes import free_port

    url = f"postgresql://veil:secret-pw@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(VaultError, match="cannot connect") as info:
        Vault(url, key=KEY, timeout_seconds=2)
    assert "secret-pw" not in str(info.value)


def test_custom_key_provider_by_name(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_VAULT_KEY_PROVIDER", "tests_key_provider:make")
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "data"))
    with Vault(pg_url) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    with Vault(pg_url, key_provider="tests_key_provider:make") as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice"}
    with pytest.raises(VaultKeyError, match="cannot be loaded"):
        Vault(pg_url, key_provider="no_such_module:make")


# --- races between processes and rotation during traffic ---------------------------------

def _race_worker(url: str, start: Barrier, out: Queue[object]) -> None:
    try:
        with Vault(url, key=KEY, timeout_seconds=30) as vault:
            start.wait(timeout=60)
            out.put([(s, v, vault.pseudonym(s, "PERSON", v.lower(), v, person))
                      for s in ("s1", "s2") for v in (*VALUES, *(f"new value {i}"
                                                                  for i in range(12)))])
    except BaseException as exc:
        out.put(repr(exc))


@pytest.mark.slow
def test_eight_processes_pseudonymising_the_same_new_values_agree(pg_url: str) -> None:
    Vault(pg_url, key=KEY).close()  # created once; the race is over the values
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_race_worker, args=(pg_url, start, out)) for _ in range(8)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(isinstance(r, list) for r in results), results
    seen: dict[tuple[str, str], set[str]] = {}
    for rows in results:
        assert isinstance(rows, list)
        for session, value, pseudonym in rows:
            seen.setdefault((session, value), set()).add(pseudonym)
    assert all(len(p) == 1 for p in seen.values())  # one pseudonym per value
    with Vault(pg_url, key=KEY) as vault:
        for session in ("s1", "s2"):
            originals = vault.originals(session)
            assert sorted(originals) == sorted(person(n) for n in range(1, 16))  # no gaps
            assert sorted(originals.values()) == sorted(v for s, v in seen if s == session)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])  # memory: one vault only
def test_rotation_during_traffic_loses_nothing(backend: str, tmp_path: Path,
                                               request: pytest.FixtureRequest) -> None:
    target = (str(tmp_path / "vault.db") if backend == "sqlite"
              else request.getfixturevalue("pg_url"))
    stop = threading.Event()
    written: list[tuple[str, str, str]] = []
    errors: list[BaseException] = []

    def traffic(worker: int, vault: Vault) -> None:
        try:
            with vault:
                i = 0
                while not stop.is_set() or i < 20:
                    value = f"value {worker}-{i}"
                    written.append((f"s{worker}", value,
                                    vault.pseudonym(f"s{worker}", "PERSON", value, value,
                                                    person)))
                    i += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=traffic, args=(w, Vault(target, key=KEY)))
               for w in range(3)]  # each its own vault, as separate processes would
    for t in threads:
        t.start()
    with Vault(target, key=KEY) as admin:
        admin.rotate_key()
        admin.rotate_key()
        admin.rotate_key(LocalKeyProvider(NEW_KEY))
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    with Vault(target, key=NEW_KEY) as vault:
        for session, value, pseudonym in written:
            assert vault.originals(session)[pseudonym] == value


# --- migrations ----------------------------------------------------------------------------

def _sub(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def test_a_vault_from_before_data_keys_is_migrated(tmp_path: Path) -> None:
    """A version 1 file (tables of the first vault, values sealed with the key itself),
    written here by hand, opens: its key becomes data key 1 and a KEK rotation retires it."""
    import hashlib
    import hmac

    db = tmp_path / "old.db"
    aead, mac_key = AESGCM(_sub(KEY, b"veil vault aead v1")), _sub(KEY, b"veil vault hmac v1")

    def mac(label: bytes, *parts: str) -> bytes:
        h = hmac.new(mac_key, label, hashlib.sha256)
        for p in parts:
            h.update(len(p.encode()).to_bytes(8, "big") + p.encode())
        return h.digest()

    def seal(plain: bytes, ad: bytes) -> bytes:
        padded = plain + b"\x80" + bytes(-(len(plain) + 1) % 32)
        return b"n" * 12 + aead.encrypt(b"n" * 12, padded, ad)

    sid, ent, lk = mac(b"session", "s"), mac(b"entity", "s", "PERSON"), \
        mac(b"lookup", "s", "PERSON", "alice")
    raw = sqlite3.connect(db)
    raw.executescript(
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);"
        "CREATE TABLE sessions (sid BLOB PRIMARY KEY, expires REAL NOT NULL);"
        "CREATE TABLE counters (sid BLOB NOT NULL, ent BLOB NOT NULL, next INTEGER NOT NULL,"
        " PRIMARY KEY (sid, ent));"
        "CREATE TABLE entries (lookup BLOB PRIMARY KEY, sid BLOB NOT NULL, ent BLOB NOT NULL,"
        " value_hash BLOB NOT NULL, pseudonym_hash BLOB NOT NULL UNIQUE,"
        " original BLOB NOT NULL, pseudonym BLOB NOT NULL);")
    raw.execute("INSERT INTO meta VALUES ('check', ?)", (seal(b"veil vault key check v1",
                                                               b"check"),))
    raw.execute("INSERT INTO sessions VALUES (?, 4e9)", (sid,))
    raw.execute("INSERT INTO counters VALUES (?, ?, 2)", (sid, ent))
    raw.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lk, sid, ent, mac(b"value", "alice"), mac(b"pseudonym", "s", "PERSON_1"),
                 seal(b"Alice", b"original" + sid + ent + lk),
                 seal(b"PERSON_1", b"pseudonym" + sid + ent + lk)))
    raw.commit()
    raw.close()
    with pytest.raises(VaultKeyError, match="does not match"):
        Vault(db, key=NEW_KEY)
    with Vault(db, key=KEY) as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice"}
        assert vault.pseudonym("s", "PERSON", "bob", "Bob", person) == "PERSON_2"
        vault.rotate_key(LocalKeyProvider(NEW_KEY))
    with Vault(db, key=NEW_KEY) as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice", "PERSON_2": "Bob"}
        versions = vault.store.atomic(lambda tx: tx.all("SELECT * FROM veil_schema"))
        assert versions == [("vault", 2)]


def test_a_newer_schema_is_refused(pg_url: str) -> None:
    with Vault(pg_url, key=KEY):
        pass
    with psycopg.connect(pg_url.split("?")[0], autocommit=True) as conn:
        schema = pg_url.rsplit("=", 1)[1]
        conn.execute(f"UPDATE {schema}.veil_schema SET version = 99")  # type: ignore[arg-type]
    with pytest.raises(VaultError, match="newer than this Veil"):
        Vault(pg_url, key=KEY)


def test_cli_rotate_key(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from veil.cli import main

    db = tmp_path / "vault.db"
    with Vault(db) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    runner = CliRunner()
    added = runner.invoke(main, ["vault", "rotate-key", "--vault", str(db)])
    assert added.exit_code == 0 and "data key 2" in added.output
    new_key = tmp_path / "new.key"
    rewrapped = runner.invoke(main, ["vault", "rotate-key", "--vault", str(db),
                                     "--new-key-file", str(new_key)])
    assert rewrapped.exit_code == 0 and "2 data key(s) re-wrapped" in rewrapped.output
    assert new_key.stat().st_mode & 0o777 == 0o600
    refused = runner.invoke(main, ["vault", "rotate-key", "--vault", str(db)])
    assert refused.exit_code == 1 and "does not match" in refused.output
    with Vault(db, key_file=new_key) as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice"}


def test_serve_takes_each_kind_of_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        pg_url: str) -> None:
    """``veil serve --vault`` with memory:, a PostgreSQL URL (the audit log then goes into
    the database) or the policy's server.vault; a bad URL is a clear error."""
    import uvicorn
    from click.testing import CliRunner

    from veil.cli import main

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app))
    monkeypatch.setenv("VEIL_VAULT_KEY", base64.urlsafe_b64encode(KEY).decode())
    monkeypatch.setenv("VEIL_AUDIT_KEY", base64.urlsafe_b64encode(NEW_KEY).decode())
    monkeypatch.delenv("VEIL_AUDIT_LOG", raising=False)
    policy = tmp_path / "policy.yaml"
    policy.write_text("server: {anonymous_role: r, image_workers: 1}\nroles: {r: {}}\n")
    runner = CliRunner()
    for vault, audit in (("memory:", str(tmp_path / "a.jsonl")), (pg_url, pg_url.split("?")[0])):
        args = ["serve", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(policy),
                "--vault", vault]
        if vault == "memory:":
            args += ["--audit-log", audit]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        gateway = served.pop("app").state.gateway  # type: ignore[attr-defined]
        assert gateway.vault.target.startswith(vault.split("?")[0])
        assert str(gateway.audit.path).startswith(audit)
        gateway.close()
    policy.write_text("server: {anonymous_role: r, image_workers: 1, "
                      f"vault: {tmp_path / 'p.db'}}}\nroles: {{r: {{}}}}\n")
    result = runner.invoke(main, ["serve", "--upstream", "http://127.0.0.1:9/v1", "--policy",
                                  str(policy), "--audit-log", str(tmp_path / "b.jsonl")])
    assert result.exit_code == 0, result.output
    gateway = served.pop("app").state.gateway  # type: ignore[attr-defined]
    assert gateway.vault.target == str(tmp_path / "p.db")
    gateway.close()
    bad = runner.invoke(main, ["serve", "--upstream", "http://127.0.0.1:9/v1", "--policy",
                               str(policy), "--vault", "postgresql://[broken"])
    assert bad.exit_code == 1 and "not a valid PostgreSQL URL" in bad.output
