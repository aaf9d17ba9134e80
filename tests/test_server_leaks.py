"""No personal value reaches the model, whichever way a request carries it: split across
parts and messages, in JSON keys, tool definitions, schemas, stop sequences, paths. Each
case runs through the real gateway (uvicorn) to the recording double; the double answers
with the pseudonym, and each role gets the answer restored as it may see it."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from upstream_double import Script, UpstreamDouble, run_app
from veil.policy import Policy
from veil.server.app import create_app
from veil.server.auth import hash_key
from veil.server.settings import Settings

AGENT, READER = "sk-leak-agent", "sk-leak-reader"


def policy(**server: Any) -> Policy:
    return Policy.from_dict({
        "roles": {"agent": {"restore": ["text"]}, "reader": {}},
        "keys": [{"name": "agent", "sha256": hash_key(AGENT), "role": "agent"},
                 {"name": "reader", "sha256": hash_key(READER), "role": "reader"}],
        "server": {"upstream_timeout": 5, **server},
    })


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def gateway(double: UpstreamDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("leaks")
    settings = Settings(upstream=double.url, policy=policy(), vault_path=tmp / "vault.db",
                        audit_path=tmp / "audit.jsonl")
    with run_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def client(gateway: str, double: UpstreamDouble) -> Iterator[httpx.Client]:
    double.reset()
    with httpx.Client(base_url=gateway, timeout=30) as c:
        yield c


def post(client: httpx.Client, key: str, body: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                       json={"model": "double-1", **body})


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_nothing_reached(sent: dict[str, Any], forbidden: tuple[str, ...]) -> None:
    """No forbidden text (value, fragment or surname) and no forbidden digit run (4 digits
    or more) in any string the model received, arguments' JSON parsed too."""
    texts = list(strings(sent))
    for text in list(texts):
        with contextlib.suppress(ValueError):
            texts.extend(strings(json.loads(text)))
    for value in forbidden:
        digits = re.sub(r"\D", "", value)
        for text in texts:
            assert value.casefold() not in text.casefold(), "a planted value reached the model"
            if len(digits) >= 4:
                assert digits not in re.sub(r"\D", "", text), "a digit run reached the model"


def user(*parts: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": p} for p in parts]}]


@dataclass
class Case:
    """One way of carrying a value: the body, what must not reach the model, the entity of
    its pseudonym and the original the agent gets back (None: only the refusal test)."""

    body: dict[str, Any]
    forbidden: tuple[str, ...]
    entity: str
    original: str
    extra: dict[str, Any] = field(default_factory=dict)


CASES = {
    "ssn split across parts": Case(
        {"messages": user("SSN 523-41-", "6789")}, ("523-41-6789", "6789", "523-41"),
        "US_SSN", "523-41-6789"),
    "card split across parts": Case(
        {"messages": user("card 4111 1111", " 1111 1111")},
        ("4111 1111 1111 1111", "4111", "1111 1111"), "CREDIT_CARD", "4111 1111 1111 1111"),
    "email split across parts": Case(
        {"messages": user("write to johanna.k@", "example.org")},
        ("johanna.k@example.org", "johanna.k", "example.org"), "EMAIL_ADDRESS",
        "johanna.k@example.org"),
    "name split across messages": Case(
        {"messages": [{"role": "user", "content": "My name is Johanna"},
                      {"role": "user", "content": "Kowalczyk."}]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "name split across system and user": Case(
        {"messages": [{"role": "system", "content": "You help Johanna"},
                      {"role": "user", "content": "Kowalczyk with her taxes."}]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "surname repeated alone": Case(
        {"messages": [{"role": "user", "content": "Johanna Kowalczyk called. Later "
                                                  "Ms Kowalczyk wrote again."}]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "windows home folder": Case(
        {"messages": [{"role": "user", "content": r"Open C:\Users\jkowalczyk\report.docx"}]},
        ("jkowalczyk",), "PERSON", "jkowalczyk"),
    "unix home folder": Case(
        {"messages": [{"role": "user", "content": "see /home/jkowalczyk/notes.txt"}]},
        ("jkowalczyk",), "PERSON", "jkowalczyk"),
    "mac home folder": Case(
        {"messages": [{"role": "user", "content": "see /Users/jkowalczyk/Desktop/a.png"}]},
        ("jkowalczyk",), "PERSON", "jkowalczyk"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_no_value_reaches_the_model(client: httpx.Client, double: UpstreamDouble,
                                    case: Case) -> None:
    token = f"<{case.entity}_1>"
    double.script(Script(text=f"Noted: {token}."), Script(text=f"Noted: {token}."))
    agent = post(client, AGENT, case.body)
    reader = post(client, READER, case.body)
    for sent in double.chats:
        assert_nothing_reached(sent, case.forbidden)
        assert token in json.dumps(sent)
    assert agent.status_code == 200, agent.text
    assert agent.json()["choices"][0]["message"]["content"] == f"Noted: {case.original}."
    assert reader.json()["choices"][0]["message"]["content"] == f"Noted: {token}."


def test_a_value_crossing_parts_is_replaced_in_the_first_and_cut_from_the_next(
        client: httpx.Client, double: UpstreamDouble) -> None:
    post(client, READER, {"messages": user("SSN 523-41-", "6789 is mine")})
    parts = double.chats[0]["messages"][0]["content"]
    assert [p["text"] for p in parts] == ["SSN <US_SSN_1>", " is mine"]
    post(client, READER, {"messages": [{"role": "user", "content": "My name is Johanna"},
                                       {"role": "user", "content": "Kowalczyk. Hi!"}]})
    assert [m["content"] for m in double.chats[1]["messages"]] == [
        "My name is <PERSON_1>", ". Hi!"]


def test_a_message_after_a_name_keeps_its_first_word(client: httpx.Client,
                                                     double: UpstreamDouble) -> None:
    post(client, READER, {"messages": [{"role": "user", "content": "Regards, Jane Roe"},
                                       {"role": "assistant", "content": "Thanks Jane."},
                                       {"role": "user", "content": "Write to Jane Roe"}]})
    contents = [m["content"] for m in double.chats[0]["messages"]]
    assert contents[1].startswith("Thanks") and contents[2].startswith("Write to <PERSON_")
    assert "Jane" not in json.dumps(contents) and "Roe" not in json.dumps(contents)


def test_pseudonyms_are_one_per_value_across_parts_and_turns(
        client: httpx.Client, double: UpstreamDouble, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {READER}", "X-Veil-Session": "split-1"}
    for messages in (user("Card 4111 1111", " 1111 1111 of Jane Roe"),
                     user("Card 4111111111111111 again, Jane Roe.")):
        client.post("/v1/chat/completions", headers=headers,
                    json={"model": "m", "messages": messages})
    first, second = (json.dumps(c["messages"]) for c in double.chats)
    for token in ("<CREDIT_CARD_1>", "<PERSON_1>"):
        assert token in first and token in second
