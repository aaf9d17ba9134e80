"""The Anthropic Messages API (``POST /v1/messages``) through the gateway (real uvicorn) to
the recording double, with the official ``anthropic`` SDK: plain and streamed messages,
tool use round trips, images redacted, every way a value can be carried (no planted value
reaches the model), answers restored for a restoring role only, errors in Anthropic's
shape."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from test_server_images import encode, face_hidden
from test_server_leaks import (
    AGENT,
    JSON_PROMPT,
    PATH,
    READER,
    assert_nothing_reached,
    policy,
)
from upstream_double import Script, UpstreamDouble, run_app
from veil.policy import Policy
from veil.server.anthropic import MessageRestorer, error_response
from veil.server.app import create_app
from veil.server.auth import hash_key
from veil.server.schemas import ApiError
from veil.server.settings import Settings
from veil.server.stream import AnswerRestorer

pytestmark = pytest.mark.slow  # real servers, processes and models

anthropic = pytest.importorskip("anthropic")

UPSTREAM_KEY = "sk-ant-upstream-double"
PROMPT = "I am Johanna Kowalczyk, mail johanna.k@example.org."
FORBIDDEN = ("Johanna", "Kowalczyk", "johanna.k@example.org")
MODEL = "claude-double-1"


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("anthropic") / "audit.jsonl"


@pytest.fixture(scope="module")
def gateway(double: UpstreamDouble, audit: Path) -> Iterator[str]:
    settings = Settings(upstream=double.url, upstream_api_key=UPSTREAM_KEY,
                        policy=policy(fetch_allow_networks=["127.0.0.1/32"]),
                        vault_path=audit.parent / "v.db", audit_path=audit)
    with run_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def http(gateway: str, double: UpstreamDouble) -> Iterator[httpx.Client]:
    double.reset()
    with httpx.Client(base_url=gateway, timeout=60) as c:
        yield c


@contextmanager
def sdk(gateway: str, key: str) -> Iterator[Any]:
    client = anthropic.Anthropic(base_url=gateway, api_key=key, max_retries=0, timeout=60)
    try:
        yield client
    finally:
        client.close()


def post(http: httpx.Client, key: str, body: dict[str, Any],
         headers: dict[str, str] | None = None) -> httpx.Response:
    return http.post("/v1/messages", headers={"x-api-key": key, **(headers or {})},
                     json={"model": MODEL, "max_tokens": 64, **body})


def events(http: httpx.Client, key: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(event name, data) of a streamed answer."""
    with http.stream("POST", "/v1/messages", headers={"x-api-key": key},
                     json={"model": MODEL, "max_tokens": 64, "stream": True, **body}) as r:
        assert r.status_code == 200
        lines = list(r.iter_lines())
    names = [line[7:] for line in lines if line.startswith("event: ")]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert len(names) == len(data)
    assert all(n == d["type"] for n, d in zip(names, data, strict=True))
    return list(zip(names, data, strict=True))


def text_of(streamed: list[tuple[str, Any]]) -> str:
    return "".join(d["delta"].get("text", "") for n, d in streamed
                   if n == "content_block_delta")


# --- the SDK --------------------------------------------------------------------------------

def test_a_message_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    double.script(Script(text="Hello <PERSON_1>, I will write to <EMAIL_ADDRESS_1>."))
    with sdk(gateway, AGENT) as client:
        answer = client.messages.create(
            model=MODEL, max_tokens=64, system="You help Johanna Kowalczyk.",
            messages=[{"role": "user", "content": PROMPT}],
            metadata={"user_id": "johanna.k@example.org"})
    assert answer.content[0].text == (
        "Hello Johanna Kowalczyk, I will write to johanna.k@example.org.")
    (received,) = double.received
    assert received.path == "/v1/messages"
    headers = {k.lower(): v for k, v in received.headers.items()}
    assert headers["x-api-key"] == UPSTREAM_KEY and "authorization" not in headers
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", headers["anthropic-version"])  # the SDK's
    sent = received.json()
    assert "metadata" not in sent
    assert sent["system"] == "You help <PERSON_1>."
    assert sent["messages"][0]["content"] == "I am <PERSON_1>, mail <EMAIL_ADDRESS_1>."
    assert_nothing_reached(sent, FORBIDDEN)


def test_a_streamed_message_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    double.script(Script(chunks=["Hello <PER", "SON_1>", ", mail <EMAIL_ADD", "RESS_1>"]))
    with sdk(gateway, AGENT) as client, client.messages.stream(
            model=MODEL, max_tokens=64,
            messages=[{"role": "user", "content": PROMPT}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello Johanna Kowalczyk, mail johanna.k@example.org"
    assert final.content[0].text == text and final.stop_reason == "end_turn"
    assert_nothing_reached(double.messages[0], FORBIDDEN)


def test_a_tool_use_round_trip_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    prompt = JSON_PROMPT  # a quote in the name: JSON-escaped in tool inputs
    tools = [{"name": "notify", "description": "Notifies people, e.g. Johanna Kowalczyk",
              "input_schema": {"type": "object", "properties": {
                  "to": {"type": "string"}, "name": {"type": "string"}},
                  "required": ["to"]}}]
    arguments = '{"to": "<EMAIL_ADDRESS_1>", "name": "<PERSON_1>"}'
    restored = {"to": "johanna.k@example.org", "name": 'Johanna "Jo" Kowalczyk'}
    double.script(Script(text="Sending.", tool_arguments=arguments),
                  Script(text="Sending.", tool_arguments=arguments),
                  Script(text="Sent to <PERSON_1>."))
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    with sdk(gateway, AGENT) as client:
        answer = client.messages.create(model=MODEL, max_tokens=64, tools=tools,
                                        messages=messages)
        assert answer.stop_reason == "tool_use"
        call = answer.content[1]
        assert call.type == "tool_use" and call.input == restored
        with client.messages.stream(model=MODEL, max_tokens=64, tools=tools,
                                    messages=messages) as stream:
            final = stream.get_final_message()
        assert final.content[1].input == restored  # input_json_delta, JSON-escaped
        messages += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True)
                                              for b in answer.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                          "content": "The mail was sent to Johanna Kowalczyk."}]}]
        last = client.messages.create(model=MODEL, max_tokens=64, tools=tools,
                                      messages=messages)
    assert last.content[0].text == 'Sent to Johanna "Jo" Kowalczyk.'
    sent = double.messages[-1]
    sent_input = sent["messages"][1]["content"][1]["input"]
    assert sent_input["to"] == "<EMAIL_ADDRESS_1>"
    assert re.fullmatch(r"<PERSON_\d>", sent_input["name"])
    result = sent["messages"][2]["content"][0]["content"]
    assert re.fullmatch(r"The mail was sent to <PERSON_\d>\.", result)
    assert sent["tools"][0]["name"] == "notify"
    for body in double.messages:
        assert_nothing_reached(body, (*FORBIDDEN, '"Jo"'))


def test_images_are_redacted_through_the_sdk(gateway: str, double: UpstreamDouble,
                                             astronaut: np.ndarray) -> None:
    double.reset()
    png = encode(astronaut)
    double.files["/img/astronaut.png"] = (png, "image/png")
    with sdk(gateway, AGENT) as client:
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(png).decode()}},
            {"type": "image", "source": {"type": "url",
                                         "url": f"{double.base}/img/astronaut.png"}},
            {"type": "text", "text": "Who is this?"}]}])
    blocks = double.messages[0]["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["image", "image", "text"]
    for block in blocks[:2]:
        source = block["source"]
        assert source["type"] == "base64" and source["media_type"] == "image/png"
        image = Image.open(io.BytesIO(base64.b64decode(source["data"])))
        assert image.size == (512, 512) and face_hidden(image)


def test_sdk_errors_are_anthropic_errors(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    with sdk(gateway, "sk-wrong") as client, pytest.raises(anthropic.AuthenticationError) as e:
        client.messages.create(model=MODEL, max_tokens=8,
                               messages=[{"role": "user", "content": "Hi"}])
    assert e.value.body["error"]["type"] == "authentication_error"
    with sdk(gateway, AGENT) as client, pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=MODEL, max_tokens=8, tools=[
            {"type": "web_search_20250305", "name": "web_search"}],
            messages=[{"role": "user", "content": "Hi"}])
    assert bad.value.body["error"]["code"] == "unsupported_field"
    assert double.received == []


# --- what reaches the model ----------------------------------------------------------------

def user(*texts: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": t} for t in texts]}


CASES: dict[str, tuple[dict[str, Any], tuple[str, ...], str, str]] = {
    "ssn split across blocks": (
        {"messages": [user("SSN 523-41-", "6789")]}, ("523-41-6789", "6789", "523-41"),
        "US_SSN", "523-41-6789"),
    "email split across blocks": (
        {"messages": [user("write to johanna.k@", "example.org")]},
        ("johanna.k@example.org", "johanna.k", "example.org"), "EMAIL_ADDRESS",
        "johanna.k@example.org"),
    "name split across messages": (
        {"messages": [{"role": "user", "content": "My name is Johanna"},
                      {"role": "assistant", "content": "Kowalczyk."}, user("Hi.")]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "name split across system and message": (
        {"system": "You help Johanna", "messages": [user("Kowalczyk with her taxes.")]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "system text blocks": (
        {"system": [{"type": "text", "text": "Card 4111 1111",
                     "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": " 1111 1111 on file."}],
         "messages": [user("Charge it.")]},
        ("4111 1111 1111 1111", "4111", "1111 1111"), "CREDIT_CARD", "4111 1111 1111 1111"),
    "surname repeated alone": (
        {"messages": [user("Johanna Kowalczyk called. Later Ms Kowalczyk wrote again.")]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "keys of tool_use input and a tool result": (
        {"messages": [user("Look her up."), {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "lookup",
             "input": {"Johanna Kowalczyk": {"path": PATH}}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                          "content": [{"type": "text", "text": "SSN 523-41-"},
                                                      {"type": "text", "text": "6789"}]}]}]},
        ("Johanna", "Kowalczyk", "jkowalczyk", "523-41-6789"), "PERSON", "Johanna Kowalczyk"),
    "tool description and input schema": (
        {"messages": [user("Send the report.")], "tools": [{
            "name": "send", "description": "Sends mail to Johanna Kowalczyk",
            "input_schema": {"type": "object", "properties": {
                "to": {"type": "string", "enum": ["johanna.k@example.org"]},
                "Johanna Kowalczyk": {"type": "string"}}, "required": ["Johanna Kowalczyk"]}}]},
        ("Johanna", "Kowalczyk", "johanna.k@example.org"), "PERSON", "Johanna Kowalczyk"),
    "stop sequences": (
        {"messages": [user("Write a letter.")], "stop_sequences": ["Johanna Kowalczyk", "\n\n"]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
    "plain-text document": (
        {"messages": [{"role": "user", "content": [
            {"type": "document", "title": "Letter of Johanna Kowalczyk", "context": "scan",
             "source": {"type": "text", "media_type": "text/plain",
                        "data": "Dear Johanna Kowalczyk, your SSN 523-41-6789 ..."}},
            {"type": "text", "text": "Summarise."}]}]},
        ("Johanna", "Kowalczyk", "523-41-6789"), "PERSON", "Johanna Kowalczyk"),
    "thinking sent back": (
        {"messages": [user("Who called?"), {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "The caller is Johanna Kowalczyk.",
             "signature": "c2lnbmF0dXJl"}, {"type": "text", "text": "Someone."}]},
            user("Again?")]},
        ("Johanna", "Kowalczyk"), "PERSON", "Johanna Kowalczyk"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_no_value_reaches_the_model(http: httpx.Client, double: UpstreamDouble,
                                    case: tuple[dict[str, Any], tuple[str, ...], str, str]
                                    ) -> None:
    body, forbidden, entity, original = case
    token = f"<{entity}_1>"
    double.script(Script(text=f"Noted: {token}."), Script(text=f"Noted: {token}."),
                  Script(chunks=["Noted: ", token[:4], token[4:], "."]))
    agent = post(http, AGENT, body)
    reader = post(http, READER, body)
    streamed = events(http, AGENT, body)
    assert len(double.messages) == 3
    for sent in double.messages:
        assert_nothing_reached(sent, forbidden)
        assert token in json.dumps(sent)
    assert agent.status_code == 200, agent.text
    assert agent.json()["content"][0]["text"] == f"Noted: {original}."
    assert reader.json()["content"][0]["text"] == f"Noted: {token}."
    assert text_of(streamed) == f"Noted: {original}."


def test_streams_hold_a_split_pseudonym_until_the_block_stops(http: httpx.Client,
                                                              double: UpstreamDouble) -> None:
    double.script(Script(chunks=["Hi <PERSON_1>, <PER", "SON_"]),
                  Script(chunks=["Hi <PER", "SON_1>"]), Script(chunks=["Hi <PER", "SON_1>"]))
    streamed = events(http, AGENT, {"messages": [user(PROMPT)]})
    names = [n for n, _ in streamed]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    deltas = [d["delta"]["text"] for n, d in streamed if n == "content_block_delta"]
    assert deltas == ["Hi Johanna Kowalczyk, ", "", "<PERSON_"]  # the tail, flushed at stop
    assert text_of(events(http, READER, {"messages": [user(PROMPT)]})) == "Hi <PERSON_1>"
    assert text_of(events(http, AGENT, {"messages": [user("No value here.")]})) == (
        "Hi <PERSON_1>")  # nothing of this request to restore


def test_the_stop_sequence_of_an_answer_is_restored(http: httpx.Client,
                                                    double: UpstreamDouble) -> None:
    body = {"messages": [user("Write to Johanna Kowalczyk.")],
            "stop_sequences": ["Johanna Kowalczyk"]}
    double.script(Script(text="Dear ", stop_sequence="<PERSON_1>"),
                  Script(chunks=["Dear "], stop_sequence="<PERSON_1>"))
    assert post(http, AGENT, body).json()["stop_sequence"] == "Johanna Kowalczyk"
    last = next(d for n, d in events(http, AGENT, body) if n == "message_delta")
    assert last["delta"]["stop_sequence"] == "Johanna Kowalczyk"
    assert double.messages[0]["stop_sequences"] == ["<PERSON_1>"]


def test_fields_are_forwarded_or_dropped(http: httpx.Client, double: UpstreamDouble) -> None:
    body = {"messages": [user("Hi.")], "temperature": 0.5, "top_p": 0.9, "top_k": 5,
            "thinking": {"type": "enabled", "budget_tokens": 1024}, "service_tier": "auto",
            "tool_choice": {"type": "auto"}, "metadata": {"user_id": "johanna.k@x.org"}}
    r = post(http, READER, body, headers={"anthropic-version": "2023-06-01",
                                          "anthropic-beta": "prompt-caching-2024-07-31"})
    assert r.status_code == 200, r.text
    sent = double.messages[0]
    for name in ("temperature", "top_p", "top_k", "thinking", "service_tier", "tool_choice"):
        assert sent[name] == body[name]
    assert "metadata" not in sent and sent["max_tokens"] == 64
    assert double.received[0].headers["anthropic-beta"] == "prompt-caching-2024-07-31"


# --- errors ---------------------------------------------------------------------------------

REFUSALS = {
    "unknown field": ({"messages": [user("Hi")], "container": "c1"}, "unsupported_field"),
    "server tool": ({"messages": [user("Hi")], "tools": [
        {"type": "web_search_20250305", "name": "web_search"}]}, "unsupported_field"),
    "pdf document": ({"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                        "data": "JVBERi0="}}]}]}, "unsupported_content"),
    "file image": ({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]},
        "unsupported_content"),
    "citations": ({"messages": [{"role": "user", "content": [
        {"type": "document", "citations": {"enabled": True},
         "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]},
        "unsupported_field"),
    "unknown block": ({"messages": [{"role": "user", "content": [
        {"type": "search_result", "source": "x", "title": "t", "content": []}]}]},
        "unsupported_content"),
    "tool name": ({"messages": [user("Mail Johanna Kowalczyk.")], "tools": [
        {"name": "mail_kowalczyk", "input_schema": {"type": "object"}}]},
        "personal_value_in_field"),
    "tool_use id": ({"messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "johanna.k@example.org", "name": "f", "input": {}}]}]},
        "personal_value_in_field"),
    "string temperature": ({"messages": [user("Hi")], "temperature": "johanna"},
                           "invalid_request"),
    "object service tier": ({"messages": [user("Hi")], "service_tier": {"a": "johanna"}},
                            "invalid_request"),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusals_are_anthropic_errors(http: httpx.Client, double: UpstreamDouble,
                                       name: str) -> None:
    body, code = REFUSALS[name]
    r = post(http, AGENT, body)
    assert r.status_code == 400, r.text
    error = r.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["code"] == code
    assert "johanna" not in r.text.casefold() and double.received == []


def test_keys_and_audit(http: httpx.Client, double: UpstreamDouble, audit: Path) -> None:
    ok = http.post("/v1/messages", headers={"Authorization": f"Bearer {READER}"},
                   json={"model": MODEL, "max_tokens": 8, "messages": [user("Hi")]})
    assert ok.status_code == 200
    assert double.received[0].headers["anthropic-version"] == "2023-06-01"  # the default
    record = json.loads(audit.read_text().splitlines()[-1])
    assert record["endpoint"] == "/v1/messages" and record["key"] == "reader"
    assert record["status"] == 200 and record["model"] == MODEL
    both = http.post("/v1/messages", headers={"Authorization": f"Bearer {READER}",
                                              "x-api-key": AGENT},
                     json={"model": MODEL, "max_tokens": 8, "messages": [user("Hi")]})
    assert both.status_code == 401
    assert both.json()["error"]["type"] == "authentication_error"
    missing = http.post("/v1/messages", json={"model": MODEL, "max_tokens": 8,
                                              "messages": [user("Hi")]})
    assert missing.status_code == 401
    bad = http.post("/v1/messages", headers={"x-api-key": AGENT}, content=b"{nope")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    odd = post(http, AGENT, {"messages": [user("Hi")]}, headers={"anthropic-version": "a b"})
    assert odd.status_code == 400 and odd.json()["error"]["code"] == "invalid_header"
    named = post(http, AGENT, {"messages": [user("I am Johanna Kowalczyk.")]},
                 headers={"anthropic-beta": "kowalczyk-2025"})
    assert named.status_code == 400 and named.json()["error"]["param"] == "anthropic-beta"
    assert len(double.received) == 1


def test_upstream_failures(http: httpx.Client, double: UpstreamDouble) -> None:
    refusal = {"type": "error", "error": {"type": "invalid_request_error",
                                          "message": "max_tokens: too large"}}
    double.script(Script(status=400, body=json.dumps(refusal).encode()),
                  Script(status=500),
                  Script(chunks=["Hello ", "<PER", "SON_1>", " and <PER", "SON_1>"],
                         cut_after=7))
    passed = post(http, AGENT, {"messages": [user(PROMPT)]})
    assert passed.status_code == 400 and passed.json() == refusal
    broken = post(http, AGENT, {"messages": [user(PROMPT)]})
    assert broken.status_code == 502
    assert broken.json()["error"] == {"type": "api_error", "code": "upstream_error",
                                      "message": "the model answered HTTP 500"}
    cut = events(http, AGENT, {"messages": [user(PROMPT)]})
    # the held tail ("<PER") is sent before the error event
    assert text_of(cut) == "Hello Johanna Kowalczyk and <PER"
    name, last = cut[-1]
    assert name == "error" and last["error"]["code"] == "upstream_stream_cut"


@pytest.mark.parametrize(("status", "kind"), [
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
    (413, "request_too_large"), (429, "rate_limit_error"), (500, "api_error"),
    (502, "api_error"), (503, "api_error"), (504, "timeout_error")])
def test_error_types_follow_the_status(status: int, kind: str) -> None:
    response = error_response(ApiError(status, "message", "code",
                                       headers={"Retry-After": "2"}))
    assert response.status_code == status and response.headers["Retry-After"] == "2"
    assert json.loads(bytes(response.body)) == {
        "type": "error", "error": {"type": kind, "message": "message", "code": "code"}}


# --- the restorer on its own ----------------------------------------------------------------

def restorer() -> MessageRestorer:
    return MessageRestorer(AnswerRestorer({"<PERSON_1>": 'Jane "J" Roe'}))


def test_whole_messages_are_restored_block_by_block() -> None:
    message = {"type": "message", "stop_sequence": "<PERSON_1>", "content": [
        {"type": "thinking", "thinking": "User is <PERSON_1>.", "signature": "c2ln"},
        {"type": "text", "text": "Hi <PERSON_1>"},
        {"type": "tool_use", "id": "toolu_1", "name": "f",
         "input": {"<PERSON_1>": ["<PERSON_1>", 3]}},
        {"type": "redacted_thinking", "data": "<PERSON_1>"}]}
    restorer().message(message)
    thinking, text, tool, redacted = message["content"]
    assert thinking == {"type": "thinking", "thinking": 'User is Jane "J" Roe.',
                        "signature": "c2ln"}
    assert text["text"] == 'Hi Jane "J" Roe' and message["stop_sequence"] == 'Jane "J" Roe'
    assert tool["input"] == {'Jane "J" Roe': ['Jane "J" Roe', 3]}
    assert redacted["data"] == "<PERSON_1>"  # encrypted by the provider: as it is


def test_stream_deltas_are_restored_per_block_and_flushed_at_stop() -> None:
    r = restorer()
    out: list[dict[str, Any]] = []
    for event in [
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "thinking_delta", "thinking": "is <PER"}},
            {"type": "content_block_delta", "index": 1,
             "delta": {"type": "input_json_delta", "partial_json": '{"to": "<PERSON'}},
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "thinking_delta", "thinking": "SON_1>"}},
            {"type": "content_block_delta", "index": 0,
             "delta": {"type": "signature_delta", "signature": "<PERSON_1>"}},
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_delta", "index": 1,
             "delta": {"type": "input_json_delta", "partial_json": "_1"}},
            {"type": "content_block_stop", "index": 1}]:
        out += r.event(event)
    deltas = [e["delta"] for e in out if e["type"] == "content_block_delta"]
    assert [d.get("thinking") for d in deltas if d["type"] == "thinking_delta"] == [
        "is ", 'Jane "J" Roe']
    assert deltas[3] == {"type": "signature_delta", "signature": "<PERSON_1>"}
    partial = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert partial == '{"to": "<Jane \\"J\\" Roe'  # held back, flushed before its stop
    assert [e["type"] for e in out][-2:] == ["content_block_delta", "content_block_stop"]
    held = restorer()
    held.event({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": "Hi <PERSON_1"}})
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert held.event(error) == [{"type": "content_block_delta", "index": 0, "delta": {
        "type": "text_delta", "text": '<Jane "J" Roe'}}, error]


def test_json_inputs_stay_json_in_streams() -> None:
    r = restorer()
    pieces = ['{"to": "<PER', 'SON_1>", "', '<PERSON_1>": 1}']
    text = "".join(r.event({"type": "content_block_delta", "index": 0, "delta": {
        "type": "input_json_delta", "partial_json": p}})[0]["delta"]["partial_json"]
        for p in pieces)
    assert json.loads(text) == {"to": 'Jane "J" Roe', 'Jane "J" Roe': 1}


def test_statuses_on_the_messages_endpoint(double: UpstreamDouble, tmp_path: Path) -> None:
    """413, 403, 429 and 504 through a gateway with small limits, in Anthropic's shape."""
    double.reset()
    limited, text_only = "sk-ant-limited", "sk-ant-text-only"
    strict = Policy.from_dict({
        "roles": {"agent": {"restore": ["text"]}, "text_only": {"images": False}},
        "keys": [{"name": "limited", "sha256": hash_key(limited), "role": "agent",
                  "rate_per_minute": 1, "burst": 2},
                 {"name": "text-only", "sha256": hash_key(text_only), "role": "text_only"}],
        "server": {"upstream_timeout": 1, "image_workers": 1, "max_body_bytes": 4096}})
    settings = Settings(upstream=double.url, policy=strict, vault_path=tmp_path / "v.db",
                        audit_path=tmp_path / "a.jsonl")
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(b"x").decode()}}
    double.script(Script(hang=3))
    with run_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        big = post(http, text_only, {"messages": [user("x" * 5000)]})
        no_images = post(http, text_only, {"messages": [{"role": "user", "content": [image]}]})
        slow = post(http, limited, {"messages": [user("Hi")]})
        post(http, limited, {"messages": [user("Hi")]})
        limit = post(http, limited, {"messages": [user("Hi")]})
    for response, status, kind, code in [
            (big, 413, "request_too_large", "request_too_large"),
            (no_images, 403, "permission_error", "images_not_allowed"),
            (slow, 504, "timeout_error", "upstream_timeout"),
            (limit, 429, "rate_limit_error", "rate_limit_exceeded")]:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert (error["type"], error["code"]) == (kind, code)
    assert limit.headers["Retry-After"].isdigit()
    records = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == [413, 403, 504, 200, 429]
    assert {r["endpoint"] for r in records} == {"/v1/messages"}
