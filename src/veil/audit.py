"""Append-only audit log: one JSON line per record, chained by SHA-256 hashes.

Each record carries ``seq`` (1, 2, ...), ``prev`` (the previous record's hash, 64 zeros for
the first) and ``hash``: SHA-256 of the record's canonical JSON (sorted keys, no spaces,
UTF-8) without ``hash``. Changing, inserting, deleting or reordering a record breaks the
chain at that record; ``verify`` names the first broken one. Cutting records off the end
cannot be seen from the file alone: keep the last hash (``verify`` prints it) elsewhere.

Writers hold a thread lock and an exclusive ``flock``, and re-read the tail if another
process wrote since, so threads, processes and restarts continue one chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from veil.errors import VeilError

GENESIS = "0" * 64
"""The ``prev`` of the first record."""


class AuditError(VeilError):
    """The audit log cannot be opened or continued (unreadable, or its tail is broken)."""


def canonical(record: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a record: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the record's canonical JSON without its ``hash`` field."""
    return hashlib.sha256(canonical({k: v for k, v in record.items() if k != "hash"})).hexdigest()


@dataclass(frozen=True, slots=True)
class Verification:
    """Outcome of ``verify``: ``broken_at`` is the 1-based line of the first bad record."""

    records: int
    last_hash: str
    broken_at: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(path: str | Path) -> Verification:
    """Check every record's hash and link; stop at the first broken one."""
    prev, count = GENESIS, 0
    try:
        lines = _lines(Path(path))
        for number, line in enumerate(lines, 1):
            problem = _check(line, prev, number)
            if problem is not None:
                return Verification(count, prev, number, problem)
            prev, count = json.loads(line)["hash"], number
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from None
    return Verification(count, prev)


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh


def _check(line: bytes, prev: str, seq: int) -> str | None:
    """Why ``line`` is not a valid record following ``prev`` at ``seq``, or None."""
    if not line.endswith(b"\n"):
        return "incomplete record (no line end)"
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return "not valid JSON"
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("seq") != seq:
        return f"sequence number is {record.get('seq')!r}, expected {seq}"
    if record.get("prev") != prev:
        return "prev does not match the previous record's hash (record removed or reordered?)"
    if record.get("hash") != record_hash(record):
        return "hash does not match the record's content (record altered)"
    return None


class AuditLog:
    """Appends hash-chained records to a JSONL file; continues an existing chain."""

    def __init__(self, path: str | Path, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                                           0o600)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror}") from None
        try:
            with _FileLock(self._fd):
                self._seq, self._prev, self._size = self._tail()
        except BaseException:
            self.close()
            raise

    def append(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Write one record (``fields`` plus seq, prev, hash); returns it as written."""
        with self._lock:
            if self._fd is None:
                raise AuditError(f"audit log is closed: {self.path}")
            with _FileLock(self._fd):
                return self._append(self._fd, fields)

    def _append(self, fd: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        size = os.fstat(fd).st_size
        if size != self._size:  # another process wrote: continue from its record
            self._seq, self._prev, size = self._tail()
        record = {**fields, "seq": self._seq + 1, "prev": self._prev}
        record["hash"] = record_hash(record)
        line = canonical(record) + b"\n"
        try:
            if os.write(fd, line) != len(line):
                raise OSError(0, "short write")
            if self._fsync:
                os.fsync(fd)
        except OSError as exc:
            raise AuditError(f"cannot write audit log {self.path}: {exc.strerror}") from None
        self._seq, self._prev, self._size = record["seq"], record["hash"], size + len(line)
        return record

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _tail(self) -> tuple[int, str, int]:
        """(seq, hash, file size) of the last record; the last record must be intact."""
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
            seq, prev = record["seq"], record["prev"]
            intact = (line.endswith(b"\n") and isinstance(seq, int) and isinstance(prev, str)
                      and record["hash"] == record_hash(record))
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            intact = False
        if not intact:
            raise AuditError(f"audit log {self.path} ends with a broken record; run "
                             "'veil audit verify' and move the file aside")
        return seq, record["hash"], size


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
