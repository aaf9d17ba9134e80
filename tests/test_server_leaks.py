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

pytestmark = pytest.mark.slow  # real servers, processes and models

AGENT, READER = "sk-leak-agent", "sk-leak-reader"
PATH = r"C:\Users\jkowalczyk\Documents\tax.pdf"


def policy(**server: Any) -> Policy:
    return Policy.from_dict({
        "roles": {"agent": {"restore": ["text"]}, "reader": {}},
        "keys": [{"name": "agent", "sha256": hash_key(AGENT), "role": "agent"},
                 {"name": "reader", "sha256": hash_key(READER), "role": "reader"}],
        "server": {"upstream_timeout": 5, "image_workers": 1, **server},  # no images here
    })


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("leaks") / "audit.jsonl"


@pytest.fixture(scope="module")
def gateway(double: UpstreamDouble, audit: Path) -> Iterator[str]:
    settings = Settings(upstream=double.url, policy=policy(), vault_path=audit.parent / "v.db",
                        audit_path=audit)
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
    "email split, next message opens with the name": Case(
        {"messages": [*user("mail johanna.k@", "example.org"),
                      {"role": "user", "content": "Johanna says hi"}]},
        ("johanna.k", "example.org"), "EMAIL_ADDRESS", "johanna.k@example.org"),
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
    "key of tool-call arguments": Case(
        {"messages": [*user("Look her up."), {"role": "assistant", "content": None,
                      "tool_calls": [{"id": "call_1", "type": "function", "function": {
                          "name": "lookup", "arguments": json.dumps(
                              {"Johanna Kowalczyk": 1, "path": PATH})}}]},
                      {"role": "tool", "tool_call_id": "call_1", "content": "found"}]},
        ("Johanna", "Kowalczyk", "jkowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "tool description and parameter schema": Case(
        {"messages": user("Send the report."), "tools": [{"type": "function", "function": {
            "name": "send", "description": "Sends mail to Johanna Kowalczyk",
            "parameters": {"type": "object", "properties": {
                "to": {"type": "string", "enum": ["johanna.k@example.org"]},
                "Johanna Kowalczyk": {"type": "string", "description": "card 4111 1111 "
                                      "1111 1111"}}, "required": ["Johanna Kowalczyk"]}}}]},
        ("Johanna", "Kowalczyk", "johanna.k@example.org", "4111 1111 1111 1111"), "PERSON",
        "Johanna Kowalczyk"),
    "legacy functions": Case(
        {"messages": user("Go."), "functions": [{"name": "send", "description":
                                                 "Mail Johanna Kowalczyk", "parameters": {}}]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "response_format schema": Case(
        {"messages": user("Fill the form."), "response_format": {
            "type": "json_schema", "json_schema": {
                "name": "form", "description": "Form of Johanna Kowalczyk", "schema": {
                    "type": "object", "properties": {"name": {
                        "type": "string", "default": "Johanna Kowalczyk"}}}}}},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "stop sequence": Case(
        {"messages": user("Write a letter."), "stop": ["Johanna Kowalczyk", "\n\n"]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "predicted output": Case(
        {"messages": user("Fix the letter."), "prediction": {
            "type": "content", "content": [{"type": "text", "text": "Dear Johanna"},
                                           {"type": "text", "text": " Kowalczyk,"}]}},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "refusal part": Case(
        {"messages": [{"role": "assistant", "content": None,
                       "refusal": "I cannot mail johanna.k@example.org"}, *user("Why?")]},
        ("johanna.k@example.org",), "EMAIL_ADDRESS", "johanna.k@example.org"),
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


REFUSED = {
    "model": {"model": "ft:gpt-4o:johanna.k@example.org", "messages": user("Hi.")},
    "tools[0].function.name": {
        "messages": user("Mail Johanna Kowalczyk."),
        "tools": [{"type": "function", "function": {"name": "mail_kowalczyk"}}]},
    "messages[1].tool_call_id": {"messages": [
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                              "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "johanna.k@example.org", "content": "done"}]},
    "messages[0].tool_calls[0].function.name": {"messages": [
        {"role": "assistant", "content": "Calling Johanna Kowalczyk", "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "call_Johanna_Kowalczyk", "arguments": "{}"}}]}]},
    "safety_identifier": {"messages": user("Hi."), "safety_identifier": "johanna.k@example.org"},
    "response_format.json_schema.name": {
        "messages": user("I am Johanna Kowalczyk."), "response_format": {
            "type": "json_schema", "json_schema": {"name": "kowalczyk_form", "schema": {}}}},
    "tool_choice.function.name": {
        "messages": user("Ask Johanna Kowalczyk."),
        "tool_choice": {"type": "function", "function": {"name": "ask_kowalczyk"}}},
}


@pytest.mark.parametrize("param", list(REFUSED))
def test_identifiers_with_a_personal_value_are_refused(
        client: httpx.Client, double: UpstreamDouble, param: str, audit: Path) -> None:
    r = post(client, AGENT, {"model": "double-1", **REFUSED[param]})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "personal_value_in_field" and error["param"] == param
    for value in ("johanna", "kowalczyk"):
        assert value not in error["message"].casefold()
    assert double.received == []
    record = json.loads(audit.read_text().splitlines()[-1])
    assert record["status"] == 400 and "johanna" not in json.dumps(record).casefold()
    assert record["model"] == (None if param == "model" else "double-1")


def test_identifiers_are_forwarded_when_the_policy_says_so(
        double: UpstreamDouble, tmp_path: Path) -> None:
    double.reset()
    settings = Settings(upstream=double.url, policy=policy(identifier_values="forward"),
                        vault_path=tmp_path / "v.db", audit_path=tmp_path / "a.jsonl")
    with run_app(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        r = post(client, READER, {**REFUSED["model"], "model": "ft:johanna.k@example.org"})
    assert r.status_code == 200, r.text
    assert double.chats[0]["model"] == "ft:johanna.k@example.org"
    record = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[-1])
    assert record["status"] == 200 and record["model"] is None


def test_current_sdk_fields_are_accepted(client: httpx.Client, double: UpstreamDouble) -> None:
    body = {"messages": user("Hi."), "store": True, "metadata": {"owner": "johanna.k@x.org"},
            "prompt_cache_key": "tenant-7", "safety_identifier": "u-1f3a9c",
            "modalities": ["text"], "verbosity": "low", "audio": {"voice": "alloy",
                                                                  "format": "wav"},
            "web_search_options": {"search_context_size": "low", "user_location": {
                "type": "approximate", "approximate": {"city": "Kraków", "country": "PL"}}},
            "prediction": {"type": "content", "content": "Hi."}, "user": "johanna.k@x.org",
            "logprobs": True, "top_logprobs": 2}
    r = post(client, READER, body)
    assert r.status_code == 200, r.text
    sent = double.chats[0]
    for dropped in ("metadata", "user", "logprobs", "top_logprobs"):
        assert dropped not in sent
    assert sent["web_search_options"] == {"search_context_size": "low"}
    for kept in ("store", "prompt_cache_key", "safety_identifier", "modalities", "verbosity",
                 "audio", "prediction"):
        assert sent[kept] == body[kept]


def streamed(client: httpx.Client, key: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", "/v1/chat/completions",
                       headers={"Authorization": f"Bearer {key}"},
                       json={"model": "double-1", "stream": True, **body}) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def content_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["delta"].get("content") or "" for chunk in chunks
                   for c in chunk["choices"])


JSON_PROMPT = 'I am Johanna "Jo" Kowalczyk, mail johanna.k@example.org.'
JSON_ANSWER = '{"name": "<PERSON_1>", "mail": "<EMAIL_ADDRESS_1>", "note": "PERSON_1\'s"}'
JSON_RESTORED = {"name": 'Johanna "Jo" Kowalczyk', "mail": "johanna.k@example.org",
                 "note": 'Johanna "Jo" Kowalczyk\'s'}


@pytest.mark.parametrize("fmt", [
    {"type": "json_object"},
    {"type": "json_schema", "json_schema": {"name": "contact", "schema": {
        "type": "object", "properties": {"name": {"type": "string"}}}}}])
def test_json_answers_stay_valid_json_when_restored(client: httpx.Client,
                                                    double: UpstreamDouble,
                                                    fmt: dict[str, Any]) -> None:
    body = {"messages": user(JSON_PROMPT), "response_format": fmt}
    double.script(Script(text=JSON_ANSWER))
    r = post(client, AGENT, body)
    assert json.loads(r.json()["choices"][0]["message"]["content"]) == JSON_RESTORED
    pieces = [JSON_ANSWER[i : i + 5] for i in range(0, len(JSON_ANSWER), 5)]
    double.script(Script(chunks=pieces))
    assert json.loads(content_of(streamed(client, AGENT, body))) == JSON_RESTORED
    # plain text answers get the original as written
    double.script(Script(text="Hi <PERSON_1>"))
    r = post(client, AGENT, {"messages": user(JSON_PROMPT)})
    assert r.json()["choices"][0]["message"]["content"] == 'Hi Johanna "Jo" Kowalczyk'


def test_logprobs_are_removed_from_answers(client: httpx.Client,
                                          double: UpstreamDouble) -> None:
    double.script(Script(text="Hi <PERSON_1>.", logprobs=True))
    r = post(client, AGENT, {"messages": user("I am Jane Roe."), "logprobs": True})
    choice = r.json()["choices"][0]
    assert choice["logprobs"] is None and choice["message"]["content"] == "Hi Jane Roe."
    double.script(Script(chunks=["Hi <PE", "RSON_1>."], logprobs=True))
    chunks = streamed(client, READER, {"messages": user("I am Jane Roe.")})
    assert all(c.get("logprobs") is None for chunk in chunks for c in chunk["choices"])
    assert content_of(chunks) == "Hi <PERSON_1>."


def test_schemas_keep_their_keywords_and_renamed_properties_stay_required(
        client: httpx.Client, double: UpstreamDouble) -> None:
    body = CASES["tool description and parameter schema"].body
    assert post(client, READER, body).status_code == 200
    schema = double.chats[0]["tools"][0]["function"]["parameters"]
    assert list(schema) == ["type", "properties", "required"] and schema["type"] == "object"
    names = list(schema["properties"])
    assert names[0] == "to" and names[1].startswith("<PERSON_")
    assert schema["required"] == [names[1]]
    assert schema["properties"]["to"] == {"type": "string", "enum": ["<EMAIL_ADDRESS_1>"]}
    assert schema["properties"][names[1]]["type"] == "string"


def test_a_model_snapshot_date_is_no_personal_value(client: httpx.Client,
                                                    double: UpstreamDouble) -> None:
    r = post(client, READER, {"model": "gpt-4o-2024-08-06",
                              "messages": user("On 2024-08-06 I met Jane Roe.")})
    assert r.status_code == 200, r.text
    assert double.chats[0]["model"] == "gpt-4o-2024-08-06"
