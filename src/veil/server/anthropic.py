"""The Anthropic Messages API (``POST /v1/messages``): requests taken apart like chat
requests and protected as one document, answers and their event streams restored, errors
in Anthropic's shape.

Accepted: ``system`` (a string or text blocks), ``messages`` whose content is a string or
blocks (``text``, ``image`` with a base64 or url source, ``tool_use``, ``tool_result``,
``document`` with a plain-text source, ``thinking``, ``redacted_thinking``), custom
``tools``, ``tool_choice``, ``stop_sequences`` and the usual numbers and flags.
``metadata`` is dropped; server tools, file sources, PDF documents, citations and anything
unknown are refused (fail closed). The upstream gets the gateway's own key as
``x-api-key`` and the caller's ``anthropic-version`` and ``anthropic-beta`` headers.
Answers: text, thinking and ``tool_use`` inputs are restored (inputs JSON-escaped, as they
are JSON), in whole messages and in stream events (a held-back tail is sent as one more
delta before ``content_block_stop``); a stream that ends before ``message_stop`` gets an
``error`` event.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import JSONResponse, Response

from veil.pseudo.restore import Restorer, StreamRestorer
from veil.server import app as gateway_app
from veil.server.auth import Caller
from veil.server.schemas import (
    ApiError,
    ChatRequest,
    FixedSlot,
    ImageSlot,
    TextSlot,
    _bad,
    _fixed_leaves,
    _leaves,
    _schema,
    _string,
    model_and_stream,
    parse_body,
    text_or_parts,
)
from veil.server.stream import (
    AnswerRestorer,
    StreamOutcome,
    event_index,
    named_sse,
    restore_named_sse,
)

if TYPE_CHECKING:
    from veil.server.app import Gateway, Outcome

PATH = "/messages"
DEFAULT_VERSION = "2023-06-01"
"""``anthropic-version`` sent upstream when the caller sends none."""
FORWARDED = frozenset({"max_tokens", "stream", "temperature", "top_p", "top_k", "thinking",
                       "service_tier"})
"""Passed as written: numbers, flags and choices; no text the model reads."""
SCANNED = frozenset({"model", "system", "messages", "tools", "tool_choice", "stop_sequences"})
DROPPED = {"metadata": "its user_id is an end-user id, never read by the model"}
TOP_LEVEL = FORWARDED | SCANNED | frozenset(DROPPED)
_ROLES = frozenset({"user", "assistant"})
_NUMBERS = ("max_tokens", "temperature", "top_p", "top_k")
_STOP = frozenset({"message_stop"})
_HEADER = re.compile(r"[A-Za-z0-9._,-]{1,256}")
_DATA_URL = re.compile(r"data:(?P<mime>[^;,]+);base64,(?P<data>.*)", re.DOTALL)


# --- requests -------------------------------------------------------------------------------

def parse_messages(raw: bytes) -> ChatRequest:
    """Parse and check a Messages API body; raise ApiError(400) naming the bad field."""
    return parse_body(raw, _request)


def _request(body: dict[str, Any]) -> ChatRequest:
    model, stream = model_and_stream(body, TOP_LEVEL)
    for name in _NUMBERS:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _bad(f"'{name}' must be a number", name)
    _thinking(body.get("thinking"))
    for name in DROPPED:
        body.pop(name, None)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array", "messages")
    request = ChatRequest(body, model, stream, fixed=[FixedSlot("model", model)])
    system = body.get("system")
    if isinstance(system, str):
        request.texts.append(TextSlot(body, "system"))
    elif isinstance(system, list):
        for i, block in enumerate(system):
            where = f"system[{i}]"
            if not isinstance(block, dict) or block.get("type") != "text":
                raise _bad(f"{where} must be a text block", where, "unsupported_content")
            _text_block(request, block, where)
    elif system is not None:
        raise _bad("'system' must be a string or an array of text blocks", "system")
    for i, message in enumerate(messages):
        _message(request, message, f"messages[{i}]")
    _tools(request, body.get("tools"))
    if body.get("tool_choice") is not None:
        if not isinstance(body["tool_choice"], dict):
            raise _bad("'tool_choice' must be an object", "tool_choice")
        _fixed_leaves(request, body["tool_choice"], "tool_choice")
    tier = body.get("service_tier")
    if tier is not None:
        if not isinstance(tier, str):
            raise _bad("'service_tier' must be a string", "service_tier")
        request.fixed.append(FixedSlot("service_tier", tier))
    stops = body.get("stop_sequences")
    if isinstance(stops, list):
        for i in range(len(stops)):
            _string(request, stops, i, f"stop_sequences[{i}]")
    elif stops is not None:
        raise _bad("'stop_sequences' must be an array of strings", "stop_sequences")
    return request


def _thinking(thinking: Any) -> None:
    """Extended thinking settings: a choice and a number, forwarded as written."""
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in (
            "enabled", "disabled", "adaptive"):
        raise _bad("'thinking' must be an object with type enabled, disabled or adaptive",
                   "thinking")
    _only(thinking, {"type", "budget_tokens"}, "thinking")
    budget = thinking.get("budget_tokens")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int)):
        raise _bad("thinking.budget_tokens must be an integer", "thinking.budget_tokens")


def _message(request: ChatRequest, message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise _bad(f"{where} must be an object", where)
    if message.get("role") not in _ROLES:
        raise _bad(f"{where}.role must be user or assistant", f"{where}.role")
    _only(message, {"role", "content"}, where)
    text_or_parts(request, message, where, lambda block, at: _block(request, block, at),
                  "blocks")


def _block(request: ChatRequest, block: Any, where: str, *, nested: bool = False) -> None:
    """One content block; ``nested``: inside a ``tool_result`` (text and images only)."""
    kind = block.get("type") if isinstance(block, dict) else None
    if not isinstance(kind, str) or not isinstance(block, dict):
        raise _bad(f"{where} must be an object with a string 'type'", where)
    if kind == "text":
        _text_block(request, block, where)
    elif kind == "image":
        _image(request, block, where)
    elif kind == "tool_use" and not nested:
        _only(block, {"type", "id", "name", "input", "cache_control"}, where)
        _cache_control(request, block, where)
        for name in ("id", "name"):
            if not isinstance(block.get(name), str):
                raise _bad(f"{where}.{name} must be a string", f"{where}.{name}")
            request.fixed.append(FixedSlot(f"{where}.{name}", block[name]))
        if not isinstance(block.get("input"), dict):
            raise _bad(f"{where}.input must be an object", f"{where}.input")
        _leaves(request, block, "input", f"{where}.input")  # keys and strings
    elif kind == "tool_result" and not nested:
        _only(block, {"type", "tool_use_id", "content", "is_error", "cache_control"}, where)
        _cache_control(request, block, where)
        if not isinstance(block.get("tool_use_id"), str):
            raise _bad(f"{where}.tool_use_id must be a string", f"{where}.tool_use_id")
        request.fixed.append(FixedSlot(f"{where}.tool_use_id", block["tool_use_id"]))
        if not isinstance(block.get("is_error", False), bool):
            raise _bad(f"{where}.is_error must be true or false", f"{where}.is_error")
        text_or_parts(request, block, where,
                      lambda inner, at: _block(request, inner, at, nested=True), "blocks",
                      optional=True)
    elif kind == "document" and not nested:
        _document(request, block, where)
    elif kind == "thinking" and not nested:
        _only(block, {"type", "thinking", "signature"}, where)
        _string(request, block, "thinking", f"{where}.thinking")
        if not isinstance(block.get("signature", ""), str):
            raise _bad(f"{where}.signature must be a string", f"{where}.signature")
    elif kind == "redacted_thinking" and not nested:
        _only(block, {"type", "data"}, where)  # encrypted by the provider: forwarded
        if not isinstance(block.get("data"), str):
            raise _bad(f"{where}.data must be a string", f"{where}.data")
    else:
        raise _bad(f"{where}: blocks of type {kind[:40]!r} are not supported by the privacy "
                   "gateway here", where, "unsupported_content")


def _text_block(request: ChatRequest, block: dict[str, Any], where: str) -> None:
    _only(block, {"type", "text", "cache_control", "citations"}, where)
    if block.get("citations") not in (None, []):  # quoted passages, titles of documents
        raise _bad(f"{where}.citations are not supported by the privacy gateway",
                   f"{where}.citations", "unsupported_field")
    _cache_control(request, block, where)
    _string(request, block, "text", f"{where}.text")


def _image(request: ChatRequest, block: dict[str, Any], where: str) -> None:
    _only(block, {"type", "source", "cache_control"}, where)
    _cache_control(request, block, where)
    source = block.get("source")
    kind = source.get("type") if isinstance(source, dict) else None
    if not isinstance(source, dict) or kind not in ("base64", "url"):
        raise _bad(f"{where}.source must be a base64 or url source (file ids are not "
                   "supported by the privacy gateway)", f"{where}.source",
                   "unsupported_content")
    if kind == "base64":
        _only(source, {"type", "media_type", "data"}, f"{where}.source")
        mime, data = source.get("media_type"), source.get("data")
        if not isinstance(mime, str) or not isinstance(data, str):
            raise _bad(f"{where}.source needs string 'media_type' and 'data'", f"{where}.source")
        url = f"data:{mime};base64,{data}"
    else:
        _only(source, {"type", "url"}, f"{where}.source")
        if not isinstance(source.get("url"), str):
            raise _bad(f"{where}.source.url must be a string", f"{where}.source.url")
        url = source["url"]
    request.images.append(ImageSlot(ImageSource(block, url), len(request.images) + 1))


class ImageSource(dict[str, Any]):
    """An image block's source as the gateway's image path sees it: ``{"url": ...}``, a
    data URL for base64 sources. Setting the redacted image's data URL writes it back into
    the block as a base64 source, so the upstream receives only the redacted image."""

    def __init__(self, block: dict[str, Any], url: str) -> None:
        super().__init__(url=url)
        self._block = block

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        m = _DATA_URL.fullmatch(str(value))
        if m is None:  # never an image the gateway did not produce
            raise ApiError(500, "a protected image could not be written", "protection_failed",
                           type="server_error")
        self._block["source"] = {"type": "base64", "media_type": m["mime"],
                                 "data": m["data"]}


def _document(request: ChatRequest, block: dict[str, Any], where: str) -> None:
    """A plain-text document: its text, title and context are scanned. PDFs, URLs, files
    and content sources are refused (the gateway cannot read them), and so are citations
    (answers would quote the document outside the restored text)."""
    _only(block, {"type", "source", "title", "context", "citations", "cache_control"}, where)
    _cache_control(request, block, where)
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "text":
        raise _bad(f"{where}.source: only plain-text documents are supported by the privacy "
                   "gateway", f"{where}.source", "unsupported_content")
    _only(source, {"type", "media_type", "data"}, f"{where}.source")
    if source.get("media_type", "text/plain") != "text/plain":
        raise _bad(f"{where}.source.media_type must be text/plain",
                   f"{where}.source.media_type", "unsupported_content")
    citations = block.get("citations")
    if citations is not None and (not isinstance(citations, dict) or citations.get("enabled")
                                  or set(citations) - {"enabled"}):
        raise _bad(f"{where}.citations are not supported by the privacy gateway",
                   f"{where}.citations", "unsupported_field")
    for name in ("title", "context"):
        if name in block:
            _string(request, block, name, f"{where}.{name}", nullable=True)
    _string(request, source, "data", f"{where}.source.data")


def _cache_control(request: ChatRequest, holder: dict[str, Any], where: str) -> None:
    """Prompt caching marks (``{"type": "ephemeral", "ttl": "5m"}``): checked, forwarded."""
    value = holder.get("cache_control")
    if value is None:
        return
    if not isinstance(value, dict):
        raise _bad(f"{where}.cache_control must be an object", f"{where}.cache_control")
    _only(value, {"type", "ttl"}, f"{where}.cache_control")
    _fixed_leaves(request, value, f"{where}.cache_control")


def _tools(request: ChatRequest, tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _bad("'tools' must be an array", "tools")
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom":
            raise _bad(f"{where}: only custom tools (name, description, input_schema) are "
                       "supported by the privacy gateway", where, "unsupported_field")
        _only(tool, {"type", "name", "description", "input_schema", "cache_control"}, where)
        _cache_control(request, tool, where)
        if not isinstance(tool.get("name"), str):
            raise _bad(f"{where}.name must be a string", f"{where}.name")
        request.fixed.append(FixedSlot(f"{where}.name", tool["name"]))
        if "description" in tool:
            _string(request, tool, "description", f"{where}.description", nullable=True)
        if not isinstance(tool.get("input_schema"), dict):
            raise _bad(f"{where}.input_schema must be a JSON schema object",
                       f"{where}.input_schema")
        _schema(request, tool["input_schema"], f"{where}.input_schema")


def _only(holder: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(holder) - allowed)
    if unknown:
        raise _bad(f"{where}.{unknown[0]} is not supported by the privacy gateway",
                   f"{where}.{unknown[0]}", "unsupported_field")


def upstream_headers(request: Request) -> dict[str, str]:
    """The caller's ``anthropic-version`` (a default if none) and ``anthropic-beta``
    headers, for the upstream; values are checked to be plain tokens."""
    headers = {"anthropic-version": request.headers.get("anthropic-version", DEFAULT_VERSION)}
    beta = request.headers.get("anthropic-beta")
    if beta is not None:
        headers["anthropic-beta"] = beta
    for name, value in headers.items():
        if not _HEADER.fullmatch(value):
            raise _bad(f"the {name} header must be letters, digits and . _ , -", name,
                       "invalid_header")
    return headers


# --- answers --------------------------------------------------------------------------------

_DELTAS = {"text_delta": ("text", "text"), "thinking_delta": ("thinking", "text"),
           "input_json_delta": ("partial_json", "json")}
"""Delta types restored in streams: (their text field, restorer)."""


class MessageRestorer:
    """Restores Messages API answers: whole ``message`` objects and stream events."""

    def __init__(self, answer: AnswerRestorer) -> None:
        self.active = answer.active
        self._text, self._json, _ = answer.restorers()
        self._open: dict[int, tuple[str, StreamRestorer]] = {}

    def message(self, body: dict[str, Any]) -> None:
        """Restore a ``message`` object's content blocks and stop sequence in place."""
        for block in body.get("content") or []:
            if isinstance(block, dict):
                self.block(block)
        if isinstance(body.get("stop_sequence"), str):
            body["stop_sequence"] = self._restore(self._text, body["stop_sequence"])

    def block(self, block: dict[str, Any]) -> None:
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            block["text"] = self._restore(self._text, block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            block["thinking"] = self._restore(self._text, block["thinking"])
        elif kind == "tool_use" and isinstance(block.get("input"), dict) and self.active:
            block["input"] = _restored_json(self._json, block["input"])

    def event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The events to send for one upstream event: the event restored, preceded by a
        delta with the held-back text when ``content_block_stop`` closes a block."""
        kind = event.get("type")
        out: list[dict[str, Any]] = []
        if kind == "message_start" and isinstance(event.get("message"), dict):
            self.message(event["message"])
        elif kind == "content_block_start" and isinstance(event.get("content_block"), dict):
            self.block(event["content_block"])
        elif kind == "content_block_delta" and isinstance(event.get("delta"), dict):
            delta = event["delta"]
            known = _DELTAS.get(str(delta.get("type")))
            if known is not None and isinstance(delta.get(known[0]), str):
                delta[known[0]] = self._feed(event_index(event.get("index")), str(delta["type"]),
                                             delta[known[0]])
        elif kind == "content_block_stop":
            held = self._held(event_index(event.get("index")))
            if held is not None:
                out.append(held)
        elif kind == "error":  # the upstream's own error ends the stream: send what is held
            out.extend(self.tail())
        elif kind == "message_delta" and isinstance(event.get("delta"), dict):
            delta = event["delta"]
            if isinstance(delta.get("stop_sequence"), str):
                delta["stop_sequence"] = self._restore(self._text, delta["stop_sequence"])
        out.append(event)
        return out

    def tail(self) -> list[dict[str, Any]]:
        """Deltas with whatever every open block still holds back (a stream cut short)."""
        return [d for index in sorted(self._open) if (d := self._held(index)) is not None]

    def _held(self, index: int) -> dict[str, Any] | None:
        opened = self._open.pop(index, None)
        if opened is None:
            return None
        kind, stream = opened
        rest = stream.flush()
        if not rest:
            return None
        return {"type": "content_block_delta", "index": index,
                "delta": {"type": kind, _DELTAS[kind][0]: rest}}

    def _feed(self, index: int, kind: str, text: str) -> str:
        if not self.active:
            return text
        opened = self._open.get(index)
        if opened is None or opened[0] != kind:
            restorer = self._json if _DELTAS[kind][1] == "json" else self._text
            opened = self._open[index] = (kind, StreamRestorer(restorer))
        return opened[1].feed(text)

    def _restore(self, restorer: Restorer, text: str) -> str:
        return restorer.restore(text) if self.active else text


def _restored_json(restorer: Restorer, value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object restored as its text (keys too, originals JSON-escaped)."""
    text = restorer.restore(json.dumps(value, ensure_ascii=False))
    try:
        restored = json.loads(text)
    except ValueError:  # cannot happen with escaped originals; keep the pseudonyms
        return value
    return restored if isinstance(restored, dict) else value


def restore_messages_sse(lines: AsyncIterator[str], restorer: MessageRestorer,
                         outcome: StreamOutcome) -> AsyncIterator[bytes]:
    """Upstream Messages SSE in, restored SSE out; complete at ``message_stop``, errors in
    Anthropic's shape."""
    return restore_named_sse(lines, restorer, outcome, _STOP, stream_error)


# --- errors ---------------------------------------------------------------------------------

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                422: "invalid_request_error", 429: "rate_limit_error", 504: "timeout_error"}


def error_body(status: int, message: str, code: str,
               param: str | None = None) -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message", "code"[, "param"]}}``: Anthropic's
    shape, with the gateway's own code (and the field at fault) beside its type."""
    error: dict[str, Any] = {
        "type": _ERROR_TYPES.get(status, "api_error" if status >= 500 or status < 400
                                 else "invalid_request_error"),
        "message": message, "code": code}
    if param is not None:
        error["param"] = param
    return {"type": "error", "error": error}


def error_response(exc: ApiError) -> Response:
    return JSONResponse(error_body(exc.status, exc.message, exc.code, exc.param), exc.status,
                        headers=exc.headers)


def stream_error(message: str, code: str) -> bytes:
    """An ``error`` event in Anthropic's shape, ending a stream."""
    return named_sse(error_body(502 if code != "upstream_timeout" else 504, message, code))


# --- the endpoint ---------------------------------------------------------------------------

async def authorise(gateway: Gateway, request: Request, outcome: Outcome) -> Caller:
    """The caller from ``x-api-key`` (Anthropic's clients) or ``Authorization: Bearer``."""
    caller = gateway.keys.caller(request.headers.get("authorization"),
                                 request.headers.get("x-api-key"))
    outcome.caller = caller
    return await gateway.authorise(caller)


async def messages(gateway: Gateway, request: Request, outcome: Outcome) -> Response:
    """``POST /v1/messages``: protected like a chat request, the answer restored block by
    block (or event by event)."""
    app = gateway_app
    caller = await authorise(gateway, request, outcome)
    app._require_ready(gateway)
    headers = upstream_headers(request)
    body = parse_messages(await gateway.read_body(request))
    body.fixed.extend(FixedSlot(name, value) for name, value in headers.items())
    outcome.stream = body.stream
    session = outcome.session = app._session(request, caller)
    restorer = MessageRestorer(await gateway.protect(body, caller, session, outcome))
    if body.stream:
        def restore(lines: AsyncIterator[str], state: StreamOutcome) -> AsyncIterator[bytes]:
            return restore_messages_sse(lines, restorer, state)

        return await app._stream(gateway, PATH, body, restore, outcome, headers=headers,
                                 error=stream_error)
    answer = await app._upstream(
        gateway, outcome, lambda: gateway.upstream.post(PATH, json=body.body, headers=headers))
    if isinstance(answer, Response):
        return answer
    data = app._json_object(answer, "message")
    if not isinstance(data.get("content"), list):
        raise ApiError(502, "the model's message is malformed", "upstream_malformed",
                       type="upstream_error")
    restorer.message(data)
    return JSONResponse(data)
