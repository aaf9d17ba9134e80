"""Text detection configured by the policy: own recognizers, deny and allow lists,
language switches, and misspellings that are errors naming the closest known name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from veil import Policy, PolicyError
from veil.pseudo.engine import default_detector
from veil.text import TextDetector

POLICY = {
    "kinds": {"text.EMPLOYEE_ID": {"enabled": True}},
    "text": {
        "recognizers": [{"name": "employee-id", "entity": "EMPLOYEE_ID",
                         "patterns": [{"regex": r"EMP-\d{6}", "score": 0.3}],
                         "context": ["employee", "staff no"]},
                        {"name": "order-ref", "entity": "ORDER_REF",
                         "patterns": [{"regex": r"(?i)ord\d{8}", "score": 0.6}],
                         "validator": "luhn"}],
        "deny": [{"entity": "ORGANIZATION", "values": ["Acme Widgets"]}],
        "allow": ["Ada Lovelace"],
        "languages": {"it": False},
    },
}


def found(policy: Policy, text: str) -> dict[str, tuple[str, str]]:
    """What the policy's detector finds, its NER left out (it labels stray codes)."""
    full = default_detector(policy)
    detector = TextDetector(ner=False, registry=full.registry, allow=policy.text.allow)
    return {text[s.start:s.end]: (s.entity, s.source) for s in detector.scan(text)}


def test_own_recognizers_deny_and_allow_lists() -> None:
    policy = Policy.from_dict(POLICY)
    text = ("Employee EMP-123456 of ACME  widgets admires Ada Lovelace; order ORD12345674 "
            "and ORD12345675; visitor badge EMP-654321.")
    got = found(policy, text)
    assert got["EMP-123456"] == ("EMPLOYEE_ID", "employee-id")
    assert got.get("EMP-654321", ("",))[0] != "EMPLOYEE_ID"  # no context word: too weak
    assert got["ACME  widgets"] == ("ORGANIZATION", "deny-list")
    assert got["ORD12345674"] == ("ORDER_REF", "order-ref")
    assert got.get("ORD12345675", ("",))[0] != "ORDER_REF"  # fails its validator
    assert not any("Ada" in value or "Lovelace" in value for value in got)


def test_a_language_switched_off_and_a_recognizer_disabled() -> None:
    text = "Codice fiscale BNCMRA85T10A940A; passport number B12803456"
    assert found(Policy(), text)["BNCMRA85T10A940A"][0] == "IT_FISCAL_CODE"
    assert found(Policy(), text)["B12803456"][0] == "US_PASSPORT"
    off = Policy.from_dict({"text": {"languages": {"it": False},
                                     "disable": ["us-passport", "uk-passport"]}})
    got = found(off, text)
    assert got.get("BNCMRA85T10A940A", ("",))[0] != "IT_FISCAL_CODE"
    assert got.get("B12803456", ("",))[0] != "US_PASSPORT"


@pytest.mark.parametrize(("data", "message"), [
    ({"kinds": {"fcae": {"enabled": False}}}, "unknown kind 'fcae' (did you mean 'face'?)"),
    ({"kinds": {"text.EMAIL": {}}}, "did you mean 'text.EMAIL_ADDRESS'?"),
    ({"roles": {"r": {"protect": ["text.PERSN"]}}}, "did you mean 'text.PERSON'?"),
    ({"kinds": {"face": {"treshold": 0.2}}}, "unknown field (did you mean 'threshold'?)"),
    ({"text": {"disable": ["us-pasport"]}}, "did you mean 'us-passport'?"),
    ({"text": {"languages": {"itt": False}}}, "did you mean 'it'?"),
    ({"text": {"recognizers": [{"name": "x", "entity": "X", "validator": "lunh",
                                "patterns": [{"regex": "X", "score": 1}]}]}},
     "unknown validator 'lunh' (did you mean 'luhn'?)"),
    ({"text": {"recognizers": [{"name": "x", "entity": "X",
                                "patterns": [{"regex": "(", "score": 1}]}]}},
     "not a valid regular expression"),
    ({"text": {"recognizers": [{"name": "email", "entity": "X",
                                "patterns": [{"regex": "X", "score": 1}]}]}},
     "the name 'email' is taken"),
])
def test_misspellings_name_the_closest_known(data: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_dict(data)
    assert message in str(err.value)


def test_a_policys_own_kinds_are_known() -> None:
    assert "text.EMPLOYEE_ID" in Policy.from_dict(POLICY).known_kinds()
    with pytest.raises(PolicyError, match=r"text\.EMPLOYEE_ID"):
        Policy.from_dict({"kinds": {"text.EMPLOYEE_ID": {"enabled": True}}})


PLANTED = ["27351829468", "85072112349", "john.doe[at]example[dot]com", "EMP-123456",
           "Acme Widgets", "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "88231-A"]


def test_new_recognizers_keep_values_out_of_output_errors_and_vault(tmp_path: Path) -> None:
    """The planted-value check through the command, with a policy's own recognizers."""
    import yaml

    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY), encoding="utf-8")
    prompt = (f"Steuer-ID {PLANTED[0]}, PESEL {PLANTED[1]}, mail {PLANTED[2]}, employee "
              f"{PLANTED[3]} at {PLANTED[4]}.\n{PLANTED[5]}\nPatient ID: {PLANTED[6]}\n")
    env = {**os.environ, "VEIL_VAULT_PATH": str(tmp_path / "vault.db")}
    veil = str(Path(sys.executable).parent / "veil")
    out = subprocess.run([veil, "pseudonymize", "--session", "s", "--policy", str(policy)],
                         input=prompt.encode(), capture_output=True, env=env, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    for value in PLANTED:
        assert value.encode() not in out.stdout + out.stderr
        assert value.encode() not in (tmp_path / "vault.db").read_bytes()
    back = subprocess.run([veil, "restore", "--session", "s"], input=out.stdout,
                          capture_output=True, env=env, timeout=300, check=False)
    assert back.stdout.decode() == prompt
