"""The gateway's audit log file: appends that wait a bounded time for the file's lock
(``veil.audit.DatabaseAuditLog`` does the same with the database's lock timeout).

``AuditLog.append`` waits for the ``flock`` as long as another process holds it. The
gateway appends from a worker thread (never on the event loop) and gives up after
``wait`` seconds: ``AuditBusyError``, which the gateway answers with 503 ``audit_unavailable``.
Nothing is written then, so a record never contradicts the answer its caller got.
"""

from __future__ import annotations

import fcntl
import threading
import time
from collections.abc import Mapping
from typing import Any

from veil.audit import AuditBusyError, AuditLog

__all__ = ["AuditBusyError", "BoundedAuditLog"]
_POLL = 0.02


class BoundedAuditLog(AuditLog):
    """An ``AuditLog`` whose ``append_within`` waits at most a given time for its locks."""

    def append_within(self, fields: Mapping[str, Any], wait: float) -> dict[str, Any]:
        """Write one record, waiting at most ``wait`` seconds for the locks; blocking, so
        call it from a worker thread."""
        deadline = time.monotonic() + wait
        lock: threading.Lock = self._lock
        if not lock.acquire(timeout=max(0.0, wait)):
            raise AuditBusyError(f"audit log {self.path} is busy in this process")
        try:
            fd = self._open_fd()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise AuditBusyError(f"audit log {self.path} is locked by another "
                                        "process") from None
                    time.sleep(_POLL)
            try:
                return self._append(fd, fields)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            lock.release()
