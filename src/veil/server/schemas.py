"""OpenAI-shaped errors, and the chat request taken apart into what must be protected.

Only fields the gateway knows how to protect are accepted (fail closed): an unknown
top-level field, message field or content part type is refused with a 400, never
forwarded. Message ``name`` and the top-level ``user`` are dropped (they often name a
person and have no protected form). Texts are message contents, text and refusal parts,
and the string values inside tool-call arguments.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error answered to the caller in OpenAI's shape. Its text never holds a value."""

    def __init__(self, status: int, message: str, code: str, *,
                 type: str = "invalid_request_error", param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.type, self.param, self.headers = type, param, headers

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), self.status, headers=self.headers)


def error_body(message: str, type: str, code: str | None,
               param: str | None = None) -> dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


TOP_LEVEL = frozenset({
    "model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "stop",
    "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
    "logit_bias", "logprobs", "top_logprobs", "seed", "response_format", "tools",
    "tool_choice", "parallel_tool_calls", "functions", "function_call", "reasoning_effort",
    "service_tier", "user",
})
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_FIELDS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id",
                            "function_call", "refusal"})
DROPPED_TOP = ("user",)
DROPPED_MESSAGE = ("name",)


@dataclass(slots=True)
class TextSlot:
    """A string in the request body: ``holder[key]``."""

    holder: dict[str, Any] | list[Any]
    key: Any

    @property
    def value(self) -> str:
        return str(self.holder[self.key])

    def set(self, text: str) -> None:
        self.holder[self.key] = text


@dataclass(slots=True)
class ImageSlot:
    """An ``image_url`` part: ``holder["url"]`` is a data URL or an http(s) URL."""

    holder: dict[str, Any]
    number: int

    @property
    def url(self) -> str:
        return str(self.holder["url"])


@dataclass(slots=True)
class ChatRequest:
    """A parsed chat request: the body to forward and the slots to protect in it."""

    body: dict[str, Any]
    model: str
    stream: bool
    texts: list[TextSlot] = field(default_factory=list)
    images: list[ImageSlot] = field(default_factory=list)
    finish: list[Callable[[], None]] = field(default_factory=list)
    """Run after the slots are protected: re-serialise tool-call arguments."""


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code, param=param)


def parse_chat(raw: bytes) -> ChatRequest:
    """Parse and check a chat completions body; raise ApiError(400) naming the bad field."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("request body is not valid JSON", code="invalid_json") from None
    try:
        return _chat(body)
    except RecursionError:
        raise _bad("request body is nested too deeply") from None


def _chat(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    unknown = sorted(set(body) - TOP_LEVEL)
    if unknown:
        raise _bad(f"field {unknown[0]!r} is not supported by the privacy gateway", unknown[0],
                   "unsupported_field")
    model = body.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= 256:
        raise _bad("'model' must be a non-empty string", "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array", "messages")
    for name in DROPPED_TOP:
        body.pop(name, None)
    request = ChatRequest(body, model, stream)
    for i, message in enumerate(messages):
        _message(request, message, f"messages[{i}]")
    return request


def _message(request: ChatRequest, message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise _bad(f"{where} must be an object", where)
    role = message.get("role")
    if role not in ROLES:
        raise _bad(f"{where}.role must be one of {', '.join(sorted(ROLES))}", f"{where}.role")
    unknown = sorted(set(message) - MESSAGE_FIELDS)
    if unknown:
        raise _bad(f"{where}.{unknown[0]} is not supported by the privacy gateway",
                   f"{where}.{unknown[0]}", "unsupported_field")
    for name in DROPPED_MESSAGE:
        message.pop(name, None)
    content = message.get("content")
    if isinstance(content, str):
        request.texts.append(TextSlot(message, "content"))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            _part(request, part, f"{where}.content[{j}]")
    elif content is not None:
        raise _bad(f"{where}.content must be a string, an array of parts or null",
                   f"{where}.content")
    if "refusal" in message:
        _string(request, message, "refusal", f"{where}.refusal", nullable=True)
    if "tool_call_id" in message and not isinstance(message["tool_call_id"], str):
        raise _bad(f"{where}.tool_call_id must be a string", f"{where}.tool_call_id")
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise _bad(f"{where}.tool_calls must be an array", f"{where}.tool_calls")
        for k, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict):
                raise _bad(f"{where}.tool_calls[{k}].function must be an object",
                           f"{where}.tool_calls[{k}]")
            _arguments(request, fn, f"{where}.tool_calls[{k}].function")
    if message.get("function_call") is not None:
        fn = message["function_call"]
        if not isinstance(fn, dict):
            raise _bad(f"{where}.function_call must be an object", f"{where}.function_call")
        _arguments(request, fn, f"{where}.function_call")


def _part(request: ChatRequest, part: Any, where: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        _string(request, part, "text", f"{where}.text")
    elif kind == "refusal":
        _string(request, part, "refusal", f"{where}.refusal")
    elif kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, str):  # some clients send the URL directly
            image = part["image_url"] = {"url": image}
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise _bad(f"{where}.image_url.url must be a string", f"{where}.image_url")
        if set(image) - {"url", "detail"}:
            raise _bad(f"{where}.image_url has unsupported fields", f"{where}.image_url",
                       "unsupported_field")
        request.images.append(ImageSlot(image, len(request.images) + 1))
    elif isinstance(kind, str):
        raise _bad(f"{where}: content parts of type {kind[:40]!r} are not supported by the "
                   "privacy gateway", where, "unsupported_content")
    else:
        raise _bad(f"{where} must be an object with a string 'type'", where)


def _string(request: ChatRequest, holder: dict[str, Any], key: str, where: str, *,
            nullable: bool = False) -> None:
    value = holder.get(key)
    if value is None and nullable:
        return
    if not isinstance(value, str):
        raise _bad(f"{where} must be a string", where)
    request.texts.append(TextSlot(holder, key))


def _arguments(request: ChatRequest, fn: dict[str, Any], where: str) -> None:
    """Tool-call arguments: the strings inside the JSON, or the whole text if not JSON."""
    args = fn.get("arguments")
    if args is None:
        return
    if not isinstance(args, str):
        raise _bad(f"{where}.arguments must be a string", f"{where}.arguments")
    try:
        parsed = json.loads(args)
    except (ValueError, RecursionError):
        request.texts.append(TextSlot(fn, "arguments"))
        return
    box = [parsed]
    _leaves(request, box, 0)

    def finish() -> None:
        fn["arguments"] = json.dumps(box[0], ensure_ascii=False)

    request.finish.append(finish)


def _leaves(request: ChatRequest, holder: dict[str, Any] | list[Any], key: Any) -> None:
    value = holder[key]
    if isinstance(value, str):
        request.texts.append(TextSlot(holder, key))
    elif isinstance(value, dict):
        for k in value:
            _leaves(request, value, k)
    elif isinstance(value, list):
        for i in range(len(value)):
            _leaves(request, value, i)
