"""Putting originals back into the model's answer: whole, or as a stream of SSE chunks.

Streams are restored chunk by chunk: each chunk is passed on at once, holding back only the
end of a text that could still become a pseudonym (``StreamRestorer``); the held text is
sent with the choice's final chunk. Originals are escaped for where they land: tool-call
arguments, and the content of an answer asked for as JSON (``response_format``), are JSON,
so a restored quote, backslash or newline is JSON-escaped and valid JSON stays valid.
``logprobs`` are removed from every answer: their tokens are pieces of pseudonyms
("<PE", "RSO") that cannot be restored one by one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from veil.pseudo.restore import Restorer, StreamRestorer
from veil.server.schemas import error_body

_TEXT_FIELDS = ("content", "refusal")
_StreamKey = tuple[int, str, int]  # (choice index, field, tool call index)


class AnswerRestorer:
    """Restores answers with a map pseudonym -> original (empty: answers pass unchanged).
    ``json_content``: the answer's content is JSON, so originals in it are JSON-escaped."""

    def __init__(self, originals: Mapping[str, str], *, json_content: bool = False) -> None:
        self.active = bool(originals)
        self._text = Restorer(originals)
        self._json = Restorer({p: json.dumps(o, ensure_ascii=False)[1:-1]
                               for p, o in originals.items()})
        self._content = self._json if json_content else self._text

    def completion(self, body: dict[str, Any]) -> None:
        """Restore a ``chat.completion`` in place; drop its log probabilities."""
        for choice in body.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            if choice.get("logprobs") is not None:
                choice["logprobs"] = None
            message = choice.get("message")
            if not self.active or not isinstance(message, dict):
                continue
            if isinstance(message.get("content"), str):
                message["content"] = self._content.restore(message["content"])
            if isinstance(message.get("refusal"), str):
                message["refusal"] = self._text.restore(message["refusal"])
            for fn in _functions(message):
                fn["arguments"] = self._json.restore(fn["arguments"])

    def restorers(self) -> tuple[Restorer, Restorer, Restorer]:
        """(plain text, JSON-escaped, the answer's content) restorers."""
        return self._text, self._json, self._content

    def stream(self) -> ChunkRestorer:
        return ChunkRestorer(self._text, self._json, active=self.active,
                             content=self._content)


def _functions(holder: dict[str, Any]) -> list[dict[str, Any]]:
    """The function objects with string arguments in a message or delta."""
    found = []
    for call in holder.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
            found.append(fn)
    fn = holder.get("function_call")
    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
        found.append(fn)
    return found


class ChunkRestorer:
    """Restores ``chat.completion.chunk`` objects one after another."""

    def __init__(self, text: Restorer, arguments: Restorer, *, active: bool = True,
                 content: Restorer | None = None) -> None:
        self._active = active
        self._restorers = {"refusal": text, "content": content or text, "json": arguments}
        self._open: dict[_StreamKey, StreamRestorer] = {}
        self._last: dict[str, Any] = {}

    def chunk(self, data: dict[str, Any]) -> None:
        """Restore one chunk in place; a choice's final chunk also gets its held-back text.
        Log probabilities are dropped."""
        self._last = data
        for choice in data.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            if choice.get("logprobs") is not None:
                choice["logprobs"] = None
            if not self._active:
                continue
            index = choice.get("index", 0)
            index = index if isinstance(index, int) else 0
            delta = choice.get("delta")
            if isinstance(delta, dict):
                for name in _TEXT_FIELDS:
                    if isinstance(delta.get(name), str):
                        delta[name] = self._feed((index, name, 0), delta[name], name)
                for number, call in enumerate(delta.get("tool_calls") or []):
                    fn = call.get("function") if isinstance(call, dict) else None
                    if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                        k = call.get("index", number)
                        fn["arguments"] = self._feed((index, "tool", k if isinstance(k, int)
                                                      else number), fn["arguments"], "json")
                fn = delta.get("function_call")
                if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                    fn["arguments"] = self._feed((index, "function", 0), fn["arguments"], "json")
            if choice.get("finish_reason") is not None:
                self._flush(index, choice)

    def tail(self) -> dict[str, Any] | None:
        """A last chunk with whatever is still held back, or None."""
        indexes = sorted({key[0] for key in self._open})
        if not indexes:
            return None
        choices: list[dict[str, Any]] = []
        for index in indexes:
            choice: dict[str, Any] = {"index": index, "delta": {}, "finish_reason": None}
            self._flush(index, choice)
            if choice["delta"]:
                choices.append(choice)
        if not choices:
            return None
        base: dict[str, Any] = {k: self._last[k] for k in ("id", "object", "created", "model")
                                if k in self._last}
        return {**base, "choices": choices}

    def _feed(self, key: _StreamKey, text: str, kind: str) -> str:
        stream = self._open.get(key)
        if stream is None:
            stream = self._open[key] = StreamRestorer(self._restorers[kind])
        return stream.feed(text)

    def _flush(self, index: int, choice: dict[str, Any]) -> None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = choice["delta"] = {}
        for key in sorted(k for k in self._open if k[0] == index):
            rest = self._open.pop(key).flush()
            if not rest:
                continue
            _, name, k = key
            if name in _TEXT_FIELDS:
                delta[name] = (delta.get(name) or "") + rest
            elif name == "function":
                fn = delta.setdefault("function_call", {})
                fn["arguments"] = (fn.get("arguments") or "") + rest
            else:
                calls = delta.setdefault("tool_calls", [])
                call = next((c for c in calls if c.get("index") == k), None)
                if call is None:
                    call = {"index": k, "function": {}}
                    calls.append(call)
                fn = call.setdefault("function", {})
                fn["arguments"] = (fn.get("arguments") or "") + rest


@dataclass(slots=True)
class StreamOutcome:
    """How a stream ended, for the audit log: ``error`` is an error code or None."""

    done: bool = False
    error: str | None = None
    chunks: int = 0


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n\n"


DONE = b"data: [DONE]\n\n"


async def restore_sse(lines: AsyncIterator[str], restorer: ChunkRestorer,
                      outcome: StreamOutcome) -> AsyncIterator[bytes]:
    """Upstream SSE lines in, restored SSE events out. A malformed chunk ends the stream
    with an error event (nothing unrestored is passed on); so does a stream that stops
    before ``[DONE]``. Errors raised by ``lines`` propagate to the caller."""
    async for event in sse_data(lines):
        if event.strip() == "[DONE]":
            last = restorer.tail()
            if last is not None:
                yield sse(last)
            outcome.done = True
            yield DONE
            return
        try:
            chunk = json.loads(event)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict):
            outcome.error = "upstream_malformed"
            yield stream_error("the model sent a malformed stream chunk", outcome.error)
            return
        if "error" in chunk:  # the upstream's own error event: pass it on and stop
            outcome.error = "upstream_error"
            yield sse(chunk)
            return
        restorer.chunk(chunk)
        outcome.chunks += 1
        yield sse(chunk)
    last = restorer.tail()
    if last is not None:
        yield sse(last)
    outcome.error = "upstream_stream_cut"
    yield stream_error("the model's stream ended before it was complete", outcome.error)


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """The data of each server-sent event (its ``data:`` lines joined), from the stream's
    lines; other fields (``event:``, comments) are left out."""
    data: list[str] = []
    async for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield "\n".join(data)
            data.clear()
    if data:
        yield "\n".join(data)


def stream_error(message: str, code: str) -> bytes:
    """An error event in OpenAI's shape, as streaming clients expect it."""
    return sse(error_body(message, "upstream_error", code))


class EventRestorer(Protocol):
    """Restores a stream of named events (Responses API, Anthropic Messages)."""

    def event(self, event: dict[str, Any]) -> Sequence[dict[str, Any]]:
        """The events to send for one upstream event."""
        ...

    def tail(self) -> Sequence[dict[str, Any]]:
        """Events carrying text still held back, for a stream that stops early."""
        ...


def event_index(value: Any) -> int:
    """An event's index field, 0 when it is missing or not an integer."""
    return value if isinstance(value, int) else 0


def named_sse(event: dict[str, Any]) -> bytes:
    """One server-sent event named after the event's ``type``."""
    name = str(event.get("type", "message"))
    return (f"event: {name}\n".encode() + b"data: "
            + json.dumps(event, ensure_ascii=False).encode("utf-8") + b"\n\n")


async def restore_named_sse(lines: AsyncIterator[str], restorer: EventRestorer,
                            outcome: StreamOutcome, final: frozenset[str],
                            error: Callable[[str, str], bytes] = stream_error,
                            ) -> AsyncIterator[bytes]:
    """Upstream named-event SSE in, restored SSE out (``event:`` names kept). A malformed
    event ends the stream with an ``error`` event; so does a stream that ends before an
    event of a ``final`` type (after the text still held back). Errors raised by ``lines``
    propagate to the caller, after the text still held back."""
    try:
        async for raw in sse_data(lines):
            try:
                event = json.loads(raw)
            except ValueError:
                event = None
            if not isinstance(event, dict):
                outcome.error = "upstream_malformed"
                yield error("the model sent a malformed stream event", outcome.error)
                return
            for out in restorer.event(event):
                outcome.chunks += 1
                yield named_sse(out)
            kind = event.get("type")
            if kind == "error":
                outcome.error = "upstream_error"
                return
            if kind in final:
                outcome.done = True
                return
    except Exception:
        for held in restorer.tail():
            yield named_sse(held)
        raise
    for held in restorer.tail():
        yield named_sse(held)
    outcome.error = "upstream_stream_cut"
    yield error("the model's stream ended before it was complete", outcome.error)
