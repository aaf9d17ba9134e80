"""`veil scan-text`, `veil pseudonymize`, `veil restore` and `veil vault` as users run them;
and no personal value in any log line, error text or stderr."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from veil import Pseudonymizer, Vault, VaultKeyError
from veil.cli import main

VEIL = str(Path(sys.executable).parent / "veil")
PLANTED = ["Jane Roe", "jane.roe@example.org", "+44 20 7946 0958", "4111 1111 1111 1111"]
PROMPT = (f"Hello, I am {PLANTED[0]} ({PLANTED[1]}), phone {PLANTED[2]}, "
          f"card {PLANTED[3]}. What is my card number?")


def run(args: list[str], stdin: bytes, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([VEIL, *args], input=stdin, capture_output=True, env=env, timeout=300,
                          check=False)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "VEIL_VAULT_PATH": str(tmp_path / "vault.db")}


def test_pseudonymize_then_restore_through_the_command(env: dict[str, str],
                                                       tmp_path: Path) -> None:
    out = run(["pseudonymize", "--session", "chat-1"], PROMPT.encode(), env)
    assert out.returncode == 0, out.stderr
    protected = out.stdout.decode()
    for value in PLANTED:
        assert value not in protected
        assert value.encode() not in out.stderr
    assert "<PERSON_1>" in protected and "<CREDIT_CARD_1>" in protected
    key_file = tmp_path / "vault.db.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    for value in PLANTED:
        assert value.encode() not in (tmp_path / "vault.db").read_bytes()
    answer = "Your card is [CREDIT_CARD_1], PERSON_1."
    back = run(["restore", "--session", "chat-1"], answer.encode(), env)
    assert back.returncode == 0
    assert back.stdout.decode() == f"Your card is {PLANTED[3]}, {PLANTED[0]}."
    other = run(["restore", "--session", "chat-2"], answer.encode(), env)
    assert other.stdout.decode() == answer, "another session must not restore"


def test_vault_forget_erases_a_person_everywhere(env: dict[str, str]) -> None:
    for session in ("a", "b"):
        run(["pseudonymize", "--session", session], PROMPT.encode(), env)
    forget = run(["vault", "forget", "--value", "JANE ROE"], b"", env)
    assert forget.returncode == 0
    assert b"erased 2 mapping(s)" in forget.stderr
    for session in ("a", "b"):
        back = run(["restore", "--session", session], b"<PERSON_1> <EMAIL_ADDRESS_1>", env)
        assert back.stdout.decode() == f"<PERSON_1> {PLANTED[1]}"


def test_invalid_utf8_and_wrong_key_are_clear_errors(env: dict[str, str],
                                                     tmp_path: Path) -> None:
    bad = run(["pseudonymize", "--session", "s"], b"caf\xe9 \xff\xfe", env)
    assert bad.returncode == 1
    assert b"not valid UTF-8" in bad.stderr
    assert bad.stdout == b""
    run(["pseudonymize", "--session", "s"], PROMPT.encode(), env)
    before = (tmp_path / "vault.db").read_bytes()
    wrong = {**env, "VEIL_VAULT_KEY": "A" * 43 + "="}
    denied = run(["restore", "--session", "s"], b"<PERSON_1>", wrong)
    assert denied.returncode == 1
    assert b"vault key does not match" in denied.stderr
    assert (tmp_path / "vault.db").read_bytes() == before


def test_scan_text_jsonl(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        json.dumps({"id": 1, "text": PROMPT}) + "\n"
        + "{not json\n"
        + "\n"
        + json.dumps({"id": 3, "body": "no text field"}) + "\n"
        + json.dumps({"id": 4, "text": "nothing personal here"}) + "\n",
        encoding="utf-8",
    )
    dst = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["scan-text", "--jsonl", str(src), str(dst)])
    assert result.exit_code == 1
    assert "FAILED line 2: not valid JSON" in result.stderr
    assert "FAILED line 4: expected an object with a string field 'text'" in result.stderr
    lines = [json.loads(x) for x in dst.read_text(encoding="utf-8").splitlines()]
    assert [line.get("id", line.get("line")) for line in lines] == [1, 2, 4, 4]
    first = lines[0]
    found = {(PROMPT[f["start"] : f["end"]], f["entity"]) for f in first["findings"]}
    assert {(PLANTED[0], "PERSON"), (PLANTED[1], "EMAIL_ADDRESS"), (PLANTED[2], "PHONE_NUMBER"),
            (PLANTED[3], "CREDIT_CARD")} <= found
    assert lines[3]["findings"] == []
    for value in PLANTED:
        assert value not in result.stderr


def test_no_value_in_logs_or_error_texts(tmp_path: Path,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = Vault.generate_key()
    with Vault(tmp_path / "v.db", key=key) as vault:
        p = Pseudonymizer(vault)
        protected = p.pseudonymize(PROMPT, "s")
        p.restore(protected.text, "s")
        assert PLANTED[0] not in repr(protected)
    with pytest.raises(VaultKeyError) as wrong:
        Vault(tmp_path / "v.db", key=Vault.generate_key())
    texts = [record.getMessage() for record in caplog.records] + [str(wrong.value)]
    for value in PLANTED:
        assert all(value not in text for text in texts)
