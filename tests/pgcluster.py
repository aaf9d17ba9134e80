"""A throwaway PostgreSQL server for tests and benchmarks: Debian's ``postgresql`` binaries
(installed by scripts/install), a new cluster in a temporary folder, on a free loopback
port, TCP only. PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` user the Debian package creates, and its commands run through ``runuser``."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from processes import free_port


def binaries() -> Path:
    """The folder holding initdb and pg_ctl (the newest installed version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed (initdb not found); run ./scripts/install")
    return Path(initdb).parent


class PostgresCluster:
    """``with PostgresCluster() as pg: pg.url(schema="t1")``. ``durable``: keep fsync on
    (benchmarks); tests turn it off. ``options``: more ``-c name=value`` server settings."""

    def __init__(self, *, durable: bool = False, max_connections: int = 200,
                 options: list[str] | None = None) -> None:
        self.bin = binaries()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="veil-pg-"))
        self.data = self.folder / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        settings = [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                   "-c unix_socket_directories=''", f"-c max_connections={max_connections}"]
        if not durable:
            settings += ["-c fsync=off", "-c full_page_writes=off"]
        self._options = " ".join(settings + (options or []))

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresCluster:
        try:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "veil", "-A", "trust",
                      "-E", "UTF8", "--no-sync", "--no-instructions")
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                      str(self.folder / "server.log"), "-w", "-t", "60", "-o", self._options,
                      "start")
        except subprocess.CalledProcessError as exc:
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr.decode()[-2000:]}") from None
        return self

    def url(self, schema: str | None = None, dbname: str = "postgres") -> str:
        url = f"postgresql://veil@127.0.0.1:{self.port}/{dbname}"
        return f"{url}?schema={schema}" if schema else url

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                            "immediate", "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
