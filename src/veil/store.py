"""Where the vault, shared rate limits and the database audit log keep their rows.

One ``Store`` protocol, three targets: a SQLite file (the embedded default), ``memory:``
(SQLite in memory: nothing is written anywhere, gone with the process) and
``postgresql://...`` (shared by every replica; psycopg 3 with a connection pool). Callers
write one SQL text for all of them, with ``?`` placeholders and ``{blob}``, ``{real}``,
``{int}`` and ``{lock}`` (``FOR UPDATE`` on PostgreSQL) filled in per dialect; that is the
only difference between the backends.

``Store.atomic(work)`` runs ``work(tx)`` in one transaction and runs it again when the
database reports a conflict that a retry resolves (PostgreSQL: unique violation,
serialization failure, deadlock), so ``work`` must be safe to repeat. Schemas are versioned
per component (``migrate``) in the table ``veil_schema``; PostgreSQL migrations hold an
advisory lock, so replicas starting together apply each step once. Tables live in the
schema named by the URL's ``schema=`` parameter (default ``veil``) on PostgreSQL.

Errors become VaultError with the database's error class only: no database text (which
could quote a row) and no password reaches a message.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from veil.errors import VaultError

if TYPE_CHECKING:
    import psycopg
    import psycopg_pool

T = TypeVar("T")
Row = tuple[Any, ...]
MEMORY = "memory:"
_RETRIES = 8
_VAULT_V1 = frozenset({"meta", "sessions", "counters", "entries"})
"""The tables of a vault file from before versioned schemas."""
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class Tx(Protocol):
    """One open transaction."""

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None: ...
    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...
    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        """Execute; the number of rows changed."""
        ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """The words that differ between SQLite and PostgreSQL."""

    blob: str
    real: str
    int: str
    lock: str

    def sql(self, text: str) -> str:
        return text.format(blob=self.blob, real=self.real, int=self.int, lock=self.lock)


SQLITE = Dialect(blob="BLOB", real="REAL", int="INTEGER", lock="")
POSTGRES = Dialect(blob="BYTEA", real="DOUBLE PRECISION", int="BIGINT", lock=" FOR UPDATE")

Migration = Sequence[str]
"""The statements of one schema version."""


class Store(Protocol):
    """A database the vault and the gateway share."""

    target: str
    """Where it is, printable: a path, ``memory:`` or ``postgresql://user@host:port/db``
    (never a password)."""
    dialect: Dialect
    shared: bool
    """True when processes on other machines may use it too (PostgreSQL)."""

    def atomic(self, work: Callable[[Tx], T], *, lock_timeout: float | None = None) -> T:
        """``work(tx)`` in one transaction, repeated on retryable conflicts. With
        ``lock_timeout``, waiting longer than that for a lock raises StoreBusyError."""
        ...

    def migrate(self, component: str, steps: Sequence[Migration]) -> int:
        """Bring ``component``'s tables to version ``len(steps)``; the version before."""
        ...

    def tables(self) -> set[str]:
        """The names of the tables there are."""
        ...

    def check(self) -> None:
        """Raise VaultError unless the database answers."""
        ...

    def close(self) -> None: ...


class StoreBusyError(VaultError):
    """A lock was held elsewhere for longer than the caller would wait."""


def open_store(target: str | Path, *, timeout: float = 10.0, pool_size: int = 10) -> Store:
    """The store at ``target``: ``memory:``, ``postgresql://...`` (or ``postgres://``), else
    a SQLite file path."""
    text = str(target)
    if text == MEMORY:
        return SQLiteStore(None, timeout=timeout)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresStore(text, timeout=timeout, pool_size=pool_size)
    return SQLiteStore(Path(text), timeout=timeout)


def is_url(target: str | Path | None) -> bool:
    """True for targets that are not a file path (memory: or a database URL)."""
    return isinstance(target, str) and (target == MEMORY or "://" in target)


def _migrate(store: Store, tx: Tx, component: str, steps: Sequence[Migration]) -> int:
    tx.run("CREATE TABLE IF NOT EXISTS veil_schema (component TEXT PRIMARY KEY,"
           " version INTEGER NOT NULL)")
    row = tx.one(f"SELECT version FROM veil_schema WHERE component = ?{store.dialect.lock}",
                 (component,))
    before = int(row[0]) if row else 0
    for version in range(before, len(steps)):
        for statement in steps[version]:
            tx.run(store.dialect.sql(statement))
    if before < len(steps):
        tx.run("INSERT INTO veil_schema VALUES (?, ?) ON CONFLICT (component)"
               " DO UPDATE SET version = excluded.version", (component, len(steps)))
    elif before > len(steps):
        raise VaultError(f"the database's {component} tables are version {before}, newer than "
                         f"this Veil knows ({len(steps)}); upgrade Veil: {store.target}")
    return before


# --- SQLite ------------------------------------------------------------------------------

class _SQLiteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        row: Row | None = self._db.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._db.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._db.execute(sql, params).rowcount


class SQLiteStore:
    """A SQLite file in WAL mode, or a database in memory (``path`` None).

    Threads share one connection behind a lock: SQLite admits one writer at a time anyway
    and every call is a short write transaction. Processes are serialised by
    ``BEGIN IMMEDIATE`` plus the busy timeout."""

    dialect = SQLITE
    shared = False

    def __init__(self, path: Path | None, *, timeout: float = 10.0) -> None:
        self.path = path
        self.target = str(path) if path is not None else MEMORY
        self._timeout = timeout
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                if not path.exists():
                    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # WAL inherits
            except OSError as exc:
                raise VaultError(f"cannot create vault ({exc.strerror}): {path}") from None
        with self._errors():
            db = sqlite3.connect(path if path is not None else ":memory:", timeout=timeout,
                                 isolation_level=None, check_same_thread=False)
        try:
            self._retry_busy(lambda: self._configure(db))
        except BaseException:
            db.close()
            raise
        self._db = db

    def _configure(self, db: sqlite3.Connection) -> None:
        with self._errors():
            names = {r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}  # a non-database fails
            if names and "veil_schema" not in names and not names >= _VAULT_V1:
                # refused before any write: a foreign database is left as it is
                raise VaultError(f"vault file is corrupt or not a Veil vault: {self.target}")
            if self.path is None:
                db.execute("PRAGMA temp_store=MEMORY")
                return
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # in WAL mode: durable but for a power cut
            db.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten on disk

    def _retry_busy(self, call: Callable[[], T]) -> T:
        """Opening a new file races other openers: switching to WAL and the first read can
        report busy at once, without waiting on the busy timeout."""
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                return call()
            except StoreBusyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def atomic(self, work: Callable[[Tx], T], *, lock_timeout: float | None = None) -> T:
        with self._lock:
            db = self._db
            if db is None:
                raise VaultError(f"vault is closed: {self.target}")
            if lock_timeout is not None:
                db.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
            try:
                with self._errors():
                    db.execute("BEGIN IMMEDIATE")
                    try:
                        result = work(_SQLiteTx(db))
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):
                            db.execute("ROLLBACK")
                        raise
                    db.execute("COMMIT")
                    return result
            finally:
                if lock_timeout is not None:
                    db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")

    def migrate(self, component: str, steps: Sequence[Migration]) -> int:
        return self._retry_busy(
            lambda: self.atomic(lambda tx: _migrate(self, tx, component, steps)))

    def tables(self) -> set[str]:
        return set(self.atomic(lambda tx: [r[0] for r in tx.all(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]))

    def check(self) -> None:
        self.atomic(lambda tx: tx.one("SELECT 1"))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite3 errors as VaultError; their texts are dropped, only the kind is kept."""
        try:
            yield
        except sqlite3.Error as exc:
            kind = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
            if kind.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
                raise StoreBusyError("vault is locked by another connection (busy timeout "
                                     f"passed): {self.target}") from None
            if kind.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
                msg = "vault file is corrupt or not a Veil vault"
            elif kind.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY")):
                msg = f"vault file cannot be opened or written ({kind})"
            else:
                msg = f"vault database error ({kind})"
            raise VaultError(f"{msg}: {self.target}") from None


# --- PostgreSQL --------------------------------------------------------------------------

_RETRYABLE = frozenset({"23505", "40001", "40P01"})  # unique violation, serialization, deadlock
_LOCK_TIMEOUT = "55P03"


class _PostgresTx:
    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self._conn = conn

    def _exec(self, sql: str, params: Sequence[object]) -> psycopg.Cursor[Row]:
        return self._conn.execute(sql.replace("?", "%s"), params)

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        return self._exec(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._exec(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._exec(sql, params).rowcount


class PostgresStore:
    """A PostgreSQL database shared by every replica, through a psycopg connection pool."""

    dialect = POSTGRES
    shared = True

    def __init__(self, url: str, *, timeout: float = 10.0, pool_size: int = 10) -> None:
        try:
            import psycopg
            from psycopg.conninfo import conninfo_to_dict, make_conninfo
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise VaultError("a PostgreSQL vault needs psycopg: pip install "
                             "'veil[postgresql]'") from None

        self._psycopg = psycopg
        try:
            parts = urlsplit(url)
            query = parse_qsl(parts.query, keep_blank_values=True)
            schema = next((v for k, v in query if k == "schema"), "veil")
            params = conninfo_to_dict(urlunsplit(parts._replace(
                query=urlencode([(k, v) for k, v in query if k != "schema"]))))
        except (ValueError, psycopg.Error):
            raise VaultError("the vault URL is not a valid PostgreSQL URL") from None
        if not _SCHEMA_NAME.fullmatch(schema):
            raise VaultError("schema= in the vault URL must be a lower-case SQL name")
        self.schema = schema
        self.target = (f"postgresql://{params.get('user') or ''}@{params.get('host') or ''}"
                       f":{params.get('port') or 5432}/{params.get('dbname') or ''}"
                       f"?schema={schema}")
        params.setdefault("connect_timeout", max(1, round(timeout)))
        params.setdefault("application_name", "veil")

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute(f"SET search_path TO {schema}")
            conn.commit()

        self._pool: psycopg_pool.ConnectionPool[Any] | None = ConnectionPool(
            make_conninfo("", **params), min_size=1, max_size=pool_size, open=False,
            configure=configure, timeout=timeout, name="veil-vault")
        try:
            self._pool.open(wait=True, timeout=timeout)
        except Exception:
            self._pool.close()
            self._pool = None
            raise VaultError(f"cannot connect to the vault database: {self.target}") from None

    def atomic(self, work: Callable[[Tx], T], *, lock_timeout: float | None = None) -> T:
        psycopg = self._psycopg
        for attempt in range(_RETRIES):
            pool = self._pool
            if pool is None:
                raise VaultError(f"vault is closed: {self.target}")
            try:
                with pool.connection() as conn, conn.transaction():
                    if lock_timeout is not None:
                        conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout * 1000)}")
                    return work(_PostgresTx(conn))
            except psycopg.Error as exc:
                state = exc.sqlstate or ""
                if state in _RETRYABLE and attempt < _RETRIES - 1:
                    time.sleep(0.005 * 2**attempt)
                    continue
                if state == _LOCK_TIMEOUT and lock_timeout is not None:
                    raise StoreBusyError(f"a lock was held too long: {self.target}") from None
                if isinstance(exc, psycopg.OperationalError) and not state:  # or pool timeout
                    raise VaultError(f"the vault database is unreachable: {self.target}") from None
                raise VaultError(f"vault database error ({state or type(exc).__name__}): "
                                 f"{self.target}") from None
        raise AssertionError("unreachable")

    def migrate(self, component: str, steps: Sequence[Migration]) -> int:
        def work(tx: Tx) -> int:
            tx.run("SELECT pg_advisory_xact_lock(7403671512)")  # one migrator at a time
            tx.run(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            return _migrate(self, tx, component, steps)

        return self.atomic(work)

    def tables(self) -> set[str]:
        return {r[0] for r in self.atomic(lambda tx: tx.all(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
            (self.schema,)))}

    def check(self) -> None:
        self.atomic(lambda tx: tx.one("SELECT 1"))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
