"""The pseudonym vault: per-session mappings between personal values and their pseudonyms.

Kept in a ``veil.store.Store``: a SQLite file (the default), ``memory:`` (nothing
persisted) or PostgreSQL (``postgresql://...``, shared by every gateway replica); the
logic below is the same for all three. Originals and pseudonyms are sealed with
AES-256-GCM (random nonce, padded so lengths leak little) before they reach the database;
the associated data binds each ciphertext to its row's session, entity, lookup hash and
role, so ciphertexts cannot be moved between rows, sessions or columns. Rows are found
through HMAC-SHA256 hashes (subkeys derived by HKDF), never through plaintext; session ids
and entity names are stored only as such hashes. Nothing here logs, and no error text names
a value, a pseudonym or a session id.

Envelope encryption: values are sealed with random data keys (generations 1, 2, ...; each
entry names its generation), stored only wrapped by a key-encryption key from a
``KeyProvider`` (``veil.pseudo.keys``). ``rotate_key()`` adds a data key for new values
(older values keep theirs: nothing is re-encrypted at once); ``rotate_key(new_provider)``
re-wraps every data key under a new KEK. Both are one short transaction, and running
processes keep working: they hold their unwrapped data keys and load a newer one when they
meet it. The lookup hashes are keyed by the first data key and are not rotated (that would
mean re-hashing every row); the KEK that wraps it is.

Races (threads, processes, replicas): each call is one transaction that first locks its
session's row, so calls in one session are serialised; primary keys and a unique
pseudonym hash back that up, and a conflict reruns the transaction. Two calls for the
same new value get the same pseudonym, and numbers are never reused within a session.

Sessions expire ``ttl_seconds`` after their last use (sliding: ``pseudonym`` and
``originals`` both refresh it). An expired session keeps a tombstone (its hashed id and
expiry, no mappings) after ``purge_expired``, so it keeps raising SessionExpiredError instead of
silently restarting its numbering.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import SessionExpiredError, VaultError, VaultKeyError
from veil.pseudo.keys import KeyProvider, LocalKeyProvider, generate_key, resolve_provider
from veil.store import MEMORY, Migration, SQLiteStore, Store, Tx, is_url, open_store

MIGRATIONS: tuple[Migration, ...] = (
    (  # 1: the first vault's tables
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value {blob} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS sessions (sid {blob} PRIMARY KEY, expires {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS counters (sid {blob} NOT NULL, ent {blob} NOT NULL,"
        " next {int} NOT NULL, PRIMARY KEY (sid, ent))",
        "CREATE TABLE IF NOT EXISTS entries (lookup {blob} PRIMARY KEY, sid {blob} NOT NULL,"
        " ent {blob} NOT NULL, value_hash {blob} NOT NULL, pseudonym_hash {blob} NOT NULL"
        " UNIQUE, original {blob} NOT NULL, pseudonym {blob} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS entries_sid ON entries (sid)",
        "CREATE INDEX IF NOT EXISTS entries_value ON entries (value_hash)",
    ),
    (  # 2: envelope encryption: data keys wrapped by a KEK; each entry names its data key
        "CREATE TABLE data_keys (gen INTEGER PRIMARY KEY, kek TEXT NOT NULL,"
        " wrapped {blob} NOT NULL)",
        "ALTER TABLE entries ADD COLUMN gen INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX sessions_expires ON sessions (expires)",
    ),
)
_CHECK = b"veil vault key check v1"  # sealed in 'meta' by vaults from before data keys
_PAD = 32  # ciphertexts hide value lengths up to this granularity
_MAX_TRIES = 1000  # calls to `make` for one value before giving up on collisions


def default_path() -> Path:
    """$VEIL_VAULT_PATH, else $XDG_DATA_HOME/veil/vault.db, else ~/.local/share/veil/vault.db."""
    if env := os.environ.get("VEIL_VAULT_PATH"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "veil" / "vault.db"


def _sub(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


@dataclass(frozen=True, slots=True)
class _Keyring:
    """The unwrapped data keys by generation; new values use ``current``."""

    aeads: dict[int, AESGCM]
    mac_key: bytes
    current: int


@dataclass(frozen=True, slots=True)
class Rotation:
    """What ``rotate_key`` did."""

    generation: int
    """The data key new values are sealed with."""
    rewrapped: int
    """Data keys wrapped anew under the new KEK (0 when only a data key was added)."""
    key_id: str
    """The KEK that wraps the data keys now."""


class Vault:
    """Per-session pseudonym mappings, encrypted at rest; safe across threads, processes and
    replicas. ``target``: a SQLite path (default ``default_path()``), ``memory:`` or a
    ``postgresql://`` URL. The KEK: ``key_provider``, ``key``, $VEIL_VAULT_KEY_PROVIDER,
    $VEIL_VAULT_KEY, else a key file (``key_file``, $VEIL_VAULT_KEY_FILE, or beside a SQLite
    vault, created with it); a ``memory:`` vault makes a random one."""

    def __init__(self, target: str | Path | None = None, *, key: bytes | None = None,
                 key_file: str | Path | None = None,
                 key_provider: KeyProvider | str | None = None, ttl_seconds: float = 86400.0,
                 timeout_seconds: float = 10.0, clock: Callable[[], float] = time.time,
                 pool_size: int = 10) -> None:
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        if target is None:
            target = default_path()
        if isinstance(target, str) and not is_url(target):
            target = Path(target)
        self._ttl, self._clock = ttl_seconds, clock
        self._key_lock = threading.Lock()
        self.store: Store = open_store(target, timeout=timeout_seconds, pool_size=pool_size)
        self.path = self.store.path if isinstance(self.store, SQLiteStore) else None
        try:
            self.store.migrate("vault", MIGRATIONS)
            if self.store.target == MEMORY and key is None and key_provider is None:
                key = generate_key()
            default_file = Path(f"{self.path}.key") if self.path is not None else None
            self._provider, self._keys = self.store.atomic(
                lambda tx: self._open_keys(tx, key, key_file, key_provider, default_file))
        except BaseException:
            self.store.close()
            raise

    @staticmethod
    def generate_key() -> bytes:
        """A fresh random 32-byte key."""
        return generate_key()

    @property
    def target(self) -> str:
        """Where the vault is (a path, ``memory:`` or a URL without its password)."""
        return self.store.target

    def pseudonym(self, session: str, entity: str, canonical: str, original: str,
                  make: Callable[[int], str]) -> str:
        """The session's pseudonym for a value, created on first sight as make(n), where n is
        1 + the number of pseudonyms of this entity already in the session. Atomic across
        threads, processes and replicas: two concurrent calls for the same value get the same
        pseudonym, and numbers are never reused within a session. `make` may return a
        pseudonym already used in the session for another value (e.g. a surrogate name
        collision): then it is called again with n+1, n+2, ... until unique. `make` runs
        inside the write transaction (and again if a conflict reruns it)."""
        sid, ent = self._mac(b"session", session), self._mac(b"entity", session, entity)
        lookup = self._mac(b"lookup", session, entity, canonical)

        def work(tx: Tx) -> str:
            self._touch(tx, sid, create=True)
            row = tx.one("SELECT gen, pseudonym FROM entries WHERE lookup = ?", (lookup,))
            if row is not None:
                return _text(self._unseal(tx, row[0], row[1], b"pseudonym" + sid + ent + lookup))
            counter = tx.one("SELECT next FROM counters WHERE sid = ? AND ent = ?", (sid, ent))
            start = counter[0] if counter else 1
            for n in range(start, start + _MAX_TRIES):
                candidate = make(n)
                taken = self._mac(b"pseudonym", session, candidate)
                if not tx.one("SELECT 1 FROM entries WHERE pseudonym_hash = ?", (taken,)):
                    break
            else:
                raise VaultError(f"no unused pseudonym after {_MAX_TRIES} tries")
            tx.run("INSERT INTO counters VALUES (?, ?, ?) ON CONFLICT (sid, ent)"
                   " DO UPDATE SET next = excluded.next", (sid, ent, n + 1))
            gen = self._current(tx)
            tx.run("INSERT INTO entries (lookup, sid, ent, value_hash, pseudonym_hash, original,"
                   " pseudonym, gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (lookup, sid, ent, self._mac(b"value", canonical), taken,
                    self._seal(gen, _bytes(original), b"original" + sid + ent + lookup),
                    self._seal(gen, _bytes(candidate), b"pseudonym" + sid + ent + lookup), gen))
            return candidate

        return self.store.atomic(work)

    def derived_key(self, session: str, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` within ``session`` (e.g. replacing DICOM UIDs): the
        same for the same vault, session and purpose, unrelated otherwise."""
        return self._mac(b"derived key", session, purpose)

    def originals(self, session: str) -> dict[str, str]:
        """pseudonym -> original (the first-seen surface form) for the session."""
        sid = self._mac(b"session", session)

        def work(tx: Tx) -> dict[str, str]:
            if not self._touch(tx, sid, create=False):
                return {}
            rows = tx.all("SELECT lookup, ent, gen, original, pseudonym FROM entries"
                          " WHERE sid = ?", (sid,))
            return {
                _text(self._unseal(tx, gen, p, b"pseudonym" + sid + ent + lk)):
                    _text(self._unseal(tx, gen, o, b"original" + sid + ent + lk))
                for lk, ent, gen, o, p in rows
            }

        return self.store.atomic(work)

    def forget(self, canonicals: Iterable[str]) -> int:
        """Erase every mapping, in every session, whose canonical value is one of these;
        returns rows deleted. Numbers stay used: a forgotten value seen again gets a new one."""
        value_hashes = [self._mac(b"value", c) for c in canonicals]
        return self.store.atomic(lambda tx: sum(
            tx.run("DELETE FROM entries WHERE value_hash = ?", (h,)) for h in value_hashes))

    def purge_expired(self) -> int:
        """Delete the mappings of expired sessions; returns rows deleted."""
        def work(tx: Tx) -> int:
            expired = "SELECT sid FROM sessions WHERE expires <= ?"
            now = (self._clock(),)
            tx.run(f"DELETE FROM counters WHERE sid IN ({expired})", now)
            return tx.run(f"DELETE FROM entries WHERE sid IN ({expired})", now)

        return self.store.atomic(work)

    def rotate_key(self, new_provider: KeyProvider | None = None) -> Rotation:
        """Without ``new_provider``: a new data key, which new values are sealed with from
        now on (in this process at once, in others from their next write). With it: every
        data key re-wrapped under the new KEK (the old one no longer opens the vault); no
        value is re-encrypted either way."""
        def work(tx: Tx) -> Rotation:
            rows = tx.all(f"SELECT gen, kek, wrapped FROM data_keys{self.store.dialect.lock}")
            keys = {gen: self._unwrap(self._provider, kek, wrapped) for gen, kek, wrapped in rows}
            if new_provider is None:
                gen = max(keys) + 1
                tx.run("INSERT INTO data_keys VALUES (?, ?, ?)",
                       (gen, self._provider.key_id, self._provider.wrap(generate_key())))
                return Rotation(gen, 0, self._provider.key_id)
            for gen, data_key in keys.items():
                tx.run("UPDATE data_keys SET kek = ?, wrapped = ? WHERE gen = ?",
                       (new_provider.key_id, new_provider.wrap(data_key), gen))
            return Rotation(max(keys), len(keys), new_provider.key_id)

        done = self.store.atomic(work)
        if new_provider is not None:
            self._provider = new_provider
        self.store.atomic(self._current)  # load the new data key
        return done

    def check(self) -> None:
        """Raise VaultError unless the database answers (for /readyz)."""
        self.store.check()

    def close(self) -> None:
        """Close the database; later calls raise VaultError."""
        self.store.close()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- keys ---------------------------------------------------------------------------

    def _open_keys(self, tx: Tx, key: bytes | None, key_file: str | Path | None,
                   provider: KeyProvider | str | None, default_file: Path | None
                   ) -> tuple[KeyProvider, _Keyring]:
        """The KEK and the data keys; a new vault gets its first data key. A vault from
        before data keys (its values sealed with its key directly) keeps that key as data
        key 1, now wrapped by itself: ``rotate_key(new)`` then wraps it under a new KEK."""
        rows = tx.all("SELECT gen, kek, wrapped FROM data_keys")
        legacy = tx.one("SELECT value FROM meta WHERE name = 'check'")
        kek = resolve_provider(key=key, key_file=key_file, provider=provider,
                               default_file=default_file, create=not rows and legacy is None)
        if not rows:
            if legacy is None:
                first = generate_key()
            elif isinstance(kek, LocalKeyProvider):
                first = kek.kek
                aead = AESGCM(_sub(first, b"veil vault aead v1"))
                try:
                    aead.decrypt(legacy[0][:12], legacy[0][12:], b"check")
                except InvalidTag:
                    raise VaultKeyError(
                        f"vault key does not match the vault: {self.target}") from None
            else:
                raise VaultKeyError("open this vault once with its own key before giving it "
                                    f"a key provider: {self.target}")
            rows = [(1, kek.key_id, kek.wrap(first))]
            tx.run("INSERT INTO data_keys VALUES (?, ?, ?)", rows[0])
        return kek, self._keyring(kek, rows)

    def _keyring(self, kek: KeyProvider, rows: list[tuple[int, str, bytes]]) -> _Keyring:
        keys = {gen: self._unwrap(kek, kek_id, wrapped) for gen, kek_id, wrapped in rows}
        return _Keyring({g: AESGCM(_sub(k, b"veil vault aead v1")) for g, k in keys.items()},
                        _sub(keys[min(keys)], b"veil vault hmac v1"), max(keys))

    def _unwrap(self, kek: KeyProvider, kek_id: str, wrapped: bytes) -> bytes:
        if kek_id != kek.key_id:
            raise VaultKeyError(f"vault key does not match the vault: {self.target} (its data "
                                f"keys are wrapped by {kek_id}, this key is {kek.key_id})")
        try:
            return kek.unwrap(wrapped)
        except VaultKeyError:
            raise VaultKeyError(f"vault key does not match the vault: {self.target}") from None

    def _current(self, tx: Tx) -> int:
        """The newest data key's generation, loading it if another process added it. A
        data key this process cannot unwrap (its KEK was rotated since it started) is left
        for processes started with the new KEK; this one keeps its own."""
        row = tx.one("SELECT max(gen) FROM data_keys")
        keys = self._keys
        if row is not None and row[0] is not None and row[0] > keys.current:
            try:
                self._reload(tx)
            except VaultKeyError:
                return keys.current
        return self._keys.current

    def _reload(self, tx: Tx) -> None:
        rows = tx.all("SELECT gen, kek, wrapped FROM data_keys")
        with self._key_lock:
            self._keys = self._keyring(self._provider, rows)

    def _mac(self, label: bytes, *parts: str) -> bytes:
        """Keyed hash of length-prefixed parts, so no two part lists hash alike."""
        h = hmac.new(self._keys.mac_key, label, hashlib.sha256)
        for part in parts:
            data = _bytes(part)
            h.update(len(data).to_bytes(8, "big") + data)
        return h.digest()

    def _seal(self, gen: int, plain: bytes, ad: bytes) -> bytes:
        """nonce || AES-GCM(plain padded 0x80 00.. to a multiple of _PAD bytes)."""
        nonce = os.urandom(12)
        padded = plain + b"\x80" + bytes(-(len(plain) + 1) % _PAD)
        return nonce + self._keys.aeads[gen].encrypt(nonce, padded, ad)

    def _unseal(self, tx: Tx, gen: int, blob: bytes, ad: bytes) -> bytes:
        if gen not in self._keys.aeads:
            self._reload(tx)
        aead = self._keys.aeads.get(gen)
        if aead is None:
            raise VaultError(f"vault entry names a data key the vault lacks: {self.target}")
        try:
            return aead.decrypt(blob[:12], blob[12:], ad).rstrip(b"\0")[:-1]
        except InvalidTag:
            raise VaultError("vault entry fails authentication (tampered?): "
                             f"{self.target}") from None

    # --- sessions -----------------------------------------------------------------------

    def _touch(self, tx: Tx, sid: bytes, *, create: bool) -> bool:
        """Lock the session's row, check the session is live and push its expiry; False if
        it does not exist."""
        now = self._clock()
        row = tx.one(f"SELECT expires FROM sessions WHERE sid = ?{self.store.dialect.lock}",
                     (sid,))
        if row is not None and row[0] <= now:
            raise SessionExpiredError(
                "session has expired; its pseudonyms can no longer be restored")
        if row is not None or create:
            tx.run("INSERT INTO sessions VALUES (?, ?) ON CONFLICT (sid)"
                   " DO UPDATE SET expires = excluded.expires", (sid, now + self._ttl))
        return row is not None


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")
