"""The audit log: records chained with a keyed MAC, signed checkpoints in a second sink, and
verification that finds every tampering (in a file and in a real PostgreSQL database)."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from veil.audit import (
    GENESIS,
    AuditError,
    AuditKey,
    AuditLog,
    DatabaseAuditLog,
    canonical,
    verify,
    verify_store,
)
from veil.cli import main
from veil.store import open_store

Lines = list[bytes]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VEIL_AUDIT_KEY", "VEIL_AUDIT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


def _write(path: Path, n: int, every: int = 4, prefix: str = "r") -> None:
    with AuditLog(path, checkpoint_every=every) as log:
        for i in range(n):
            log.append({"request": f"{prefix}{i}", "status": 200, "found": {"face": i}})


def _key(path: Path) -> AuditKey:
    return AuditKey(__import__("base64").urlsafe_b64decode(
        Path(f"{path}.key").read_text().strip()))


def test_records_are_chained_with_a_keyed_mac_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 10)
    lines = path.read_bytes().splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    key = _key(path)
    assert [r["seq"] for r in records] == list(range(1, 11))
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == records[0]["mac"] == key.mac(records[0])
    assert lines[0] == canonical(records[0]) + b"\n"  # written in canonical form
    assert key.public_key not in path.read_text()  # the key is not in the log
    checkpoints = [json.loads(line) for line in Path(f"{path}.checkpoints").read_text()
                   .splitlines()]
    assert [c["seq"] for c in checkpoints] == [1, 4, 8, 10]  # first, every 4, on close
    result = verify(path)
    assert result.ok and result.records == 10 and result.covered == 10
    assert result.last_mac == records[-1]["mac"] and result.checkpoints == 4
    for f in (path, Path(f"{path}.key"), Path(f"{path}.checkpoints")):
        assert f.stat().st_mode & 0o777 == 0o600


def test_chain_continues_across_restarts_and_processes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 2)
    _write(path, 2)
    with AuditLog(path) as log, AuditLog(path) as other:  # two writers, as two processes
        def work(target: AuditLog) -> None:
            for i in range(50):
                target.append({"i": i})

        threads = [threading.Thread(target=work, args=(log if t % 2 else other,))
                   for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result = verify(path)
    assert result.ok and result.records == 304 and result.uncovered == 0


def _rehash(key: AuditKey) -> Callable[[Lines], None]:
    """Edit record 3 and recompute every MAC after it, as an attacker without the key
    would have to (here with a key of the attacker's own)."""
    def tamper(lines: Lines) -> None:
        prev = json.loads(lines[1])["mac"]
        for i in range(2, len(lines)):
            record = json.loads(lines[i])
            if i == 2:
                record["status"] = 500
            record["prev"] = prev
            record["mac"] = prev = key.mac(record)
            lines[i] = canonical(record) + b"\n"
    return tamper


TAMPERINGS: dict[str, tuple[Callable[[Lines], None], int, str]] = {
    "edit": (lambda ls: ls.__setitem__(2, ls[2].replace(b'"status":200', b'"status":201')),
             3, "MAC does not match"),
    "edit and rehash": (_rehash(AuditKey(b"\x07" * 32)), 3, "MAC does not match"),
    "delete": (lambda ls: ls.pop(2), 3, "sequence"),
    "reorder": (lambda ls: ls.insert(3, ls.pop(2)), 3, "sequence"),
    "cut tail": (lambda ls: ls.__delitem__(slice(7, None)), 8, "cut from its end"),
    "truncated line": (lambda ls: ls.__setitem__(9, ls[9].rstrip(b"\n")), 10, "incomplete"),
    "garbage": (lambda ls: ls.__setitem__(4, b"not json\n"), 5, "JSON"),
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_every_tampering_of_the_log_is_detected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 10)
    tamper, line, reason = TAMPERINGS[name]
    lines = path.read_bytes().splitlines(keepends=True)
    tamper(lines)
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert not result.ok and result.broken_at == line and reason in (result.reason or "")


def test_edit_and_rehash_with_the_log_alone_fails_even_for_the_last_record(
        tmp_path: Path) -> None:
    """An attacker who rebuilds the whole chain with a key of their own: every MAC fails
    under the writer's key, and the checkpoints' signatures name other MACs."""
    path = tmp_path / "audit.jsonl"
    _write(path, 10)
    forged = AuditKey(b"\x09" * 32)
    prev, out = GENESIS, []
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        record["prev"] = prev
        record["mac"] = prev = forged.mac(record)
        out.append(canonical(record) + b"\n")
    path.write_bytes(b"".join(out))
    assert verify(path).broken_at == 1


def test_swapped_and_missing_files_are_detected(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "audit.jsonl", tmp_path / "b" / "audit.jsonl"
    _write(a, 10)
    _write(b, 10)
    shutil.copy(f"{b}.key", f"{tmp_path}/b.key")
    old = tmp_path / "old.jsonl"
    shutil.copy(a, old)
    # another gateway's log (another key) in place of this one
    shutil.copy(b, tmp_path / "swapped.jsonl")
    assert verify(tmp_path / "swapped.jsonl", key=_key(a),
                  checkpoints=f"{a}.checkpoints").broken_at == 1
    # another log's checkpoints (same key: b's log copied with a's key file) beside this log
    c = tmp_path / "c" / "audit.jsonl"
    c.parent.mkdir()
    shutil.copy(f"{a}.key", f"{c}.key")
    _write(c, 10, prefix="c")
    result = verify(a, checkpoints=f"{c}.checkpoints")
    assert not result.ok and "names another MAC" in (result.reason or "")
    # the log file and the checkpoint file swapped
    assert not verify(Path(f"{a}.checkpoints"), key=_key(a), checkpoints=a).ok
    # an older copy of the log put back after more records were written
    with AuditLog(a, checkpoint_every=4) as log:
        for i in range(5):
            log.append({"more": i})
    shutil.copy(old, a)
    result = verify(a)
    assert not result.ok and "cut from its end" in (result.reason or "")
    # the checkpoint file deleted
    Path(f"{b}.checkpoints").unlink()
    result = verify(b)
    assert not result.ok and "no signed checkpoint" in (result.reason or "")


def test_a_forged_checkpoint_and_a_wrong_public_key_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 10)
    cps = Path(f"{path}.checkpoints")
    lines = cps.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[-1])
    record["seq"] = 7
    lines[-1] = canonical(record) + b"\n"
    cps.write_bytes(b"".join(lines))
    assert "not validly signed" in (verify(path).reason or "")
    assert not verify(path, public_key=AuditKey(b"\x01" * 32).public_key).ok


def test_a_broken_tail_or_another_key_refuses_to_continue(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 2)
    monkeypatch.setenv("VEIL_AUDIT_KEY", "B" * 43 + "=")
    with pytest.raises(AuditError, match="not written with this audit key"):
        AuditLog(path)
    monkeypatch.delenv("VEIL_AUDIT_KEY")
    with path.open("ab") as fh:
        fh.write(b'{"seq": 3, "half a rec')
    with pytest.raises(AuditError, match="broken"):
        AuditLog(path)


def test_cli_verify_passes_then_names_the_broken_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 3)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", str(path)])
    assert ok.exit_code == 0 and "3 record(s), chain intact" in ok.output
    assert "3 covered by 2 signed checkpoint(s)" in ok.output
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"r2"', b'"r9"')
    path.write_bytes(b"".join(lines))
    bad = runner.invoke(main, ["audit", "verify", str(path)])
    assert bad.exit_code == 1 and "record 3 (line 3) is broken" in bad.output


# --- in PostgreSQL ---------------------------------------------------------------------

def _sql(url: str, statement: str) -> None:
    schema = url.rsplit("=", 1)[1]
    with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")  # type: ignore[arg-type]
        conn.execute(statement)  # type: ignore[arg-type]


DB_TAMPERINGS = {
    "edit": ("UPDATE audit_records SET body = replace(body, '\"status\":200', '\"status\":201')"
             " WHERE seq = 3", "MAC does not match"),
    "delete": ("DELETE FROM audit_records WHERE seq = 3", "sequence"),
    "reorder": ("UPDATE audit_records SET seq = -1 WHERE seq = 3;"
                "UPDATE audit_records SET seq = 3 WHERE seq = 4;"
                "UPDATE audit_records SET seq = 4 WHERE seq = -1", "sequence"),
    "cut tail": ("DELETE FROM audit_records WHERE seq > 7", "cut from its end"),
    "checkpoints emptied": ("DELETE FROM audit_checkpoints", "no signed checkpoint"),
}


@pytest.mark.parametrize("name", DB_TAMPERINGS)
def test_tampering_in_the_database_is_detected(pg_url: str, name: str) -> None:
    key = AuditKey(b"\x05" * 32)
    store = open_store(pg_url)
    try:
        log = DatabaseAuditLog(store, key=key, checkpoint_every=4)
        for i in range(10):
            log.append({"request": f"r{i}", "status": 200})
        log.close()
        assert verify_store(store, key=key).ok
        statement, reason = DB_TAMPERINGS[name]
        _sql(pg_url, statement)
        result = verify_store(store, key=key)
        assert not result.ok and reason in (result.reason or ""), result
    finally:
        store.close()


def test_database_chain_is_one_across_writers(pg_url: str) -> None:
    key = AuditKey(b"\x05" * 32)
    stores = [open_store(pg_url) for _ in range(3)]
    try:
        logs = [DatabaseAuditLog(s, key=key) for s in stores]

        def work(log: DatabaseAuditLog) -> None:
            for i in range(20):
                log.append({"i": i})

        threads = [threading.Thread(target=work, args=(log,)) for log in logs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for log in logs:
            log.close()
        result = verify_store(stores[0], key=key)
        assert result.ok and result.records == 60 and result.uncovered == 0
        with pytest.raises(AuditError, match="not written with this audit key"):
            DatabaseAuditLog(stores[0], key=AuditKey(b"\x06" * 32))
    finally:
        for s in stores:
            s.close()
