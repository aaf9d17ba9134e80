"""The pseudonym vault: consistency, encryption at rest, keys, expiry, erasure, failures and
concurrency, all against real SQLite files."""

from __future__ import annotations

import base64
import multiprocessing
import os
import random
import secrets
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import SessionExpiredError, VaultError, VaultKeyError
from veil.pseudo.vault import Vault

KEY = bytes(range(32))


def person(n: int) -> str:
    return f"PERSON_{n}"


def numbered(prefix: str) -> Callable[[int], str]:
    return lambda n: f"{prefix}{n}"


def files_of(db: Path) -> dict[str, bytes]:
    """Raw bytes of the database and its -wal / -shm companions, those that exist."""
    return {p.name: p.read_bytes() for p in db.parent.glob(db.name + "*")
            if not p.name.endswith(".key")}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VEIL_VAULT_PATH", "VEIL_VAULT_KEY", "VEIL_VAULT_KEY_FILE", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    with Vault(tmp_path / "vault.db", key=KEY) as v:
        yield v


# --- mapping ---------------------------------------------------------------------------

def test_same_value_same_pseudonym_and_numbering_per_entity(vault: Vault) -> None:
    assert vault.pseudonym("s", "PERSON", "alice", "Alice", person) == "PERSON_1"
    assert vault.pseudonym("s", "PERSON", "bob", "Bob", person) == "PERSON_2"
    assert vault.pseudonym("s", "PERSON", "alice", "ALICE", person) == "PERSON_1"
    assert vault.pseudonym("s", "EMAIL", "a@x.org", "a@x.org", lambda n: f"EMAIL_{n}") == "EMAIL_1"
    assert vault.pseudonym("s", "PERSON", "carol", "Carol", person) == "PERSON_3"
    assert vault.originals("s") == {
        "PERSON_1": "Alice", "PERSON_2": "Bob", "PERSON_3": "Carol", "EMAIL_1": "a@x.org"}


def test_sessions_are_independent(vault: Vault) -> None:
    vault.pseudonym("a", "PERSON", "alice", "Alice", person)
    assert vault.pseudonym("a", "PERSON", "bob", "Bob", person) == "PERSON_2"
    assert vault.pseudonym("b", "PERSON", "bob", "Bob", person) == "PERSON_1"
    assert vault.originals("b") == {"PERSON_1": "Bob"}
    assert vault.originals("unknown") == {}

    def randomised(n: int) -> str:
        return f"{secrets.token_hex(4)}_{n}"

    first = vault.pseudonym("c", "NAME", "dave", "Dave", randomised)
    second = vault.pseudonym("d", "NAME", "dave", "Dave", randomised)
    assert first != second  # nothing links the two sessions' pseudonyms
    assert vault.pseudonym("c", "NAME", "dave", "Dave", randomised) == first


def test_collision_retries_with_next_numbers(vault: Vault) -> None:
    names = {1: "Ann", 2: "Ann", 3: "Ann", 4: "Bea", 5: "Cid"}
    calls: list[int] = []

    def make(n: int) -> str:
        calls.append(n)
        return names[n]

    assert vault.pseudonym("s", "PERSON", "x", "X", make) == "Ann"
    assert vault.pseudonym("s", "PERSON", "y", "Y", make) == "Bea"
    assert vault.pseudonym("s", "PERSON", "z", "Z", make) == "Cid"
    assert calls == [1, 2, 3, 4, 5]
    # another entity's pseudonym is taken too: pseudonyms restore regardless of entity
    assert vault.pseudonym("s", "CITY", "q", "Q", lambda n: "Ann" if n == 1 else f"C{n}") == "C2"


def test_failing_make_leaves_vault_usable(vault: Vault) -> None:
    def boom(n: int) -> str:
        raise RuntimeError("make failed")

    with pytest.raises(RuntimeError):
        vault.pseudonym("s", "PERSON", "x", "X", boom)
    assert vault.pseudonym("s", "PERSON", "x", "X", person) == "PERSON_1"


def test_unicode_round_trip(vault: Vault) -> None:
    vault.pseudonym("s", "PERSON", "zoë", "Zoë 李", person)
    assert vault.originals("s") == {"PERSON_1": "Zoë 李"}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("AB"), st.sampled_from("xyzw")), max_size=30))
def test_numbering_property(tmp_path_factory: pytest.TempPathFactory,
                            calls: list[tuple[str, str]]) -> None:
    session = secrets.token_hex(8)
    with Vault(tmp_path_factory.getbasetemp() / "prop.db", key=KEY) as vault:
        got = {(e, v): vault.pseudonym(session, e, v, v.upper(), numbered(e)) for e, v in calls}
    for entity in "AB":
        numbers = sorted(int(p[1:]) for (e, _), p in got.items() if e == entity)
        assert numbers == list(range(1, len(numbers) + 1))


# --- at rest ---------------------------------------------------------------------------

def test_nothing_plaintext_on_disk(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    secrets_ = ["Quentin Zablocki", "quentin zablocki", "PSEUDO_Xavier_Wyndham", "session-7f3e9a"]
    with Vault(db) as vault:
        vault.pseudonym("session-7f3e9a", "PERSON", "quentin zablocki", "Quentin Zablocki",
                        lambda n: f"PSEUDO_Xavier_Wyndham_{n}")
        vault.pseudonym("session-7f3e9a", "PERSON_TYPE_MARK", "other", "Other", person)
        during = files_of(db)
    after = files_of(db)
    assert db.name in after
    for blob in [*during.values(), *after.values()]:
        for text in [*secrets_, "PERSON_TYPE_MARK"]:
            assert text.encode() not in blob
            assert text.encode("utf-16-le") not in blob


def test_ciphertext_lengths_hide_value_lengths(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    with Vault(db, key=KEY) as vault:
        vault.pseudonym("s", "PERSON", "al", "Al", person)
        vault.pseudonym("s", "PERSON", "bart", "Bartholomew Longname", person)
    raw = sqlite3.connect(db)
    lengths = raw.execute("SELECT length(original), length(pseudonym) FROM entries").fetchall()
    raw.close()
    assert len({n for row in lengths for n in row}) == 1


def test_key_file_created_0600_and_reopen(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    with Vault(db) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
        for companion in ("vault.db-wal", "vault.db-shm"):  # SQLite copies the db file's mode
            assert stat.S_IMODE((tmp_path / companion).stat().st_mode) == 0o600
    key_file = tmp_path / "vault.db.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    key = base64.urlsafe_b64decode(key_file.read_text().strip())
    assert len(key) == 32
    for again in (Vault(db), Vault(db, key=key), Vault(db, key_file=key_file)):
        with again:
            assert again.originals("s") == {"PERSON_1": "Alice"}


def test_wrong_key_refused_without_touching_files(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    with Vault(db, key=KEY) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    before = db.read_bytes()
    with pytest.raises(VaultKeyError, match="vault key does not match"):
        Vault(db, key=Vault.generate_key())
    assert db.read_bytes() == before
    assert not (tmp_path / "vault.db.key").exists()
    with Vault(db, key=KEY) as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice"}


def test_missing_key_file_for_existing_vault(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    with Vault(db) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    (tmp_path / "vault.db.key").unlink()
    before = db.read_bytes()
    with pytest.raises(VaultKeyError, match="missing"):
        Vault(db)
    assert db.read_bytes() == before
    assert not (tmp_path / "vault.db.key").exists()


def test_key_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "vault.db"
    key = Vault.generate_key()
    monkeypatch.setenv("VEIL_VAULT_KEY", base64.urlsafe_b64encode(key).decode())
    with Vault(db) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    assert not (tmp_path / "vault.db.key").exists()
    monkeypatch.delenv("VEIL_VAULT_KEY")
    with Vault(db, key=key) as vault:
        assert vault.originals("s") == {"PERSON_1": "Alice"}
    monkeypatch.setenv("VEIL_VAULT_KEY", "not a key")
    with pytest.raises(VaultKeyError, match="VEIL_VAULT_KEY"):
        Vault(db)


def test_key_file_from_environment_and_bad_key(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "elsewhere.key"
    monkeypatch.setenv("VEIL_VAULT_KEY_FILE", str(key_file))
    with Vault(tmp_path / "vault.db"):
        pass
    assert key_file.exists() and not (tmp_path / "vault.db.key").exists()
    with pytest.raises(VaultKeyError, match="32 bytes"):
        Vault(tmp_path / "other.db", key=b"short")


def test_default_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with Vault() as vault:
        assert vault.path == tmp_path / "home" / ".local" / "share" / "veil" / "vault.db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with Vault() as vault:
        assert vault.path == tmp_path / "xdg" / "veil" / "vault.db"
    monkeypatch.setenv("VEIL_VAULT_PATH", str(tmp_path / "env.db"))
    with Vault() as vault:
        assert vault.path == tmp_path / "env.db"
    assert (tmp_path / "env.db.key").exists()


# --- expiry and erasure ----------------------------------------------------------------

def test_ttl_sliding_expiry_and_purge(tmp_path: Path) -> None:
    now = [1000.0]
    with Vault(tmp_path / "vault.db", key=KEY, ttl_seconds=10, clock=lambda: now[0]) as vault:
        vault.pseudonym("old-session-id", "PERSON", "alice", "Alice", person)
        vault.pseudonym("old-session-id", "PERSON", "bob", "Bob", person)
        now[0] = 1008.0
        assert vault.originals("old-session-id")  # a use: pushes expiry to 1018
        now[0] = 1015.0
        vault.pseudonym("keep", "PERSON", "carol", "Carol", person)
        now[0] = 1020.0
        with pytest.raises(SessionExpiredError) as info:
            vault.pseudonym("old-session-id", "PERSON", "alice", "Alice", person)
        assert "old-session-id" not in str(info.value) and "alice" not in str(info.value).lower()
        with pytest.raises(SessionExpiredError):
            vault.originals("old-session-id")
        assert vault.purge_expired() == 2
        assert vault.purge_expired() == 0
        with pytest.raises(SessionExpiredError):  # stays expired after the purge
            vault.pseudonym("old-session-id", "PERSON", "alice", "Alice", person)
        assert vault.originals("keep") == {"PERSON_1": "Carol"}


def test_ttl_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ttl"):
        Vault(tmp_path / "vault.db", key=KEY, ttl_seconds=0)


def test_forget_erases_across_sessions(vault: Vault) -> None:
    for session in ("a", "b"):
        vault.pseudonym(session, "EMAIL", "ann@x.org", "Ann@x.org", lambda n: f"E{n}")
    vault.pseudonym("a", "EMAIL", "bob@x.org", "bob@x.org", lambda n: f"E{n}")
    vault.pseudonym("a", "PERSON", "ann@x.org", "ann@x.org", person)  # same canonical, other entity
    assert vault.forget(["ann@x.org", "never-seen"]) == 3
    assert vault.originals("a") == {"E2": "bob@x.org"}
    assert vault.originals("b") == {}
    # numbers are never reused: the forgotten value comes back under a new one
    assert vault.pseudonym("a", "EMAIL", "ann@x.org", "ann@x.org", lambda n: f"E{n}") == "E3"
    assert vault.forget([]) == 0


# --- failures --------------------------------------------------------------------------

def test_corrupt_file_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    db.write_bytes(random.Random(7).randbytes(8192))
    with pytest.raises(VaultError, match="corrupt or not a Veil vault") as info:
        Vault(db)
    assert str(db) in str(info.value)
    assert db.read_bytes() == random.Random(7).randbytes(8192)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.db"]


def test_foreign_sqlite_database_left_untouched(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE notes (body TEXT)")
    other.commit()
    other.close()
    before = db.read_bytes()
    with pytest.raises(VaultError, match="corrupt or not a Veil vault"):
        Vault(db, key=KEY)
    assert db.read_bytes() == before


def test_unusable_paths(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(VaultError, match="cannot create vault"):
        Vault(tmp_path / "plain" / "vault.db", key=KEY)
    with pytest.raises(VaultError, match="cannot be opened"):
        Vault(tmp_path, key=KEY)  # a directory


def test_closed_vault_refuses(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault.db", key=KEY)
    vault.close()
    vault.close()
    with pytest.raises(VaultError, match="closed"):
        vault.originals("s")


def test_locked_database(tmp_path: Path) -> None:
    db = tmp_path / "vault.db"
    with Vault(db, key=KEY) as vault:
        vault.pseudonym("s", "PERSON", "alice", "Alice", person)
    with Vault(db, key=KEY, timeout_seconds=0.2) as vault:
        holder = sqlite3.connect(db, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            with pytest.raises(VaultError, match="locked") as info:
                vault.pseudonym("s", "PERSON", "alice", "Alice", person)
            assert "alice" not in str(info.value).lower()
            with pytest.raises(VaultError, match="locked"):
                Vault(db, key=KEY, timeout_seconds=0.2)
        finally:
            holder.close()
        assert vault.originals("s") == {"PERSON_1": "Alice"}


@pytest.mark.parametrize("tamper", [
    "UPDATE entries SET sid = (SELECT sid FROM entries ORDER BY rowid LIMIT 1)",  # b's row -> a
    "UPDATE entries SET original = pseudonym, pseudonym = original",  # columns swapped
])
def test_tampered_rows_detected(tmp_path: Path, tamper: str) -> None:
    db = tmp_path / "vault.db"
    with Vault(db, key=KEY) as vault:
        vault.pseudonym("a", "PERSON", "alice", "Alice", person)
        vault.pseudonym("b", "PERSON", "bob", "Bob", person)
    raw = sqlite3.connect(db)
    raw.execute(tamper)
    raw.commit()
    raw.close()
    with Vault(db, key=KEY) as vault, pytest.raises(VaultError, match="authentication"):
        vault.originals("a")


# --- concurrency -----------------------------------------------------------------------

def _calls(seed: int, count: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(rng.choice(["s1", "s2"]), f"value-{rng.randrange(30)}") for _ in range(count)]


def _run(vault: Vault, seed: int, count: int) -> list[tuple[str, str, str]]:
    return [(s, v, vault.pseudonym(s, "PERSON", v, v.upper(), person))
            for s, v in _calls(seed, count)]


def _check_consistent(results: list[tuple[str, str, str]]) -> None:
    by_value: dict[tuple[str, str], set[str]] = {}
    for session, value, pseudo in results:
        by_value.setdefault((session, value), set()).add(pseudo)
    assert all(len(p) == 1 for p in by_value.values())
    for session in ("s1", "s2"):
        numbers = sorted(int(next(iter(p)).split("_")[1])
                         for (s, _), p in by_value.items() if s == session)
        assert numbers == list(range(1, len(numbers) + 1))  # no duplicates, no gaps


def test_threads_agree(vault: Vault) -> None:
    results: list[tuple[str, str, str]] = []
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            results.extend(_run(vault, seed, 50))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 400
    _check_consistent(results)
    assert len(vault.originals("s1")) == len({v for s, v, _ in results if s == "s1"})


def _process_worker(path: str, seed: int, start: Barrier, out: Queue[object]) -> None:
    start.wait(timeout=60)  # all open together: one creates the vault and its key file
    try:
        with Vault(path, timeout_seconds=30) as vault:
            out.put(_run(vault, seed, 100))
    except BaseException as exc:
        out.put(repr(exc))


def test_processes_agree(tmp_path: Path) -> None:
    db = str(tmp_path / "vault.db")
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(db, seed, start, out)) for seed in range(3)]
    for p in procs:
        p.start()
    per_process = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(isinstance(r, list) for r in per_process), per_process
    results = [r for rs in per_process for r in cast(list[tuple[str, str, str]], rs)]
    _check_consistent(results)
    with Vault(db) as vault:
        assert vault.originals("s1") == {p: v.upper() for s, v, p in results if s == "s1"}
    assert os.stat(db + ".key").st_mode & 0o077 == 0
