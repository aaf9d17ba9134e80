"""The journal of ``veil redact``: what is finished in an output folder, so a rerun resumes.

One JSON line per output written, appended (and fsynced) after the output was renamed into
place: its path relative to the folder, the SHA-256 of the input's bytes, the fingerprint of
the policy (and vault session) it was redacted with, the SHA-256 of the output, and the
file's report (which never holds a value). A rerun skips an input whose latest line matches
all of these and whose output is still there unchanged; anything else is redone.

Why JSON lines and not SQLite: one append per finished file is all the journal needs; a torn
last line (a crash while appending) is simply ignored, the file can be read with ``jq`` or
``tail``, and it works on network shares where SQLite's locking is unreliable. The journal is
folder is held with an exclusive ``flock`` during a run, so two runs cannot write it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from veil.batch import Job
from veil.errors import VeilError
from veil.images import write_atomic
from veil.policy import Policy
from veil.report import Report, report_from_dict

JOURNAL_NAME = ".veil-journal.jsonl"
TEMP_SUFFIX = ".veil-tmp"
"""``images.write_atomic`` names its temporary files ``.NAME.XXXX.veil-tmp``."""


class JournalError(VeilError):
    """The journal cannot be opened (unwritable folder, or another run holds it)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One finished output: ``rel`` is its path below the output folder (POSIX form),
    ``src`` the absolute path of its input (``veil review`` shows it beside the output)."""

    rel: str
    input_sha256: str
    policy_sha256: str
    output_sha256: str
    report: Report
    src: str = ""

    def to_json(self) -> str:
        return json.dumps({"rel": self.rel, "src": self.src, "input_sha256": self.input_sha256,
                           "policy_sha256": self.policy_sha256,
                           "output_sha256": self.output_sha256,
                           "report": self.report.to_dict()}, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Entry:
        data = json.loads(line)
        return cls(str(data["rel"]), str(data["input_sha256"]), str(data["policy_sha256"]),
                   str(data["output_sha256"]), report_from_dict(data["report"]),
                   str(data.get("src", "")))


def sha256_file(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def policy_fingerprint(policy: Policy, session: str | None = None) -> str:
    """SHA-256 of what decides an output besides its input: the policy (canonical JSON of
    every field, defaults included) and the vault session the ``replace`` operator uses."""
    body = json.dumps({"policy": policy.model_dump(mode="json"), "session": session},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class Journal:
    """The journal of one output folder, held exclusively while open."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / JOURNAL_NAME
        self._fd = self._dir_fd = -1
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            self._dir_fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self._dir_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        except BlockingIOError:
            self.close()
            raise JournalError(f"another veil redact or veil review is using {out_dir}; "
                               "wait for it to end") from None
        except OSError as exc:
            self.close()
            raise JournalError(f"cannot open the journal {self.path}: {exc.strerror}") from None
        self.entries = self._load()
        self._compact()
        _remove_temp_files(out_dir)

    def _load(self) -> dict[str, Entry]:
        """The latest intact entry per output; torn or foreign lines are skipped."""
        entries: dict[str, Entry] = {}
        with open(self._fd, "rb", closefd=False) as fh:
            fh.seek(0)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn last line: a crash while appending
                try:
                    entry = Entry.from_json(raw.decode("utf-8"))
                except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                    continue
                entries[entry.rel] = entry
        return entries

    def _compact(self) -> None:
        """Rewrite the journal with one line per output (a rerun's lines replace older
        ones, torn lines go)."""
        body = "".join(e.to_json() + "\n" for e in self.entries.values()).encode()
        if os.fstat(self._fd).st_size == len(body):
            return
        write_atomic(self.path, body)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)

    def finished(self, rel: str, input_sha256: str, policy_sha256: str,
                 output: Path) -> Entry | None:
        """The entry of ``rel`` if it was written from these input bytes with this policy
        and the output is still there unchanged; else None (the file must be redone)."""
        entry = self.entries.get(rel)
        if (entry is None or entry.input_sha256 != input_sha256
                or entry.policy_sha256 != policy_sha256):
            return None
        try:
            if sha256_file(output) != entry.output_sha256:
                return None
        except OSError:
            return None
        return entry

    def record(self, entry: Entry) -> None:
        """Append one finished output (after its file was renamed into place) and fsync."""
        line = (entry.to_json() + "\n").encode()
        try:
            os.write(self._fd, line)
            os.fsync(self._fd)
        except OSError as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc.strerror}") from None
        self.entries[entry.rel] = entry

    def close(self) -> None:
        """Close the journal and release the folder."""
        for fd in (self._fd, self._dir_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._dir_fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _remove_temp_files(out_dir: Path) -> None:
    """Delete temporary files a killed run left (the journal's lock says no run is live)."""
    for path in _temp_files(out_dir):
        with contextlib.suppress(OSError):
            path.unlink()


def _temp_files(out_dir: Path) -> Iterator[Path]:
    for folder, _, files in os.walk(out_dir):
        for name in files:
            if name.startswith(".") and name.endswith(TEMP_SUFFIX):
                yield Path(folder) / name


def resume_plan(journal: Journal, planned: list[tuple[Job, Path]], fingerprint: str,
                force: bool = False) -> tuple[list[Report], list[Pending]]:
    """Split planned outputs into those finished before (their reports, unless ``force``)
    and those to do now (with their input's hash, for the journal)."""
    resumed: list[Report] = []
    todo: list[Pending] = []
    for job, dst in planned:
        rel = dst.relative_to(journal.path.parent).as_posix()
        try:
            digest = sha256_file(job.src)
        except OSError:
            digest = ""  # unreadable: redaction says why
        entry = None if force or not digest else journal.finished(rel, digest, fingerprint,
                                                                     dst)
        if entry is None:
            todo.append(Pending(job.src, dst, rel, digest))
        else:
            resumed.append(replace(entry.report, file=str(job.src)))
    return resumed, todo


@dataclass(frozen=True, slots=True)
class Pending:
    """An input to redact now: where it goes and the hash of its bytes before the run."""

    src: Path
    dst: Path
    rel: str
    input_sha256: str


class ReportFile:
    """The ``--report`` file, one JSON line appended (and flushed) per file as it ends, so
    an interrupted run keeps the lines of what it finished. Nothing is written for None."""

    def __init__(self, path: Path | None) -> None:
        self._fh: TextIO | None = None
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = path.open("w", encoding="utf-8")
            except OSError as exc:
                raise JournalError(f"cannot write the report {path}: {exc.strerror}") from None

    def write(self, line: Mapping[str, object]) -> None:
        if self._fh is not None:
            self._fh.write(json.dumps(line, sort_keys=True) + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> ReportFile:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
