"""The gateway, served by real uvicorn, in front of a real HTTP test double of the model:
what reaches the model, what comes back to each role, errors, limits and the audit log."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from upstream_double import Script, UpstreamDouble, run_app
from veil.audit import verify
from veil.policy import Policy
from veil.server.app import create_app
from veil.server.auth import hash_key
from veil.server.settings import Settings

pytestmark = pytest.mark.slow  # real servers, processes and models

KEYS = {"agent": "sk-test-agent-1", "agent2": "sk-test-agent-2", "reader": "sk-test-reader",
        "partial": "sk-test-partial", "limited": "sk-test-limited"}
UPSTREAM_KEY = "sk-upstream-secret"
NAME, EMAIL, CARD = "Jane Roe", "jane.roe@example.org", "4111 1111 1111 1111"
PLANTED = (NAME, EMAIL, CARD, "Roe", "jane.roe", "4111")


def policy(**server: Any) -> Policy:
    roles = {"agent": "agent", "agent2": "agent", "reader": "reader", "partial": "partial",
             "limited": "reader"}
    keys: list[dict[str, Any]] = [{"name": n, "sha256": hash_key(k), "role": roles[n]}
                                  for n, k in KEYS.items()]
    keys[-1].update(rate_per_minute=1, burst=2)
    return Policy.from_dict({
        "roles": {"agent": {"restore": ["text"]}, "reader": {},
                  "partial": {"restore": ["text.EMAIL_ADDRESS"]}},
        "keys": keys,
        "server": {"upstream_timeout": 1.5, "max_body_bytes": 1_000_000,
                   "image_workers": 1,  # no images in these tests
                   **server},
    })


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def audit_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audit") / "audit.jsonl"


@pytest.fixture(scope="module")
def gateway(double: UpstreamDouble, audit_path: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = Settings(upstream=double.url, policy=policy(), upstream_api_key=UPSTREAM_KEY,
                        vault_path=tmp_path_factory.mktemp("vault") / "vault.db",
                        audit_path=audit_path)
    with run_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def client(gateway: str, double: UpstreamDouble) -> Iterator[httpx.Client]:
    double.reset()
    with httpx.Client(base_url=gateway, timeout=30) as c:
        yield c


def chat(client: httpx.Client, key: str | None, messages: list[dict[str, Any]], *,
         session: str | None = None, **extra: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {KEYS[key]}"} if key else {}
    if session:
        headers["X-Veil-Session"] = session
    return client.post("/v1/chat/completions", headers=headers,
                       json={"model": "double-1", "messages": messages, **extra})


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def answer(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


def assert_openai_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code and error["message"]


def stream_lines(client: httpx.Client, key: str, messages: list[dict[str, Any]]) -> list[str]:
    with client.stream("POST", "/v1/chat/completions",
                       headers={"Authorization": f"Bearer {KEYS[key]}"},
                       json={"model": "double-1", "messages": messages, "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        return [line for line in r.iter_lines() if line]


def streamed_text(lines: list[str]) -> str:
    out = []
    for line in lines:
        assert line.startswith("data: ")
        if line == "data: [DONE]":
            continue
        for choice in json.loads(line[6:])["choices"]:
            out.append(choice["delta"].get("content") or "")
    return "".join(out)


# --- what reaches the model, what comes back ---------------------------------------------

def test_every_message_is_pseudonymized_with_one_session(client: httpx.Client,
                                                         double: UpstreamDouble) -> None:
    messages = [
        {"role": "system", "content": f"You help {NAME}."},
        {"role": "user", "content": [{"type": "text", "text": f"I am {NAME}, mail {EMAIL}."}]},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "c1", "type": "function",
            "function": {"name": "lookup", "arguments": json.dumps({"card": CARD})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": f"card {CARD} belongs to {NAME}"},
        {"role": "user", "content": f"Write to {EMAIL} for {NAME}.", "name": "jane_roe"},
    ]
    text = answer(chat(client, "agent", messages, user="jane.roe@example.org"))
    assert text == f"Write to {EMAIL} for {NAME}."  # the echo, restored for the agent
    sent = double.chats[0]
    forwarded = json.dumps(sent)
    for value in PLANTED:
        assert value not in forwarded
    assert "user" not in sent and "name" not in sent["messages"][4]
    m = sent["messages"]
    assert m[0]["content"] == "You help <PERSON_1>."
    assert m[1]["content"][0]["text"] == "I am <PERSON_1>, mail <EMAIL_ADDRESS_1>."
    assert json.loads(m[2]["tool_calls"][0]["function"]["arguments"]) == {
        "card": "<CREDIT_CARD_1>"}
    assert m[3]["content"] == "card <CREDIT_CARD_1> belongs to <PERSON_1>"
    assert m[4]["content"] == "Write to <EMAIL_ADDRESS_1> for <PERSON_1>."


def test_originals_come_back_only_for_the_kinds_a_role_may_restore(
        client: httpx.Client, double: UpstreamDouble) -> None:
    prompt = f"Mail {EMAIL} about {NAME}."
    assert answer(chat(client, "agent", user(prompt))) == prompt
    pseudonymized = "Mail <EMAIL_ADDRESS_1> about <PERSON_1>."
    assert answer(chat(client, "reader", user(prompt))) == pseudonymized
    assert answer(chat(client, "partial", user(prompt))) == f"Mail {EMAIL} about <PERSON_1>."
    for sent in double.chats:
        assert NAME not in json.dumps(sent) and EMAIL not in json.dumps(sent)


def test_tool_call_arguments_are_restored_as_valid_json(client: httpx.Client,
                                                        double: UpstreamDouble) -> None:
    double.script(Script(text="", tool_arguments='{"to": "<EMAIL_ADDRESS_1>", '
                                                  '"who": "PERSON_1"}'))
    r = chat(client, "agent", user(f'Mail {EMAIL}, name "{NAME}".'))
    assert r.status_code == 200
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"to": EMAIL, "who": NAME}


def test_a_named_session_keeps_pseudonyms_across_turns_for_its_key_only(
        client: httpx.Client, double: UpstreamDouble) -> None:
    chat(client, "agent", user(f"Card {CARD} of {NAME}."), session="s-1")
    chat(client, "agent", user(f"Visit from {EMAIL}; then {NAME} again."), session="s-1")
    assert double.chats[1]["messages"][0]["content"] == (
        "Visit from <EMAIL_ADDRESS_1>; then <PERSON_1> again.")
    # the session's own pseudonyms sent back are kept and restored ...
    assert answer(chat(client, "agent", user("Who is <PERSON_1>?"), session="s-1")) == (
        f"Who is {NAME}?")
    assert double.chats[2]["messages"][0]["content"] == "Who is <PERSON_1>?"
    # ... but another key with the same session name is another session: nothing to restore
    assert answer(chat(client, "agent2", user("Who is <PERSON_1>?"), session="s-1")) == (
        "Who is <PERSON_1>?")
    assert double.chats[3]["messages"][0]["content"] == "Who is <LITERAL_1>?"


def test_a_reader_sending_its_pseudonymized_history_keeps_the_same_pseudonyms(
        client: httpx.Client, double: UpstreamDouble) -> None:
    first = answer(chat(client, "reader", user(f"Hello, I am {NAME}."), session="r-1"))
    assert first == "Hello, I am <PERSON_1>."
    history = [*user(f"Hello, I am {NAME}."), {"role": "assistant", "content": first},
               *user("Repeat my name: <PERSON_1>.")]
    assert answer(chat(client, "reader", history, session="r-1")) == "Repeat my name: <PERSON_1>."
    assert [m["content"] for m in double.chats[1]["messages"]] == [
        "Hello, I am <PERSON_1>.", "Hello, I am <PERSON_1>.", "Repeat my name: <PERSON_1>."]


def test_text_the_user_wrote_like_a_token_comes_back_as_written(client: httpx.Client) -> None:
    prompt = "Fill in <PERSON_7> and EMAIL_ADDRESS_2 please."
    assert answer(chat(client, "reader", user(prompt))) == prompt


# --- streams -----------------------------------------------------------------------------

def test_stream_restores_tokens_split_across_chunks(client: httpx.Client,
                                                    double: UpstreamDouble) -> None:
    double.script(Script(chunks=["Dear <PER", "SON_1>, I wrote to <EMAIL", "_ADDRESS_1", ">."]))
    lines = stream_lines(client, "agent", user(f"I am {NAME}, {EMAIL}."))
    assert lines[-1] == "data: [DONE]"
    assert streamed_text(lines) == f"Dear {NAME}, I wrote to {EMAIL}."
    for line in lines[:-1]:  # no chunk carries a piece of a token
        assert "<PER" not in line and "<EMAIL" not in line
    # the default script echoes the prompt in 3-character pieces
    lines = stream_lines(client, "agent", user(f"Hi {NAME} at {EMAIL} ok"))
    assert streamed_text(lines) == f"Hi {NAME} at {EMAIL} ok"
    lines = stream_lines(client, "reader", user(f"Hi {NAME} at {EMAIL} ok"))
    assert streamed_text(lines) == "Hi <PERSON_1> at <EMAIL_ADDRESS_1> ok"


def test_stream_is_held_back_only_while_a_token_may_be_split(client: httpx.Client,
                                                             double: UpstreamDouble) -> None:
    script = Script(chunks=["Hello ", "<PER", "SON_1>, bye."], gate_after=3)
    double.script(script)
    seen = []
    with client.stream("POST", "/v1/chat/completions",
                       headers={"Authorization": f"Bearer {KEYS['agent']}"},
                       json={"model": "m", "messages": user(f"I am {NAME}."), "stream": True}
                       ) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            seen.append(json.loads(line[6:])["choices"][0]["delta"].get("content") or "")
            if "".join(seen) == "Hello ":
                # the model is still holding its next chunk: "Hello " arrived without waiting
                # (the double may be a moment behind the gateway in reaching its gate)
                assert not script.gate.is_set()
                assert script.sent.wait(10) and not script.gate.is_set()
                script.gate.set()
    assert "".join(seen) == f"Hello {NAME}, bye."


def test_a_cut_stream_ends_with_an_error_event(client: httpx.Client,
                                               double: UpstreamDouble) -> None:
    double.script(Script(chunks=["Hello ", "there"], cut_after=2))
    lines = stream_lines(client, "agent", user("Say hello."))
    assert "data: [DONE]" not in lines
    error = json.loads(lines[-1][6:])["error"]
    assert error["code"] == "upstream_stream_cut" and error["type"] == "upstream_error"
    assert streamed_text(lines[:-1]) == "Hello "


def test_a_malformed_stream_chunk_ends_the_stream(client: httpx.Client,
                                                  double: UpstreamDouble) -> None:
    good = {"choices": [{"index": 0, "delta": {"content": "ok "}, "finish_reason": None}]}
    double.script(Script(events=[json.dumps(good), "{garbage"]))
    lines = stream_lines(client, "agent", user("hi"))
    assert streamed_text(lines[:-1]) == "ok " and "data: [DONE]" not in lines
    assert json.loads(lines[-1][6:])["error"]["code"] == "upstream_malformed"


# --- auth, limits, bad input ---------------------------------------------------------------

def test_missing_or_wrong_keys_get_401_and_the_callers_key_is_never_forwarded(
        client: httpx.Client, double: UpstreamDouble) -> None:
    assert_openai_error(chat(client, None, user("hi")), 401, "invalid_api_key")
    wrong = client.post("/v1/chat/completions", headers={"Authorization": "Bearer sk-nope"},
                        json={"model": "m", "messages": user("hi")})
    assert_openai_error(wrong, 401, "invalid_api_key")
    basic = client.get("/v1/models", headers={"Authorization": "Basic c2stdGVzdA=="})
    assert_openai_error(basic, 401, "invalid_api_key")
    assert double.received == []
    models = client.get("/v1/models", headers={"Authorization": f"Bearer {KEYS['reader']}"})
    assert models.status_code == 200 and models.json()["data"][0]["id"] == "double-1"
    chat(client, "reader", user("hi"))
    for received in double.received:
        assert received.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"
        assert not any(k in json.dumps(received.headers) for k in KEYS.values())


def test_rate_limit_per_key_answers_429(client: httpx.Client) -> None:
    assert chat(client, "limited", user("one")).status_code == 200
    assert chat(client, "limited", user("two")).status_code == 200
    third = chat(client, "limited", user("three"))
    assert_openai_error(third, 429, "rate_limit_exceeded")
    assert int(third.headers["Retry-After"]) >= 1
    assert chat(client, "reader", user("other keys are not limited")).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_request"),
        (json.dumps({"model": "m", "messages": "hi"}).encode(), 400, "invalid_request"),
        (json.dumps({"model": 7, "messages": user("hi")}).encode(), 400, "invalid_request"),
        (json.dumps({"model": "m", "messages": [{"role": "boss", "content": "x"}]}).encode(),
         400, "invalid_request"),
        (json.dumps({"model": "m", "messages": [{"role": "user", "content": 5}]}).encode(),
         400, "invalid_request"),
        (json.dumps({"model": "m", "messages": user("x"), "stream": "yes"}).encode(), 400,
         "invalid_request"),
        (json.dumps({"model": "m", "messages": user("x"), "colour": {"a": "b"}}).encode(),
         400, "unsupported_field"),
        (json.dumps({"model": "m", "messages": user("x\ud800")}).encode(), 400,
         "invalid_json"),
        (json.dumps({"model": "m", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {
                "name": "f", "arguments": '{"a": "\\ud800"}'}}]}]}).encode(), 400,
         "invalid_json"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
         400, "invalid_json"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], '
         b'"temperature": -Infinity}', 400, "invalid_json"),
        (json.dumps({"model": "m", "messages": user("x"), "tools": [
            {"type": "web_search"}]}).encode(), 400, "unsupported_field"),
        (json.dumps({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA"}}]}]}).encode(), 400,
         "unsupported_content"),
        (json.dumps({"model": "m", "messages": user("x" * 1_100_000)}).encode(), 413,
         "request_too_large"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "invalid_json"),
    ],
)
def test_bad_requests_get_clear_errors_and_nothing_is_forwarded(
        client: httpx.Client, double: UpstreamDouble, body: bytes, status: int,
        code: str) -> None:
    r = client.post("/v1/chat/completions", content=body, headers={
        "Authorization": f"Bearer {KEYS['agent']}", "Content-Type": "application/json"})
    assert_openai_error(r, status, code)
    assert double.received == []


def test_bad_session_names_are_refused(client: httpx.Client) -> None:
    r = chat(client, "agent", user("hi"), session="has spaces and\ttabs")
    assert_openai_error(r, 400, "invalid_session")


def test_unknown_paths_answer_in_openai_shape(client: httpx.Client) -> None:
    assert_openai_error(client.get("/v1/nothing"), 404, "not_found")
    assert_openai_error(client.get("/v1/chat/completions"), 405, "method_not_allowed")
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "vault": "ok"}


# --- upstream faults ---------------------------------------------------------------------

@pytest.mark.parametrize(
    ("script", "status", "code"),
    [
        (Script(status=500), 502, "upstream_error"),
        (Script(status=503, body=b"<html>down</html>"), 502, "upstream_error"),
        (Script(body=b"this is not json"), 502, "upstream_malformed"),
        (Script(body=b'{"choices": "nope"}'), 502, "upstream_malformed"),
        (Script(body=b'{"choices": [{"message": {"content": "\\ud800"}}]}'), 502,
         "upstream_malformed"),
        (Script(hang=5), 504, "upstream_timeout"),
    ],
)
def test_upstream_faults_become_502_or_504(client: httpx.Client, double: UpstreamDouble,
                                           script: Script, status: int, code: str) -> None:
    double.script(script)
    assert_openai_error(chat(client, "agent", user(f"I am {NAME}.")), status, code)


def test_upstream_faults_in_streams(client: httpx.Client, double: UpstreamDouble) -> None:
    double.script(Script(status=500))
    r = client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {KEYS['agent']}"},
                    json={"model": "m", "messages": user("hi"), "stream": True})
    assert_openai_error(r, 502, "upstream_error")
    stuck = Script(chunks=["slow"], gate_after=1)  # hangs past the upstream timeout
    double.script(stuck)
    lines = stream_lines(client, "agent", user("hi"))
    stuck.gate.set()
    assert json.loads(lines[-1][6:])["error"]["code"] == "upstream_timeout"


def test_upstream_client_errors_pass_through(client: httpx.Client,
                                             double: UpstreamDouble) -> None:
    body = {"error": {"message": "model not found", "type": "invalid_request_error",
                      "param": "model", "code": "model_not_found"}}
    double.script(Script(status=404, body=json.dumps(body).encode()))
    r = chat(client, "agent", user("hi"))
    assert r.status_code == 404 and r.json() == body


def test_unreachable_upstream_is_502(tmp_path: Path, client: httpx.Client) -> None:
    with UpstreamDouble() as gone:
        dead = gone.url
    settings = Settings(upstream=dead, policy=policy(), vault_path=tmp_path / "v.db",
                        audit_path=tmp_path / "a.jsonl")
    with run_app(create_app(settings)) as url:
        r = httpx.post(f"{url}/v1/chat/completions", headers={
            "Authorization": f"Bearer {KEYS['agent']}"}, json={"model": "m",
                                                             "messages": user("hi")})
    assert_openai_error(r, 502, "upstream_unreachable")


# --- audit -------------------------------------------------------------------------------

def _settled(audit_path: Path) -> int:
    """The audit log's record count once it has stopped growing."""
    count = verify(audit_path).records
    for _ in range(50):
        time.sleep(0.1)
        now = verify(audit_path).records
        if now == count:
            return count
        count = now
    return count


def test_every_request_is_audited_without_values(client: httpx.Client,
                                                 audit_path: Path) -> None:
    before = _settled(audit_path)  # a stream of an earlier test may still be ending
    chat(client, "agent", user(f"I am {NAME}, card {CARD}."), session="audit-me")
    chat(client, None, user("no key"))
    result = verify(audit_path)
    assert result.ok and result.records == before + 2
    text = audit_path.read_text()
    # Digests are hex by construction (so they cannot carry a value); a short planted
    # value such as "4111" can occur in one by chance, so they are checked apart.
    fields = []
    for line in text.splitlines():
        record = json.loads(line)
        for digest in ("mac", "prev", "session", "request"):
            found = record.pop(digest)
            assert found is None or re.fullmatch(r"[0-9a-f]+", found), digest
        fields.append(json.dumps(record))
    for value in (*PLANTED, *KEYS.values(), "audit-me"):
        assert value not in "\n".join(fields)
    records = [json.loads(line) for line in text.splitlines()[-2:]]
    ok, denied = records
    assert ok["key"] == "agent" and ok["role"] == "agent" and ok["status"] == 200
    assert ok["found"] == {"text.CREDIT_CARD": 1, "text.PERSON": 1}
    assert ok["operators"] == {"pseudonym": 2} and ok["upstream_status"] == 200
    assert len(ok["session"]) == 32 and ok["ms"]["total"] >= ok["ms"]["protect"] > 0
    assert denied["key"] is None and denied["status"] == 401
    assert denied["error"] == "invalid_api_key"


def test_concurrent_requests_keep_their_own_values(client: httpx.Client, audit_path: Path,
                                                   gateway: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    names = ["Jane Roe", "John Smith", "Maria Garcia", "Ahmed Khan", "Li Wei", "Olga Petrova",
             "Pierre Martin", "Anna Schmidt"]

    def one(i: int) -> tuple[str, str]:
        prompt = f"Call {names[i % 8]} at +1 555 010 {2000 + i}."
        with httpx.Client(base_url=gateway, timeout=60) as c:
            return prompt, answer(chat(c, "agent", user(prompt), session=f"c-{i % 4}"))

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(32)))
    assert all(prompt == restored for prompt, restored in results)
    assert verify(audit_path).ok


def test_a_stream_is_audited_when_it_ends(client: httpx.Client, double: UpstreamDouble,
                                          audit_path: Path) -> None:
    double.script(Script(chunks=["a", "b"], cut_after=2))
    stream_lines(client, "agent", user(f"I am {NAME}."))
    record = json.loads(audit_path.read_text().splitlines()[-1])
    assert record["stream"] and record["status"] == 200
    assert record["error"] == "upstream_stream_cut" and record["found"] == {"text.PERSON": 1}
    assert verify(audit_path).ok


def test_a_held_audit_lock_refuses_in_bounded_time_and_health_still_answers(
        client: httpx.Client, audit_path: Path) -> None:
    import fcntl
    import os
    from concurrent.futures import ThreadPoolExecutor

    _settled(audit_path)
    before = verify(audit_path).records
    fd = os.open(audit_path, os.O_RDWR)  # another holder of the log's flock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(chat, client, "agent", user("hi"))
            # the event loop is free while that request waits for the lock
            with httpx.Client(base_url=str(client.base_url), timeout=30) as other:
                assert other.get("/healthz").json() == {"status": "ok"}
            refused = pending.result(timeout=60)
        assert_openai_error(refused, 503, "audit_unavailable")
    finally:
        os.close(fd)  # closing releases the lock
    assert chat(client, "agent", user("hi")).status_code == 200
    result = verify(audit_path)
    assert result.ok and result.records == before + 1
