"""The audit log: a hash chain over canonical JSON lines, verified record by record."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from veil.audit import GENESIS, AuditError, AuditLog, canonical, record_hash, verify
from veil.cli import main


def _write(path: Path, n: int) -> None:
    with AuditLog(path) as log:
        for i in range(n):
            log.append({"request": f"r{i}", "status": 200, "found": {"face": i}})


def test_records_are_chained_and_verify(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == records[0]["hash"] == record_hash(records[0])
    assert lines[0] == canonical(records[0]) + b"\n"  # written in canonical form
    result = verify(path)
    assert result.ok and result.records == 3 and result.last_hash == records[2]["hash"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_chain_continues_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 2)
    _write(path, 2)
    result = verify(path)
    assert result.ok and result.records == 4


@pytest.mark.parametrize(
    ("tamper", "line", "reason"),
    [
        (lambda ls: ls.__setitem__(1, ls[1].replace(b'"status":200', b'"status":201')), 2,
         "altered"),
        (lambda ls: ls.pop(1), 2, "sequence"),
        (lambda ls: ls.insert(2, ls.pop(1)), 2, "sequence"),
        (lambda ls: ls.__setitem__(3, b"not json\n"), 4, "JSON"),
        (lambda ls: ls.__setitem__(4, ls[4].rstrip(b"\n")), 5, "incomplete"),
    ],
)
def test_tampering_is_found_at_the_first_broken_record(tmp_path: Path, tamper: object,
                                                       line: int, reason: str) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 5)
    lines = path.read_bytes().splitlines(keepends=True)
    tamper(lines)  # type: ignore[operator]
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert not result.ok and result.broken_at == line and reason in (result.reason or "")
    assert result.records == line - 1


def test_a_recomputed_hash_still_breaks_the_next_link(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 3)
    lines = path.read_bytes().splitlines(keepends=True)
    record = json.loads(lines[0])
    record["status"] = 500
    record["hash"] = record_hash(record)
    lines[0] = canonical(record) + b"\n"
    path.write_bytes(b"".join(lines))
    result = verify(path)
    assert result.broken_at == 2 and "prev" in (result.reason or "")


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLog(path) as log, AuditLog(path) as other:  # two writers, as two processes
        def work(target: AuditLog, n: int) -> None:
            for i in range(n):
                target.append({"i": i})

        threads = [threading.Thread(target=work, args=(log if t % 2 else other, 50))
                   for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    result = verify(path)
    assert result.ok and result.records == 300


def test_a_broken_tail_refuses_to_continue(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 2)
    with path.open("ab") as fh:
        fh.write(b'{"seq": 3, "half a rec')
    with pytest.raises(AuditError, match="broken record"):
        AuditLog(path)


def test_cli_verify_passes_then_names_the_broken_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _write(path, 3)
    runner = CliRunner()
    ok = runner.invoke(main, ["audit", "verify", str(path)])
    assert ok.exit_code == 0 and "3 record(s), chain intact" in ok.output
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"r2"', b'"r9"')
    path.write_bytes(b"".join(lines))
    bad = runner.invoke(main, ["audit", "verify", str(path)])
    assert bad.exit_code == 1 and "record 3 (line 3) is broken" in bad.output
