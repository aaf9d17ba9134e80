"""Servers that tests and benchmarks start in processes of their own: a free loopback port
to give one, and waiting until a ``veil serve`` answers ``/readyz``. Shared under tests/
(benchmarks put tests/ on sys.path), as tests import nothing from benchmarks."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Return once ``veil serve`` at ``url`` answers ``/readyz`` with 200; raise if its
    ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"veil serve exited ({process.returncode}) before it was ready")
        try:
            if httpx.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"veil serve did not become ready in {timeout:.0f} s")
