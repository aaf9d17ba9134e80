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
