"""The audit log: records chained with a keyed MAC, and signed checkpoints kept apart.

Each record is one JSON object (a line of a JSONL file, or a row of the vault's
PostgreSQL database) in canonical form: its fields plus ``seq`` (1, 2, ...), ``prev`` (the
previous record's ``mac``; ``GENESIS`` for the first) and ``mac``, the HMAC-SHA-256 of the
rest under the writer's audit key. The key is never in the log, so whoever can write the
log but not read the key cannot edit a record and recompute the chain after it.

Checkpoints: ``{seq, mac, time, key, sig}``, signed with Ed25519 (``key`` is the public
key), written after record 1, every ``checkpoint_every`` records, when the writer closes and
when asked (the gateway asks every minute), to a second sink: a file of their own (default:
the log's path + ``.checkpoints``) or the database. ``verify`` checks the MACs and links
(edits, rebuilt chains, deletions, reordering, foreign records), each checkpoint (signature,
and the record it names must be in the log with that MAC) and the tail: a log that ends
before its last checkpoint has lost records (a cut tail, an older copy). Records after the
last checkpoint are reported as not yet covered.

The audit key (32 bytes, urlsafe base64) comes from $VEIL_AUDIT_KEY, else a key file
($VEIL_AUDIT_KEY_FILE, else the log's path + ``.key``, created 0600 with a new file log);
HKDF derives the MAC key and the signing key from it. Verifying needs it too; the public
key alone checks the checkpoints' signatures (``--public-key``).

File writers hold a thread lock and an exclusive ``flock`` and re-read the tail if another
process wrote since, so threads, processes and restarts continue one chain; database
writers lock the chain's head row, so every replica continues one chain.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.errors import VeilError
from veil.pseudo.keys import decode_key, read_key_file
from veil.store import Migration, Store, StoreBusyError, Tx

GENESIS = "0" * 64
"""The ``prev`` of the first record."""
CHECKPOINT_EVERY = 100

MIGRATIONS: tuple[Migration, ...] = (
    (  # 1: the chain's head (locked by each writer), records and checkpoints
        "CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq {int} NOT NULL,"
        " mac TEXT NOT NULL)",
        f"INSERT INTO audit_head VALUES (1, 0, '{GENESIS}')",
        "CREATE TABLE audit_records (seq {int} PRIMARY KEY, body TEXT NOT NULL)",
        "CREATE TABLE audit_checkpoints (seq {int} PRIMARY KEY, body TEXT NOT NULL)",
    ),
)


class AuditError(VeilError):
    """The audit log cannot be opened or continued (unreadable, or its tail is broken)."""


class AuditBusyError(AuditError):
    """The audit log's lock is held elsewhere (another thread or process) for too long."""


def canonical(record: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a record: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


class AuditKey:
    """The writer's secret: the MAC key and the checkpoint signing key, both derived."""

    def __init__(self, secret: bytes) -> None:
        def sub(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                        info=info).derive(secret)

        self._mac_key = sub(b"veil audit mac v1")
        self._signer = Ed25519PrivateKey.from_private_bytes(sub(b"veil audit checkpoint v1"))
        self.public_key = self._signer.public_key().public_bytes_raw().hex()

    def mac(self, record: Mapping[str, Any]) -> str:
        """HMAC-SHA-256 (hex) of the record's canonical JSON without its ``mac`` field."""
        body = canonical({k: v for k, v in record.items() if k != "mac"})
        return hmac.new(self._mac_key, body, hashlib.sha256).hexdigest()

    def checkpoint(self, seq: int, mac: str) -> dict[str, Any]:
        """A signed checkpoint of the record ``seq`` whose MAC is ``mac``."""
        body: dict[str, Any] = {"seq": seq, "mac": mac, "time": round(time.time(), 3),
                                "key": self.public_key}
        return {**body, "sig": self._signer.sign(canonical(body)).hex()}


def load_audit_key(key_file: str | Path | None, *, create: bool = False) -> AuditKey:
    """$VEIL_AUDIT_KEY, else the key file ($VEIL_AUDIT_KEY_FILE, else ``key_file``)."""
    if env := os.environ.get("VEIL_AUDIT_KEY"):
        return AuditKey(decode_key(env, "VEIL_AUDIT_KEY"))
    path = os.environ.get("VEIL_AUDIT_KEY_FILE") or key_file
    if path is None:
        raise AuditError("the audit log needs its key: set $VEIL_AUDIT_KEY or "
                         "$VEIL_AUDIT_KEY_FILE")
    try:
        return AuditKey(read_key_file(Path(path), create=create, what="audit key"))
    except VeilError as exc:
        raise AuditError(str(exc)) from None


def _seal(key: AuditKey, fields: Mapping[str, Any], seq: int, prev: str) -> dict[str, Any]:
    record = {**fields, "seq": seq, "prev": prev}
    record["mac"] = key.mac(record)
    return record


# --- verification ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Verification:
    """Outcome of ``verify``: ``broken_at`` is the 1-based record (line) of the first
    problem; ``covered`` the last record a valid checkpoint vouches for."""

    records: int
    last_mac: str
    broken_at: int | None = None
    reason: str | None = None
    checkpoints: int = 0
    covered: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_at is None

    @property
    def uncovered(self) -> int:
        """Records after the last checkpoint (a cut among them would not show)."""
        return self.records - self.covered


def verify_records(lines: Iterable[bytes], checkpoints: Iterable[bytes], key: AuditKey, *,
                   public_key: str | None = None) -> Verification:
    """Check every record's MAC and link, then the checkpoints against the log."""
    cps, problem = _checkpoints(checkpoints, public_key or key.public_key)
    wanted = {cp["seq"]: cp["mac"] for cp in cps}
    prev, count = GENESIS, 0
    for number, line in enumerate(lines, 1):
        record_problem = _check(line, prev, number, key)
        if record_problem is not None:
            return Verification(count, prev, number, record_problem, len(cps))
        prev, count = json.loads(line)["mac"], number
        if number in wanted and wanted[number] != prev:
            return Verification(count, prev, number, "the signed checkpoint of this record "
                                "names another MAC (log replaced or rewritten)", len(cps))
    covered = max(wanted, default=0)
    if problem is not None:
        return Verification(count, prev, count + 1, problem, len(cps), 0)
    if covered > count:
        return Verification(count, prev, count + 1,
                            f"the log ends at record {count} but a signed checkpoint covers "
                            f"record {covered}: records were cut from its end", len(cps))
    if count and not cps:
        return Verification(count, prev, 1, "no signed checkpoint (their sink is missing or "
                            "emptied)", 0)
    return Verification(count, prev, None, None, len(cps), covered)


def _checkpoints(lines: Iterable[bytes], public_key: str
                 ) -> tuple[list[dict[str, Any]], str | None]:
    """The checkpoints, each with a valid signature by ``public_key``, in order; or why not."""
    try:
        verifier = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key))
    except ValueError:
        return [], "the public key is not 32 bytes of hex"
    out: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        try:
            cp = json.loads(line)
            body = {k: cp[k] for k in ("seq", "mac", "time", "key")}
            verifier.verify(bytes.fromhex(cp["sig"]), canonical(body))
            if not isinstance(cp["seq"], int) or cp["key"] != public_key:
                raise ValueError
        except (ValueError, TypeError, KeyError, InvalidSignature, UnicodeDecodeError):
            return out, f"checkpoint {number} is not validly signed by the audit key"
        if out and cp["seq"] < out[-1]["seq"]:
            return out, f"checkpoint {number} goes back in the log (checkpoints reordered)"
        out.append(cp)
    return out, None


def _check(line: bytes, prev: str, seq: int, key: AuditKey) -> str | None:
    """Why ``line`` is not a valid record following ``prev`` at ``seq``, or None."""
    if not line.endswith(b"\n"):
        return "incomplete record (no line end)"
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return "not valid JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    if "mac" not in record:
        return "record has no MAC (written before keyed audit logs? move the file aside)"
    if not hmac.compare_digest(str(record["mac"]), key.mac(record)):
        return "MAC does not match (record altered or rebuilt, or another log's key)"
    if record.get("seq") != seq:
        return f"sequence number is {record.get('seq')!r}, expected {seq}"
    if record.get("prev") != prev:
        return "prev does not match the previous record's MAC (record removed or reordered?)"
    return None


def verify(path: str | Path, *, key: AuditKey | None = None,
           checkpoints: str | Path | None = None, public_key: str | None = None
           ) -> Verification:
    """Verify a JSONL audit log and its checkpoint file (default: beside it); the key
    defaults to $VEIL_AUDIT_KEY or the key file beside the log."""
    path = Path(path)
    key = key or load_audit_key(f"{path}.key")
    cp_path = Path(checkpoints) if checkpoints else Path(f"{path}.checkpoints")
    try:
        cps = cp_path.read_bytes().splitlines(keepends=True) if cp_path.exists() else []
        return verify_records(_lines(path), cps, key, public_key=public_key)
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from None


def verify_store(store: Store, *, key: AuditKey, public_key: str | None = None
                 ) -> Verification:
    """Verify the audit log kept in a database."""
    store.migrate("audit", MIGRATIONS)
    records = store.atomic(lambda tx: tx.all("SELECT body FROM audit_records ORDER BY seq"))
    cps = store.atomic(lambda tx: tx.all("SELECT body FROM audit_checkpoints ORDER BY seq"))
    return verify_records((r[0].encode() + b"\n" for r in records),
                          (r[0].encode() for r in cps), key, public_key=public_key)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh


# --- writers -----------------------------------------------------------------------------

class Writer(Protocol):
    """What the gateway writes its records with: a file or a database log."""

    @property
    def path(self) -> Path | str: ...
    def append_within(self, fields: Mapping[str, Any], wait: float) -> dict[str, Any]: ...
    def checkpoint(self) -> None: ...
    def close(self) -> None: ...


class AuditLog:
    """Appends MAC-chained records to a JSONL file and checkpoints to their own file;
    continues an existing chain."""

    def __init__(self, path: str | Path, *, key: AuditKey | None = None,
                 checkpoints: str | Path | None = None,
                 checkpoint_every: int = CHECKPOINT_EVERY, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync, self._every = fsync, checkpoint_every
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._cp_fd: int | None = None
        self._seq, self._prev, self._size, self._checkpointed = 0, GENESIS, -1, 0
        self.checkpoints = Path(checkpoints) if checkpoints else Path(f"{self.path}.checkpoints")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.key = key or load_audit_key(f"{self.path}.key", create=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._cp_fd = os.open(self.checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                  0o600)
        except OSError as exc:
            self.close()
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror}") from None
        except BaseException:
            self.close()
            raise
        try:
            with _FileLock(self._fd):
                self._seq, self._prev, self._size = self._tail()
        except BaseException:
            self.close()
            raise

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Write one record (``fields`` plus seq, prev, mac); returns it as written."""
        with self._lock:
            fd = self._open_fd()
            with _FileLock(fd):
                return self._append(fd, fields)

    def checkpoint(self) -> None:
        """Sign the last record into the checkpoint file, unless already done."""
        with self._lock:
            fd = self._open_fd()
            with _FileLock(fd):
                if os.fstat(fd).st_size != self._size:
                    self._seq, self._prev, self._size = self._tail()
                self._checkpoint()

    def _open_fd(self) -> int:
        if self._fd is None:
            raise AuditError(f"audit log is closed: {self.path}")
        return self._fd

    def _append(self, fd: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        size = os.fstat(fd).st_size
        if size != self._size:  # another process wrote: continue from its record
            self._seq, self._prev, size = self._tail()
        record = _seal(self.key, fields, self._seq + 1, self._prev)
        line = canonical(record) + b"\n"
        self._write(fd, line)
        self._seq, self._prev, self._size = record["seq"], record["mac"], size + len(line)
        if self._seq == 1 or self._seq % self._every == 0:
            self._checkpoint()
        return record

    def _checkpoint(self) -> None:
        """Under the log's lock: a checkpoint of the last record, if it has none yet."""
        if self._seq > self._checkpointed and self._cp_fd is not None:
            self._write(self._cp_fd, canonical(self.key.checkpoint(self._seq, self._prev))
                        + b"\n")
            self._checkpointed = self._seq

    def _write(self, fd: int, data: bytes) -> None:
        try:
            if os.write(fd, data) != len(data):
                raise OSError(0, "short write")
            if self._fsync:
                os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot write audit log {self.path}: {exc.strerror}") from None

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                try:
                    with _FileLock(self._fd):
                        if os.fstat(self._fd).st_size == self._size:  # else: others' tail
                            self._checkpoint()
                except AuditError:
                    pass
                os.close(self._fd)
                self._fd = None
            if self._cp_fd is not None:
                os.close(self._cp_fd)
                self._cp_fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _tail(self) -> tuple[int, str, int]:
        """(seq, mac, file size) of the last record; the last record must be intact."""
        try:
            with self.path.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                if size == 0:
                    return 0, GENESIS, 0
                line = _last_line(fh, size)
        except OSError as exc:
            raise AuditError(f"cannot read audit log {self.path}: {exc.strerror}") from None
        try:
            record = json.loads(line)
            seq, mac = record["seq"], record["mac"]
            intact = (line.endswith(b"\n") and isinstance(seq, int) and isinstance(mac, str)
                      and hmac.compare_digest(mac, self.key.mac(record)))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            intact = False
        if not intact:
            raise AuditError(f"audit log {self.path} ends with a record that is broken or not "
                             "written with this audit key; run 'veil audit verify' and move "
                             "the file aside")
        return seq, mac, size


def _last_line(fh: BinaryIO, size: int) -> bytes:
    """The last line of a file (with its line end, if any), read backwards in blocks."""
    pos, data = size, b""
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        fh.seek(pos)
        data = bytes(fh.read(step)) + data
        cut = data.rfind(b"\n", 0, len(data) - 1)
        if cut != -1:
            return data[cut + 1 :]
    return data


class _FileLock:
    """An exclusive flock held for a ``with`` block."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


class DatabaseAuditLog:
    """The audit chain in the vault's database (PostgreSQL for replicas): one chain for
    every writer, each append one transaction holding the chain's head row."""

    def __init__(self, store: Store, *, key: AuditKey,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.store, self.key, self._every = store, key, checkpoint_every
        self.path = store.target
        try:
            store.migrate("audit", MIGRATIONS)
            head = store.atomic(self._head)
            if head[0] and not store.atomic(lambda tx: self._intact(tx, head)):
                raise AuditError(f"the audit log in {store.target} ends with a record that is "
                                 "broken or not written with this audit key; run 'veil audit "
                                 "verify'")
        except VeilError as exc:
            raise AuditError(str(exc)) from None

    def _head(self, tx: Tx) -> tuple[int, str]:
        row = tx.one(f"SELECT seq, mac FROM audit_head WHERE id = 1{self.store.dialect.lock}")
        if row is None:
            raise AuditError(f"the audit log's head row is missing: {self.store.target}")
        return int(row[0]), str(row[1])

    def _intact(self, tx: Tx, head: tuple[int, str]) -> bool:
        row = tx.one("SELECT body FROM audit_records WHERE seq = ?", (head[0],))
        if row is None:
            return False
        record = json.loads(row[0])
        return isinstance(record, dict) and record.get("mac") == head[1] == self.key.mac(record)

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self.append_within(fields, 30.0)

    def append_within(self, fields: Mapping[str, Any], wait: float) -> dict[str, Any]:
        """Write one record, waiting at most ``wait`` seconds for the head's lock."""
        def work(tx: Tx) -> dict[str, Any]:
            seq, prev = self._head(tx)
            record = _seal(self.key, fields, seq + 1, prev)
            tx.run("INSERT INTO audit_records VALUES (?, ?)",
                   (record["seq"], canonical(record).decode()))
            tx.run("UPDATE audit_head SET seq = ?, mac = ? WHERE id = 1",
                   (record["seq"], record["mac"]))
            if record["seq"] == 1 or record["seq"] % self._every == 0:
                self._checkpoint(tx, record["seq"], record["mac"])
            return record

        try:
            return self.store.atomic(work, lock_timeout=wait)
        except StoreBusyError:
            raise AuditBusyError(f"the audit log in {self.store.target} is busy") from None
        except VeilError as exc:
            raise AuditError(str(exc)) from None

    def _checkpoint(self, tx: Tx, seq: int, mac: str) -> None:
        tx.run("INSERT INTO audit_checkpoints VALUES (?, ?) ON CONFLICT (seq) DO NOTHING",
               (seq, canonical(self.key.checkpoint(seq, mac)).decode()))

    def checkpoint(self) -> None:
        def work(tx: Tx) -> None:
            seq, mac = self._head(tx)
            if seq:
                self._checkpoint(tx, seq, mac)

        try:
            self.store.atomic(work)
        except VeilError as exc:
            raise AuditError(str(exc)) from None

    def close(self) -> None:
        with contextlib.suppress(AuditError):
            self.checkpoint()
