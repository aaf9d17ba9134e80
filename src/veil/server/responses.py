"""The OpenAI Responses API (``POST /v1/responses``): requests taken apart like chat
requests, answers and their event streams restored.

Accepted: ``input`` as a string or as items (messages with ``input_text``,
``output_text``, ``refusal`` and ``input_image`` parts; ``function_call``,
``function_call_output``, ``reasoning`` summaries, ``item_reference``), ``instructions``,
function tools, ``text.format`` (JSON schemas), and the usual numbers and flags.
Built-in tools, files, ``prompt`` templates and anything unknown are refused (fail
closed). Answers: output text, refusals, function-call arguments and reasoning summaries
are restored (arguments and JSON output JSON-escaped); ``logprobs`` are removed. Streams
end with ``response.completed`` (or another final event); one cut short gets an
``error`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from veil.pseudo.restore import Restorer, StreamRestorer
from veil.server.schemas import (
    ChatRequest,
    FixedSlot,
    ImageSlot,
    TextSlot,
    _bad,
    _fixed_leaves,
    _function,
    _schema,
    _string,
    function_definition,
    model_and_stream,
    parse_body,
    text_or_parts,
)
from veil.server.stream import (
    AnswerRestorer,
    StreamOutcome,
    event_index,
    restore_named_sse,
)

FORWARDED = frozenset({
    "stream", "temperature", "top_p", "max_output_tokens", "max_tool_calls",
    "parallel_tool_calls", "reasoning", "truncation", "service_tier", "store", "background",
    "include",
})
SCANNED = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "text", "previous_response_id",
    "conversation", "prompt_cache_key", "safety_identifier",
})
DROPPED = {"user": "an end-user id", "metadata": "tags the provider stores",
           "top_logprobs": "log probabilities show pieces of pseudonyms"}
TOP_LEVEL = FORWARDED | SCANNED | frozenset(DROPPED)
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_FINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})


def parse_responses(raw: bytes) -> ChatRequest:
    """Parse and check a Responses API body; raise ApiError(400) naming the bad field."""
    return parse_body(raw, _request)


def _request(body: dict[str, Any]) -> ChatRequest:
    model, stream = model_and_stream(body, TOP_LEVEL)
    for name in DROPPED:
        body.pop(name, None)
    include = body.get("include")
    if isinstance(include, list):  # log probabilities of the output: see DROPPED
        body["include"] = [i for i in include if "logprobs" not in str(i)]
    request = ChatRequest(body, model, stream, fixed=[FixedSlot("model", model)])
    if "instructions" in body:
        _string(request, body, "instructions", "instructions", nullable=True)
    items = body.get("input")
    if isinstance(items, str):
        request.texts.append(TextSlot(body, "input"))
    elif isinstance(items, list) and items:
        for i, item in enumerate(items):
            _item(request, item, f"input[{i}]")
    else:
        raise _bad("'input' must be a string or a non-empty array of items", "input")
    for name in ("previous_response_id", "conversation", "prompt_cache_key",
                 "safety_identifier", "tool_choice"):
        if body.get(name) is not None:
            _fixed_leaves(request, body[name], name)
    _tools(request, body.get("tools"))
    _text_format(request, body.get("text"))
    return request


def _item(request: ChatRequest, item: Any, where: str) -> None:
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object", where)
    kind = item.get("type", "message")
    if kind == "message":
        if item.get("role") not in _ROLES:
            raise _bad(f"{where}.role must be one of {', '.join(sorted(_ROLES))}",
                       f"{where}.role")
        _only(item, {"type", "role", "content", "id", "status"}, where)
        _fixed_ids(request, item, where)
        text_or_parts(request, item, where, lambda part, at: _part(request, part, at), "parts")
    elif kind == "function_call":
        _only(item, {"type", "call_id", "name", "arguments", "id", "status"}, where)
        _fixed_ids(request, item, where)
        _function(request, item, where)
    elif kind == "function_call_output":
        _only(item, {"type", "call_id", "output", "id", "status"}, where)
        _fixed_ids(request, item, where)
        _string(request, item, "output", f"{where}.output")
    elif kind == "reasoning":
        _only(item, {"type", "id", "summary", "encrypted_content", "status"}, where)
        _fixed_ids(request, item, where)
        for k, part in enumerate(item.get("summary") or []):
            if not isinstance(part, dict) or part.get("type") != "summary_text":
                raise _bad(f"{where}.summary[{k}] must be a summary_text part",
                           f"{where}.summary[{k}]")
            _string(request, part, "text", f"{where}.summary[{k}].text")
    elif kind == "item_reference":
        _only(item, {"type", "id"}, where)
        _fixed_ids(request, item, where)
    else:
        raise _bad(f"{where}: items of type {str(kind)[:40]!r} are not supported by the "
                   "privacy gateway", where, "unsupported_content")


def _part(request: ChatRequest, part: Any, where: str) -> None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text"):
        _only(part, {"type", "text", "annotations", "logprobs"}, where)
        part.pop("logprobs", None)
        if part.get("annotations"):  # citations carry titles and URLs the model read
            raise _bad(f"{where}.annotations are not supported by the privacy gateway",
                       f"{where}.annotations", "unsupported_field")
        _string(request, part, "text", f"{where}.text")
    elif kind == "refusal":
        _only(part, {"type", "refusal"}, where)
        _string(request, part, "refusal", f"{where}.refusal")
    elif kind == "input_image":
        _only(part, {"type", "image_url", "detail"}, where)
        if not isinstance(part.get("image_url"), str):
            raise _bad(f"{where}.image_url must be a string (file ids are not supported)",
                       f"{where}.image_url")
        request.images.append(ImageSlot(part, len(request.images) + 1, "image_url"))
    else:
        raise _bad(f"{where}: content parts of type {str(kind)[:40]!r} are not supported by "
                   "the privacy gateway", where, "unsupported_content")


def _only(holder: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(holder) - allowed)
    if unknown:
        raise _bad(f"{where}.{unknown[0]} is not supported by the privacy gateway",
                   f"{where}.{unknown[0]}", "unsupported_field")


def _fixed_ids(request: ChatRequest, item: dict[str, Any], where: str) -> None:
    for name in ("id", "call_id"):
        if isinstance(item.get(name), str):
            request.fixed.append(FixedSlot(f"{where}.{name}", item[name]))


def _tools(request: ChatRequest, tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _bad("'tools' must be an array", "tools")
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise _bad(f"{where}: only tools of type 'function' are supported by the privacy "
                       "gateway", where, "unsupported_field")
        function_definition(request, tool, where, frozenset({"type"}))


def _text_format(request: ChatRequest, text: Any) -> None:
    if text is None:
        return
    if not isinstance(text, dict):
        raise _bad("'text' must be an object", "text")
    _only(text, {"format", "verbosity"}, "text")
    fmt = text.get("format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise _bad("text.format.type must be text, json_object or json_schema", "text.format")
    request.json_answer = kind != "text"
    if kind != "json_schema":
        return
    _only(fmt, {"type", "name", "description", "schema", "strict"}, "text.format")
    if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
        raise _bad("text.format needs a string 'name' and an object 'schema'", "text.format")
    request.fixed.append(FixedSlot("text.format.name", fmt["name"]))
    if "description" in fmt:
        _string(request, fmt, "description", "text.format.description", nullable=True)
    _schema(request, fmt["schema"], "text.format.schema")


# --- answers --------------------------------------------------------------------------------

class ResponseRestorer:
    """Restores Responses API answers: whole ``response`` objects and stream events."""

    def __init__(self, answer: AnswerRestorer) -> None:
        self.active = answer.active
        self._text, self._json, self._content = answer.restorers()
        self._open: dict[tuple[str, int, int], StreamRestorer] = {}

    def response(self, body: dict[str, Any]) -> None:
        """Restore a ``response`` object's output items in place."""
        for item in body.get("output") or []:
            if isinstance(item, dict):
                self.item(item)

    def item(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict):
                    self.part(part)
        elif kind == "function_call" and isinstance(item.get("arguments"), str):
            item["arguments"] = self._restore(self._json, item["arguments"])
        elif kind == "reasoning":
            for part in item.get("summary") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    part["text"] = self._restore(self._text, part["text"])

    def part(self, part: dict[str, Any]) -> None:
        if part.get("logprobs") is not None:
            part["logprobs"] = []
        if isinstance(part.get("text"), str):
            restorer = self._content if part.get("type") == "output_text" else self._text
            part["text"] = self._restore(restorer, part["text"])
        if isinstance(part.get("refusal"), str):
            part["refusal"] = self._restore(self._text, part["refusal"])

    def tail(self) -> list[dict[str, Any]]:
        """Nothing: held-back text is sent with the ``*.done`` event that closes it."""
        return []

    def event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The events to send for one upstream event: the event restored, preceded by a
        delta with held-back text when a ``*.done`` event closes it."""
        kind = str(event.get("type", ""))
        if "logprobs" in event:
            event["logprobs"] = []
        out: list[dict[str, Any]] = []
        if isinstance(event.get("response"), dict):
            self.response(event["response"])
        if isinstance(event.get("item"), dict):
            self.item(event["item"])
        if isinstance(event.get("part"), dict):
            self.part(event["part"])
        stream = _STREAMS.get(kind.rsplit(".", 1)[0])
        if stream is not None:
            name, field = stream
            key = (name, event_index(event.get("output_index")),
                   event_index(event.get("content_index", event.get("summary_index"))))
            if kind.endswith(".delta") and isinstance(event.get("delta"), str):
                event["delta"] = self._feed(key, event["delta"])
            elif kind.endswith(".done"):
                held = self._open.pop(key, None)
                rest = held.flush() if held is not None else ""
                if rest:
                    out.append({**{k: v for k, v in event.items() if k != field},
                                "type": kind.removesuffix(".done") + ".delta", "delta": rest})
                if isinstance(event.get(field), str):
                    event[field] = self._restore(self._restorer(name), event[field])
        out.append(event)
        return out

    def _restorer(self, name: str) -> Restorer:
        return {"text": self._content, "json": self._json}.get(name, self._text)

    def _feed(self, key: tuple[str, int, int], text: str) -> str:
        if not self.active:
            return text
        stream = self._open.get(key)
        if stream is None:
            stream = self._open[key] = StreamRestorer(self._restorer(key[0]))
        return stream.feed(text)

    def _restore(self, restorer: Restorer, text: str) -> str:
        return restorer.restore(text) if self.active else text


_STREAMS = {
    "response.output_text": ("text", "text"),
    "response.refusal": ("refusal", "refusal"),
    "response.function_call_arguments": ("json", "arguments"),
    "response.reasoning_summary_text": ("summary", "text"),
}
"""Delta events by family: (restorer, the field of the family's ``.done`` event)."""


def restore_response_sse(lines: AsyncIterator[str], restorer: ResponseRestorer,
                         outcome: StreamOutcome) -> AsyncIterator[bytes]:
    """Upstream Responses SSE in, restored SSE out; complete at a final ``response.*``."""
    return restore_named_sse(lines, restorer, outcome, _FINAL)
