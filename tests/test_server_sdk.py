"""The official ``openai`` SDK against the gateway (real uvicorn) and the recording double:
chat (plain and streamed), embeddings and model look-ups work as clients call them, and no
planted value reaches the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from test_server_leaks import AGENT, READER, assert_nothing_reached, policy
from upstream_double import Script, UpstreamDouble, run_app
from veil.server.app import create_app
from veil.server.settings import Settings

pytestmark = pytest.mark.slow  # real servers, processes and models

openai = pytest.importorskip("openai")

PROMPT = "I am Johanna Kowalczyk, mail johanna.k@example.org."
FORBIDDEN = ("Johanna", "Kowalczyk", "johanna.k@example.org")


@pytest.fixture(scope="module")
def double() -> Iterator[UpstreamDouble]:
    with UpstreamDouble() as d:
        yield d


@pytest.fixture(scope="module")
def gateway(double: UpstreamDouble, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sdk")
    settings = Settings(upstream=double.url, policy=policy(), vault_path=tmp / "v.db",
                        audit_path=tmp / "a.jsonl")
    with run_app(create_app(settings)) as url:
        yield url


@contextmanager
def sdk(gateway: str, key: str, session: str | None = None) -> Iterator[Any]:
    headers = {"X-Veil-Session": session} if session else None
    with httpx.Client(timeout=30) as http, openai.OpenAI(
            base_url=f"{gateway}/v1", api_key=key, max_retries=0, default_headers=headers,
            http_client=http) as client:
        yield client


def test_chat_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    with sdk(gateway, AGENT) as client:
        _chat(client, double)


def _chat(client: Any, double: UpstreamDouble) -> None:
    double.script(Script(text="Hello <PERSON_1>, I will write to <EMAIL_ADDRESS_1>."))
    done = client.chat.completions.create(
        model="double-1", messages=[{"role": "user", "content": PROMPT}])
    assert done.choices[0].message.content == (
        "Hello Johanna Kowalczyk, I will write to johanna.k@example.org.")
    double.script(Script(chunks=["Hello <PER", "SON_1>", "!"]))
    stream = client.chat.completions.create(
        model="double-1", messages=[{"role": "user", "content": PROMPT}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == (
        "Hello Johanna Kowalczyk!")
    for sent in double.chats:
        assert_nothing_reached(sent, FORBIDDEN)


def test_embeddings_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    with sdk(gateway, READER, session="emb-1") as client:
        _embeddings(client, double)


def _embeddings(client: Any, double: UpstreamDouble) -> None:
    inputs = [PROMPT, "Johanna Kowalczyk", "no value here"]
    result = client.embeddings.create(model="double-1", input=inputs)
    assert [len(d.embedding) for d in result.data] == [3, 3, 3]
    single = client.embeddings.create(model="double-1", input="Johanna Kowalczyk")
    assert len(single.data) == 1
    sent = [r.json() for r in double.received if r.path.endswith("/embeddings")]
    assert_nothing_reached(sent[0], FORBIDDEN)
    assert sent[0]["input"] == ["I am <PERSON_1>, mail <EMAIL_ADDRESS_1>.", "<PERSON_1>",
                                "no value here"]
    assert sent[1]["input"] == "<PERSON_1>"  # the same session: the same pseudonym


def test_models_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    with sdk(gateway, READER) as client:
        _models(client)


def _models(client: Any) -> None:
    assert [m.id for m in client.models.list()] == ["double-1"]
    assert client.models.retrieve("org/double-1").id == "org/double-1"
    with pytest.raises(openai.BadRequestError) as info:
        client.models.retrieve("ft:johanna.k@example.org")
    assert info.value.code == "personal_value_in_field"


def test_embeddings_refuse_token_arrays(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    r = httpx.post(f"{gateway}/v1/embeddings", headers={"Authorization": f"Bearer {READER}"},
                   json={"model": "double-1", "input": [[1, 2, 3]]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_input"
    assert double.received == [] and "1, 2" not in json.dumps(r.json())


# --- the Responses API ----------------------------------------------------------------------

def test_responses_through_the_sdk(gateway: str, double: UpstreamDouble) -> None:
    double.reset()
    with sdk(gateway, AGENT) as client:
        double.script(Script(text="Hello <PERSON_1>, mail <EMAIL_ADDRESS_1>.", logprobs=True))
        done = client.responses.create(model="double-1", input=PROMPT,
                                       instructions="Help Johanna Kowalczyk.")
        assert done.output_text == "Hello Johanna Kowalczyk, mail johanna.k@example.org."
        assert done.output[0].content[0].logprobs in (None, [])
        double.script(Script(chunks=["Hello <PER", "SON_1>", "!"]))
        events = list(client.responses.create(model="double-1", input=PROMPT, stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Hello Johanna Kowalczyk!"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Hello Johanna Kowalczyk!"
    done_text = next(e.text for e in events if e.type == "response.output_text.done")
    assert done_text == "Hello Johanna Kowalczyk!"
    for sent in (r.json() for r in double.received if r.path.endswith("/responses")):
        assert_nothing_reached(sent, FORBIDDEN)


RESPONSES_INPUT: list[dict[str, Any]] = [
    {"role": "developer", "content": "You help Johanna"},
    {"role": "user", "content": [{"type": "input_text", "text": "Kowalczyk. SSN 523-41-"},
                                 {"type": "input_text", "text": "6789, mail johanna.k@"},
                                 {"type": "input_text", "text": "example.org"}]},
    {"type": "function_call", "call_id": "call_1", "name": "lookup",
     "arguments": json.dumps({"Johanna Kowalczyk": r"C:\Users\jkowalczyk"})},
    {"type": "function_call_output", "call_id": "call_1", "output": "Kowalczyk found"},
    {"type": "reasoning", "id": "rs_1", "summary": [
        {"type": "summary_text", "text": "The user is Johanna Kowalczyk."}]},
]


def test_responses_items_are_protected_as_one_document(gateway: str,
                                                       double: UpstreamDouble) -> None:
    double.reset()
    double.script(Script(text='{"who": "<PERSON_1>"}', tool_arguments='{"to": "PERSON_1"}'))
    body = {"model": "double-1", "input": RESPONSES_INPUT, "store": False,
            "tools": [{"type": "function", "name": "lookup", "description": "Finds Kowalczyk",
                       "parameters": {"type": "object", "properties": {}}}],
            "text": {"format": {"type": "json_schema", "name": "who", "schema": {
                "type": "object", "properties": {"who": {"type": "string"}}}}}}
    r = httpx.post(f"{gateway}/v1/responses", headers={"Authorization": f"Bearer {AGENT}"},
                   json=body, timeout=30)
    assert r.status_code == 200, r.text
    sent = double.received[0].json()
    assert_nothing_reached(sent, (*FORBIDDEN, "523-41-6789", "6789", "example.org",
                                  "jkowalczyk"))
    output = r.json()["output"]
    assert json.loads(output[0]["content"][0]["text"]) == {"who": "Johanna Kowalczyk"}
    assert json.loads(output[1]["arguments"]) == {"to": "Johanna Kowalczyk"}


@pytest.mark.parametrize(("body", "code"), [
    ({"input": "hi", "tools": [{"type": "web_search"}]}, "unsupported_field"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
     "unsupported_content"),
    ({"input": "hi", "prompt": {"id": "pmpt_1"}}, "unsupported_field"),
    ({"input": "hi", "previous_response_id": "johanna.k@example.org"},
     "personal_value_in_field"),
    ({"input": "hi", "temperature": float("nan")}, "invalid_json"),
])
def test_responses_refusals(gateway: str, double: UpstreamDouble, body: dict[str, Any],
                            code: str) -> None:
    double.reset()
    r = httpx.post(f"{gateway}/v1/responses", headers={"Authorization": f"Bearer {AGENT}"},
                   content=json.dumps({"model": "double-1", **body}), timeout=30)
    assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert double.received == []


def test_a_cut_responses_stream_ends_with_an_error_event(gateway: str,
                                                         double: UpstreamDouble) -> None:
    double.reset()
    double.script(Script(chunks=["Hello ", "<PERSON_1>"], cut_after=4))
    with httpx.stream("POST", f"{gateway}/v1/responses",
                      headers={"Authorization": f"Bearer {AGENT}"}, timeout=30,
                      json={"model": "double-1", "input": PROMPT, "stream": True}) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    last = json.loads(lines[-1][6:])
    assert last["error"]["code"] == "upstream_stream_cut"
