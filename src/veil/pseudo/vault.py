"""The pseudonym vault: per-session mappings between personal values and their pseudonyms.

Stored in SQLite (WAL mode). Originals and pseudonyms are sealed with AES-256-GCM (random
nonce, padded so lengths leak little); the associated data binds each ciphertext to its
row's session, entity, lookup hash and role, so ciphertexts cannot be moved between rows,
sessions or columns. Rows are found through HMAC-SHA256 hashes (subkeys derived by HKDF),
never through plaintext; session ids and entity names are stored only as such hashes.
Nothing here logs, and no error text names a value, a pseudonym or a session id.

Threads share one connection behind a lock: SQLite admits one writer at a time anyway and
every call is a single short write transaction, so per-thread connections would add open
files but no throughput, and ``close()`` could not reach them. Processes are serialised by
``BEGIN IMMEDIATE`` plus the busy timeout.

Sessions expire ``ttl_seconds`` after their last use (sliding: ``pseudonym`` and
``originals`` both refresh it). An expired session keeps a tombstone (its hashed id and
expiry, no mappings) after ``purge_expired``, so it keeps raising SessionExpiredError instead of
silently restarting its numbering.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import SessionExpiredError, VaultError, VaultKeyError

_TABLES = frozenset({"meta", "sessions", "counters", "entries"})
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sessions (sid BLOB PRIMARY KEY, expires REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (sid BLOB NOT NULL, ent BLOB NOT NULL,"
    " next INTEGER NOT NULL, PRIMARY KEY (sid, ent))",
    "CREATE TABLE IF NOT EXISTS entries (lookup BLOB PRIMARY KEY, sid BLOB NOT NULL,"
    " ent BLOB NOT NULL, value_hash BLOB NOT NULL, pseudonym_hash BLOB NOT NULL UNIQUE,"
    " original BLOB NOT NULL, pseudonym BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS entries_sid ON entries (sid)",
    "CREATE INDEX IF NOT EXISTS entries_value ON entries (value_hash)",
)
_CHECK = b"veil vault key check v1"
_PAD = 32  # ciphertexts hide value lengths up to this granularity
_MAX_TRIES = 1000  # calls to `make` for one value before giving up on collisions


def default_path() -> Path:
    """$VEIL_VAULT_PATH, else $XDG_DATA_HOME/veil/vault.db, else ~/.local/share/veil/vault.db."""
    if env := os.environ.get("VEIL_VAULT_PATH"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "veil" / "vault.db"


class Vault:
    """Per-session pseudonym mappings, encrypted at rest; safe across threads and processes."""

    def __init__(self, path: str | Path | None = None, *, key: bytes | None = None,
                 key_file: str | Path | None = None, ttl_seconds: float = 86400.0,
                 timeout_seconds: float = 10.0, clock: Callable[[], float] = time.time) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self.path = Path(path) if path is not None else default_path()
        self._ttl, self._clock = ttl_seconds, clock
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        db = self._connect(timeout_seconds)
        try:
            with self._errors():
                # Opening a new vault races other openers: switching to WAL and the first
                # read can report busy at once, without waiting on the busy timeout.
                deadline = time.monotonic() + timeout_seconds
                while True:
                    try:
                        self._set_up(db, key, key_file)
                        break
                    except sqlite3.OperationalError as exc:
                        if not _is_busy(exc) or time.monotonic() > deadline:
                            raise
                        time.sleep(0.02)
        except BaseException:
            db.close()
            raise
        self._db = db

    @staticmethod
    def generate_key() -> bytes:
        """A fresh random 32-byte vault key."""
        return os.urandom(32)

    def pseudonym(self, session: str, entity: str, canonical: str, original: str,
                  make: Callable[[int], str]) -> str:
        """The session's pseudonym for a value, created on first sight as make(n), where n is
        1 + the number of pseudonyms of this entity already in the session. Atomic across
        threads and processes: two concurrent calls for the same value get the same pseudonym,
        and numbers are never reused within a session. `make` may return a pseudonym already
        used in the session for another value (e.g. a surrogate name collision): then it is
        called again with n+1, n+2, ... until unique. `make` runs inside the write transaction."""
        sid, ent = self._mac(b"session", session), self._mac(b"entity", session, entity)
        lookup = self._mac(b"lookup", session, entity, canonical)
        with self._write() as db:
            self._touch(db, sid, create=True)
            row = db.execute("SELECT pseudonym FROM entries WHERE lookup = ?", (lookup,)).fetchone()
            if row is not None:
                return _text(self._unseal(row[0], b"pseudonym" + sid + ent + lookup))
            counter = db.execute("SELECT next FROM counters WHERE sid = ? AND ent = ?",
                                 (sid, ent)).fetchone()
            start = counter[0] if counter else 1
            for n in range(start, start + _MAX_TRIES):
                candidate = make(n)
                taken = self._mac(b"pseudonym", session, candidate)
                if not db.execute("SELECT 1 FROM entries WHERE pseudonym_hash = ?",
                                  (taken,)).fetchone():
                    break
            else:
                raise VaultError(f"no unused pseudonym after {_MAX_TRIES} tries")
            db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?, ?)", (sid, ent, n + 1))
            db.execute(
                "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (lookup, sid, ent, self._mac(b"value", canonical), taken,
                 self._seal(_bytes(original), b"original" + sid + ent + lookup),
                 self._seal(_bytes(candidate), b"pseudonym" + sid + ent + lookup)))
            return candidate

    def derived_key(self, session: str, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` within ``session`` (e.g. replacing DICOM UIDs): the
        same for the same vault key, session and purpose, unrelated otherwise."""
        return self._mac(b"derived key", session, purpose)

    def originals(self, session: str) -> dict[str, str]:
        """pseudonym -> original (the first-seen surface form) for the session."""
        sid = self._mac(b"session", session)
        with self._write() as db:
            if not self._touch(db, sid, create=False):
                return {}
            rows = db.execute("SELECT lookup, ent, original, pseudonym FROM entries"
                              " WHERE sid = ?", (sid,)).fetchall()
        return {
            _text(self._unseal(p, b"pseudonym" + sid + ent + lk)):
                _text(self._unseal(o, b"original" + sid + ent + lk))
            for lk, ent, o, p in rows
        }

    def forget(self, canonicals: Iterable[str]) -> int:
        """Erase every mapping, in every session, whose canonical value is one of these;
        returns rows deleted. Numbers stay used: a forgotten value seen again gets a new one."""
        value_hashes = [(self._mac(b"value", c),) for c in canonicals]
        with self._write() as db:
            before = db.total_changes
            db.executemany("DELETE FROM entries WHERE value_hash = ?", value_hashes)
            return db.total_changes - before

    def purge_expired(self) -> int:
        """Delete the mappings of expired sessions; returns rows deleted."""
        with self._write() as db:
            expired = "SELECT sid FROM sessions WHERE expires <= ?"
            now = (self._clock(),)
            db.execute(f"DELETE FROM counters WHERE sid IN ({expired})", now)
            return db.execute(f"DELETE FROM entries WHERE sid IN ({expired})", now).rowcount

    def close(self) -> None:
        """Close the database; later calls raise VaultError."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------

    def _set_up(self, db: sqlite3.Connection, key: bytes | None,
                key_file: str | Path | None) -> None:
        self._check_tables(db)  # read only: a foreign file is refused before any write
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable but for a power cut
        db.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten on disk
        with self._transaction(db):
            self._check_tables(db)
            for stmt in _SCHEMA:
                db.execute(stmt)
            row = db.execute("SELECT value FROM meta WHERE name = 'check'").fetchone()
            self._set_key(_resolve_key(key, key_file, self.path, new=row is None))
            if row is None:
                db.execute("INSERT INTO meta VALUES ('check', ?)", (self._seal(_CHECK, b"check"),))
            elif self._unseal(row[0], b"check") != _CHECK:
                raise VaultKeyError(f"vault key does not match the vault: {self.path}")

    def _connect(self, timeout: float) -> sqlite3.Connection:
        try:
            if not self.path.exists():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # WAL files inherit
        except OSError as exc:
            raise VaultError(f"cannot create vault ({exc.strerror}): {self.path}") from None
        with self._errors():
            return sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)

    def _check_tables(self, db: sqlite3.Connection) -> None:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if names and not _TABLES.issubset(names):
            raise VaultError(f"vault file is corrupt or not a Veil vault: {self.path}")

    def _set_key(self, key: bytes) -> None:
        def sub(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)

        self._aead, self._mac_key = AESGCM(sub(b"veil vault aead v1")), sub(b"veil vault hmac v1")

    def _mac(self, label: bytes, *parts: str) -> bytes:
        """Keyed hash of length-prefixed parts, so no two part lists hash alike."""
        h = hmac.new(self._mac_key, label, hashlib.sha256)
        for part in parts:
            data = _bytes(part)
            h.update(len(data).to_bytes(8, "big") + data)
        return h.digest()

    def _seal(self, plain: bytes, ad: bytes) -> bytes:
        """nonce || AES-GCM(plain padded 0x80 00.. to a multiple of _PAD bytes)."""
        nonce = os.urandom(12)
        padded = plain + b"\x80" + bytes(-(len(plain) + 1) % _PAD)
        return nonce + self._aead.encrypt(nonce, padded, ad)

    def _unseal(self, blob: bytes, ad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], ad).rstrip(b"\0")[:-1]
        except InvalidTag:
            if ad == b"check":
                raise VaultKeyError(f"vault key does not match the vault: {self.path}") from None
            raise VaultError(f"vault entry fails authentication (tampered?): {self.path}") from None

    def _touch(self, db: sqlite3.Connection, sid: bytes, *, create: bool) -> bool:
        """Check the session is live and push its expiry; False if it does not exist."""
        now = self._clock()
        row = db.execute("SELECT expires FROM sessions WHERE sid = ?", (sid,)).fetchone()
        if row is not None and row[0] <= now:
            raise SessionExpiredError(
                "session has expired; its pseudonyms can no longer be restored")
        if row is not None or create:
            db.execute("INSERT OR REPLACE INTO sessions VALUES (?, ?)", (sid, now + self._ttl))
        return row is not None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            if self._db is None:
                raise VaultError(f"vault is closed: {self.path}")
            with self._transaction(self._db):
                yield self._db

    @staticmethod
    @contextlib.contextmanager
    def _transaction(db: sqlite3.Connection) -> Iterator[None]:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn sqlite3 errors into VaultError; their texts are dropped, only the kind is kept."""
        try:
            yield
        except sqlite3.Error as exc:
            kind = _kind(exc)
            if _is_busy(exc):
                msg = "vault is locked by another connection (busy timeout passed)"
            elif kind.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
                msg = "vault file is corrupt or not a Veil vault"
            elif kind.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY")):
                msg = f"vault file cannot be opened or written ({kind})"
            else:
                msg = f"vault database error ({kind})"
            raise VaultError(f"{msg}: {self.path}") from None


def _resolve_key(key: bytes | None, key_file: str | Path | None, db_path: Path, *,
                 new: bool) -> bytes:
    """The explicit key, else $VEIL_VAULT_KEY, else the key file (created only for a new vault)."""
    if key is not None:
        if len(key) != 32:
            raise VaultKeyError("vault key must be 32 bytes")
        return key
    if env := os.environ.get("VEIL_VAULT_KEY"):
        return _decode_key(env, "VEIL_VAULT_KEY")
    path = Path(key_file or os.environ.get("VEIL_VAULT_KEY_FILE") or f"{db_path}.key")
    try:
        return _decode_key(path.read_text("ascii"), f"vault key file {path}")
    except FileNotFoundError:
        if not new:
            raise VaultKeyError(f"vault key file missing for a vault with data: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultKeyError(f"cannot read vault key file: {path} ({type(exc).__name__})") from None
    fresh = Vault.generate_key()
    try:  # O_EXCL and 0600 from birth: never world-readable, never overwrites a key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(base64.urlsafe_b64encode(fresh).decode() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise VaultKeyError(f"cannot create vault key file: {path} ({exc.strerror})") from None
    return fresh


def _kind(exc: sqlite3.Error) -> str:
    return getattr(exc, "sqlite_errorname", "") or type(exc).__name__


def _is_busy(exc: sqlite3.Error) -> bool:
    return _kind(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise VaultKeyError(f"{source} is not urlsafe base64 of 32 bytes")
    return key
