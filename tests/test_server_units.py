"""Gateway parts on their own: address guard, roles, rate limits, parsing, stream restore."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from veil.cli import main
from veil.errors import PolicyError
from veil.policy import Policy, Role
from veil.server.auth import KeyStore, RateLimiter, hash_key
from veil.server.fetch import address_allowed
from veil.server.protect import role_policy
from veil.server.schemas import ApiError, KeySlot, parse_chat
from veil.server.settings import Settings
from veil.server.stream import AnswerRestorer


@pytest.mark.parametrize(
    ("address", "allow", "ok"),
    [
        ("93.184.216.34", (), True),
        ("2606:4700::1111", (), True),
        ("127.0.0.1", (), False),
        ("10.1.2.3", (), False),
        ("172.16.0.1", (), False),
        ("192.168.0.1", (), False),
        ("100.64.0.1", (), False),  # carrier-grade NAT
        ("169.254.1.1", (), False),
        ("0.0.0.0", (), False),
        ("240.0.0.1", (), False),
        ("255.255.255.255", (), False),
        ("224.0.0.251", (), False),
        ("::1", (), False),
        ("fe80::1", (), False),
        ("fc00::1", (), False),
        ("::ffff:127.0.0.1", (), False),
        ("::ffff:93.184.216.34", (), True),
        ("10.1.2.3", ("10.0.0.0/8",), True),
        ("::ffff:10.1.2.3", ("10.0.0.0/8",), True),
        ("127.0.0.2", ("127.0.0.1/32",), False),
        ("169.254.169.254", ("169.254.0.0/16",), False),  # metadata: never
        ("fd00:ec2::254", ("fd00::/8",), False),
        ("224.0.0.1", ("224.0.0.0/4",), False),
    ],
)
def test_address_guard(address: str, allow: tuple[str, ...], ok: bool) -> None:
    networks = [ipaddress.ip_network(n) for n in allow]
    assert address_allowed(ipaddress.ip_address(address), networks) is ok


def test_roles_only_narrow_what_is_protected() -> None:
    base = Policy.from_dict({"kinds": {"text.URL": {"enabled": False}}})
    kinds = ["face", "text", "text.PERSON", "text.EMAIL_ADDRESS", "text.URL", "plate"]
    narrowed = role_policy(base, Role(protect=("face", "text.PERSON")), kinds)
    assert narrowed.enabled("face") and narrowed.enabled("text.PERSON")
    assert not narrowed.enabled("text.EMAIL_ADDRESS") and not narrowed.enabled("plate")
    assert not narrowed.enabled("text.URL")
    assert narrowed.enabled("text.SOMETHING_NEW")  # unknown kinds stay protected
    everything = role_policy(base, Role(protect=("*",)), kinds)
    assert everything is base and not everything.enabled("text.URL")


def test_keys_are_checked_by_hash() -> None:
    policy = Policy.from_dict({
        "roles": {"r": {}}, "keys": [{"name": "k1", "sha256": hash_key("secret").upper(),
                                      "role": "r"}]})
    store = KeyStore(policy)
    assert store.caller("Bearer secret").name == "k1"
    assert store.caller("bearer  secret ").role_name == "r"
    for header in (None, "", "Bearer", "Bearer other", "Token secret", "secret"):
        with pytest.raises(ApiError) as info:
            store.caller(header)
        assert info.value.status == 401 and "secret" not in info.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"keys": [{"name": "k", "sha256": "0" * 64, "role": "nope"}]}, "not defined"),
        ({"roles": {"r": {}}, "keys": [{"name": "k", "sha256": "xyz", "role": "r"}]},
         "sha256"),
        ({"roles": {"r": {}}, "keys": [{"name": "k", "sha256": "0" * 64, "role": "r"},
                                       {"name": "k", "sha256": "1" * 64, "role": "r"}]},
         "same name"),
        ({"server": {"anonymous_role": "ghost"}}, "anonymous_role"),
        ({"server": {"fetch_allow_networks": ["not a network"]}}, "fetch_allow_networks"),
        ({"roles": {"r": {"restore": "text", "colour": 1}}}, "colour"),
    ],
)
def test_bad_server_policies_are_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        Policy.from_dict(data)


def test_token_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    policy = Policy.from_dict({"roles": {"r": {}}, "keys": [
        {"name": "k", "sha256": hash_key("s"), "role": "r", "rate_per_minute": 60, "burst": 2}]})
    caller = KeyStore(policy).caller("Bearer s")
    limiter = RateLimiter(clock=lambda: now[0])
    limiter.check(caller)
    limiter.check(caller)
    with pytest.raises(ApiError) as info:
        limiter.check(caller)
    assert info.value.status == 429 and info.value.headers == {"Retry-After": "1"}
    now[0] = 1.0
    limiter.check(caller)


def test_parse_chat_collects_texts_and_images_and_drops_names() -> None:
    body = {"model": "m", "user": "jane@example.org", "messages": [
        {"role": "user", "name": "jane", "content": [
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]},
        {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
            {"id": "1", "type": "function",
             "function": {"name": "f", "arguments": '{"a": ["b", {"c": "d"}], "n": 1}'}}]},
    ]}
    chat = parse_chat(json.dumps(body).encode())
    assert [t.value for t in chat.texts] == ["a", "a", "b", "c", "d", "n"]
    assert [(f.where, f.value) for f in chat.fixed] == [
        ("model", "m"), ("messages[1].tool_calls[0].id", "1"),
        ("messages[1].tool_calls[0].function.name", "f")]
    assert [i.url for i in chat.images] == ["data:image/png;base64,AAAA", "https://x/y.png"]
    for slot in sorted(chat.texts, key=lambda s: isinstance(s, KeySlot)):
        slot.set(slot.value.upper())
    for finish in chat.finish:
        finish()
    assert "user" not in chat.body and "name" not in chat.body["messages"][0]
    arguments = chat.body["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"A": ["B", {"C": "D"}], "N": 1}


def test_stream_restore_handles_choices_tool_calls_and_the_tail() -> None:
    restorer = AnswerRestorer({"<PERSON_1>": 'Jane "JJ" Roe'})
    chunks = restorer.stream()
    pieces = [
        {"choices": [{"index": 0, "delta": {"content": "Hi <PER"}},
                     {"index": 1, "delta": {"tool_calls": [
                         {"index": 0, "function": {"arguments": '{"who": "<PERS'}}]}}]},
        {"choices": [{"index": 0, "delta": {"content": "SON_1"}, "finish_reason": None},
                     {"index": 1, "delta": {"tool_calls": [
                         {"index": 0, "function": {"arguments": 'ON_1>"}'}}]},
                      "finish_reason": "tool_calls"}]},
        {"id": "x", "choices": [{"index": 0, "delta": {"content": "> and PERSON"}}]},
    ]
    content, arguments = "", ""
    for piece in pieces:
        chunks.chunk(piece)
        for choice in piece["choices"]:
            content += choice["delta"].get("content", "") if choice["index"] == 0 else ""
            for call in choice["delta"].get("tool_calls", []):
                arguments += call["function"]["arguments"]
    tail = chunks.tail()
    assert tail is not None and tail["id"] == "x"
    content += tail["choices"][0]["delta"]["content"]
    assert content == 'Hi Jane "JJ" Roe and PERSON'
    assert json.loads(arguments) == {"who": 'Jane "JJ" Roe'}


def test_completion_restore_and_inactive_restorer() -> None:
    body = {"choices": [{"message": {"content": "<PERSON_1>!", "refusal": "no PERSON_1"}}]}
    AnswerRestorer({"<PERSON_1>": "Jane"}).completion(body)
    assert body["choices"][0]["message"] == {"content": "Jane!", "refusal": "no Jane"}
    idle = AnswerRestorer({})
    chunks = idle.stream()
    piece = {"choices": [{"index": 0, "delta": {"content": "<PER"}}]}
    chunks.chunk(piece)
    assert piece["choices"][0]["delta"]["content"] == "<PER" and chunks.tail() is None


def test_settings_need_an_http_upstream() -> None:
    with pytest.raises(PolicyError, match="upstream"):
        Settings(upstream="ftp://model")
    assert Settings(upstream="https://api.example.org/v1").upstream_api_key is None


def test_serve_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    bare = runner.invoke(main, ["serve", "--upstream", "http://127.0.0.1:9/v1"])
    assert bare.exit_code == 2 and "no API keys" in bare.output
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"roles: {{agent: {{restore: [text]}}}}\n"
                      f"keys: [{{name: a, sha256: {hash_key('k')}, role: agent}}]\n")
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    monkeypatch.setenv("VEIL_UPSTREAM_API_KEY", "sk-up")
    result = runner.invoke(main, [
        "serve", "--upstream", "http://127.0.0.1:9/v1", "--policy", str(policy),
        "--port", "8123", "--vault", str(tmp_path / "v.db"),
        "--audit-log", str(tmp_path / "a.jsonl")])
    assert result.exit_code == 0, result.output
    gateway = served["app"].state.gateway
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    assert gateway.settings.upstream_api_key == "sk-up"
    assert "sk-up" not in repr(gateway.settings)
    gateway.close()


def test_text_document_maps_views_and_rewrites_crossing_spans() -> None:
    from veil.server.document import SPACED, TIGHT, DocSpan, TextDocument, merge

    doc = TextDocument(["My name is Johanna", "Kowalczyk.", "", " Hi", "SSN 523-41-", "6789"])
    assert doc.tight == "My name is JohannaKowalczyk. HiSSN 523-41-6789"
    assert doc.spaced == "My name is Johanna Kowalczyk. Hi SSN 523-41- 6789"
    start = doc.spaced.index("Johanna")
    tight = doc.to_tight(SPACED, start, start + len("Johanna Kowalczyk"))
    assert tight == (11, 27) and doc.text_of(SPACED, *tight) == "Johanna Kowalczyk"
    assert doc.text_of(TIGHT, *tight) == "JohannaKowalczyk"
    assert doc.glued_between(*tight) == [18] and doc.glued_between(0, 10) == []
    ssn = doc.tight.index("523")
    spans = [DocSpan(*tight, "PERSON", 0.6, "Johanna Kowalczyk"),
             DocSpan(ssn, ssn + 11, "US_SSN", 1.0, "523-41-6789"),
             DocSpan(ssn + 4, ssn + 11, "PHONE_NUMBER", 0.5, "41-6789")]
    merged = merge(doc, spans)
    assert [(s.entity, s.value) for s in merged] == [("PERSON", "Johanna Kowalczyk"),
                                                     ("US_SSN", "523-41-6789")]
    assert doc.rewrite(merged, ["<P>", "<S>"]) == ["My name is <P>", ".", "", " Hi",
                                                   "SSN <S>", ""]
    assert "Johanna" not in repr(merged)


def test_home_folders_are_names() -> None:
    from veil.text.recognizers.accounts import account_spans

    cases = {r"C:\Users\jkowalczyk\a.txt": ["jkowalczyk"], "/home/jk/notes": ["jk"],
             "/Users/Jane Roe/Desktop": ["Jane Roe"], r"C:\Users\Public\x": [],
             "https://example.org/home/index.html": [], r"C:\Users\%USERNAME%\x": []}
    for text, names in cases.items():
        assert [text[s.start : s.end] for s in account_spans(text)] == names


def test_json_content_is_restored_json_escaped() -> None:
    originals = {"<ADDRESS_1>": '12 "Main" St\\n\nSpringfield', "<PERSON_1>": "Jane"}
    restorer = AnswerRestorer(originals, json_content=True)
    body = {"choices": [{"message": {"content": '{"to": "<ADDRESS_1>", "n": "<PERSON_1>"}',
                                     "refusal": "no <PERSON_1>"}, "logprobs": {"content": []}}]}
    restorer.completion(body)
    choice = body["choices"][0]
    assert json.loads(choice["message"]["content"]) == {
        "to": originals["<ADDRESS_1>"], "n": "Jane"}
    assert choice["message"]["refusal"] == "no Jane"
    assert choice["logprobs"] is None
    chunks = restorer.stream()
    text = ""
    for piece in ('{"to": "<ADD', 'RESS_1>"}'):
        chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
        chunks.chunk(chunk)
        text += chunk["choices"][0]["delta"]["content"]
    tail = chunks.tail()
    text += tail["choices"][0]["delta"]["content"] if tail else ""
    assert json.loads(text) == {"to": originals["<ADDRESS_1>"]}


def test_tight_spans_stop_where_the_spaced_view_ends_a_value() -> None:
    from veil.server.document import SPACED, DocSpan, TextDocument, clip_explained

    doc = TextDocument(["mail jo@example.org.", "name", "write jo@", "example.org"])
    email = doc.tight.index("jo@")
    glued = DocSpan(email, email + len("jo@example.org.name"), "EMAIL_ADDRESS", 1.0, "")
    at = doc.tight.index("jo@", email + 1)
    split = DocSpan(at, at + len("jo@example.org"), "EMAIL_ADDRESS", 1.0, "")
    s = doc.spaced.index("jo@")
    spaced = [DocSpan(*doc.to_tight(SPACED, s, s + len("jo@example.org")), "EMAIL_ADDRESS",
                      1.0, "jo@example.org")]
    clipped = clip_explained(doc, [glued, split], spaced)
    assert [doc.tight[c.start : c.end] for c in clipped] == ["jo@example.org",
                                                             "jo@example.org"]
    assert doc.rewrite(clipped, ["<E1>", "<E2>"]) == ["mail <E1>.", "name", "write <E2>", ""]
