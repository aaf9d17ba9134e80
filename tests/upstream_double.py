"""Test doubles: a real HTTP server standing in for the model, and a runner for the gateway.

``UpstreamDouble`` listens on 127.0.0.1 (random port) in a thread and records exactly what
it received. It answers chat completions, the Responses API and Anthropic's Messages API
(``/v1/messages``) from a queue of ``Script``s (default: echo the last user text back), as
JSON or as an SSE stream (chunked transfer), and can answer 500, hang, send garbage or cut
a stream. It also serves files and redirects, for image URLs.
"""

from __future__ import annotations

import base64
import json
import struct
import sys
import threading
import urllib.parse
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from veil.eval.serving import serve


@dataclass
class Script:
    """One scripted answer. ``text`` None: echo the last user text as received."""

    text: str | None = None
    chunks: list[str] | None = None
    """For streams: the content pieces, in order (default: the text in 3-character pieces)."""
    status: int = 200
    body: bytes | None = None
    """Raw body to send instead of a completion (errors, garbage)."""
    hang: float = 0.0
    """Seconds to wait before answering."""
    cut_after: int | None = None
    """For streams: drop the connection after this many chunks, without [DONE]."""
    gate_after: int | None = None
    gate: threading.Event = field(default_factory=threading.Event)
    """For streams: after ``gate_after`` chunks, wait until ``gate`` is set."""
    sent: threading.Event = field(default_factory=threading.Event)
    """Set when the chunks before the gate have been sent."""
    tool_arguments: str | None = None
    """Answer with one tool call carrying these arguments."""
    events: list[str] | None = None
    """For streams: the raw data of each SSE event, sent as they are, then [DONE]."""
    logprobs: bool = False
    """Answer with log probabilities: one entry per 3 characters (per chunk in streams)."""
    stop_sequence: str | None = None
    """Messages API: the answer stopped at this stop sequence."""


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class UpstreamDouble:
    """A stand-in for an OpenAI-compatible model server, for tests. Use as a context manager."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripts: deque[Script] = deque()
        self.files: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> UpstreamDouble:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def script(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
        self.scripts.clear()

    @property
    def chats(self) -> list[dict[str, Any]]:
        """The chat completion bodies received, in order."""
        return [r.json() for r in self.received if r.path.endswith("/chat/completions")]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The Messages API bodies received, in order."""
        return [r.json() for r in self.received if r.path.endswith("/messages")]

    def record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def next_script(self) -> Script:
        try:
            return self.scripts.popleft()
        except IndexError:
            return Script()


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p["text"] for p in content or [] if p.get("type") == "text")
    return ""


class _Server(ThreadingHTTPServer):
    """The double's server: a client hanging up mid-answer (the gateway stopping a stream,
    a test timing out) is no error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _handler(double: UpstreamDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _receive(self) -> Received:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            received = Received(self.command, self.path, dict(self.headers.items()), body)
            double.record(received)
            return received

        def _send(self, status: int, body: bytes, ctype: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._receive()
            path = self.path.split("?", 1)[0]
            if path == "/v1/models":
                body = {"object": "list", "data": [{"id": "double-1", "object": "model",
                                                    "created": 0, "owned_by": "tests"}]}
                self._send(200, json.dumps(body).encode())
            elif path.startswith("/v1/models/"):
                model = urllib.parse.unquote(path.removeprefix("/v1/models/"))
                body = {"id": model, "object": "model", "created": 0, "owned_by": "tests"}
                self._send(200, json.dumps(body).encode())
            elif path in double.redirects:
                self._send(302, b"", "text/plain", {"Location": double.redirects[path]})
            elif path in double.files:
                data, ctype = double.files[path]
                self._send(200, data, ctype)
            else:
                self._send(404, b'{"error": {"message": "no such path"}}')

        def do_POST(self) -> None:
            received = self._receive()
            if received.path.endswith("/embeddings"):
                self._embeddings(received.json())
                return
            if received.path.endswith("/responses"):
                self._responses(received.json(), double.next_script())
                return
            script = double.next_script()
            if script.hang:
                double.stopping.wait(script.hang)
            if script.body is not None or script.status != 200:
                self._send(script.status, script.body or b'{"error": {"message": "scripted"}}')
                return
            if received.path.endswith("/messages"):
                self._messages(received.json(), script)
                return
            request = received.json()
            text = script.text if script.text is not None else last_user_text(request)
            model = request.get("model", "double-1")
            if request.get("stream"):
                self._stream(script, text, model)
            else:
                message: dict[str, Any] = {"role": "assistant", "content": text}
                if script.tool_arguments is not None:
                    message["tool_calls"] = [{"id": "call_1", "type": "function", "function": {
                        "name": "send", "arguments": script.tool_arguments}}]
                choice: dict[str, Any] = {"index": 0, "message": message,
                                          "finish_reason": "stop"}
                if script.logprobs:
                    choice["logprobs"] = _logprobs(
                        [text[i : i + 3] for i in range(0, len(text), 3)])
                body = {"id": "chatcmpl-double", "object": "chat.completion", "created": 0,
                        "model": model, "choices": [choice]}
                self._send(200, json.dumps(body).encode())

        def _embeddings(self, request: dict[str, Any]) -> None:
            """One 3-number vector per input (its length, word count, digit count)."""
            inputs = request["input"] if isinstance(request["input"], list) else [
                request["input"]]
            data = []
            for i, text in enumerate(inputs):
                vector = [float(len(text)), float(len(text.split())),
                          float(sum(c.isdigit() for c in text))]
                packed: Any = vector
                if request.get("encoding_format") == "base64":
                    packed = base64.b64encode(struct.pack("<3f", *vector)).decode()
                data.append({"object": "embedding", "index": i, "embedding": packed})
            body = {"object": "list", "data": data, "model": request["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1}}
            self._send(200, json.dumps(body).encode())

        def _responses(self, request: dict[str, Any], script: Script) -> None:
            """A Responses API answer: one message (and a function call if scripted)."""
            text = script.text if script.text is not None else _last_input(request)
            if script.chunks is not None:
                text = "".join(script.chunks)
            part = {"type": "output_text", "text": text, "annotations": []}
            if script.logprobs:
                part["logprobs"] = [{"token": text[:3], "logprob": -0.5}]
            message = {"type": "message", "id": "msg_1", "role": "assistant",
                       "status": "completed", "content": [part]}
            output: list[dict[str, Any]] = [message]
            if script.tool_arguments is not None:
                output.append({"type": "function_call", "id": "fc_1", "call_id": "call_1",
                               "name": "send", "arguments": script.tool_arguments})
            response = {"id": "resp_1", "object": "response", "status": "completed",
                        "model": request.get("model"), "output": output}
            if not request.get("stream"):
                self._send(200, json.dumps(response).encode())
                return
            pieces = script.chunks if script.chunks is not None else [
                text[i : i + 3] for i in range(0, len(text), 3)]
            events: list[dict[str, Any]] = [
                {"type": "response.created", "response": {**response, "status": "in_progress",
                                                          "output": []}},
                {"type": "response.output_item.added", "output_index": 0,
                 "item": {**message, "content": []}},
                {"type": "response.content_part.added", "output_index": 0,
                 "content_index": 0, "part": {**part, "text": ""}}]
            events += [{"type": "response.output_text.delta", "output_index": 0,
                        "content_index": 0, "item_id": "msg_1", "delta": p} for p in pieces]
            events += [{"type": "response.output_text.done", "output_index": 0,
                        "content_index": 0, "item_id": "msg_1", "text": "".join(pieces)},
                       {"type": "response.output_item.done", "output_index": 0,
                        "item": message},
                       {"type": "response.completed", "response": response}]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n, event in enumerate(events):
                if script.cut_after is not None and n >= script.cut_after:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._chunk(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            self._chunk(b"")

        def _messages(self, request: dict[str, Any], script: Script) -> None:
            """A Messages API answer: one text block (and a tool_use block if scripted),
            whole or as Anthropic's stream events."""
            text = script.text if script.text is not None else _last_message_text(request)
            if script.chunks is not None:
                text = "".join(script.chunks)
            blocks: list[dict[str, Any]] = [{"type": "text", "text": text}]
            if script.tool_arguments is not None:
                blocks.append({"type": "tool_use", "id": "toolu_1", "name": "send",
                               "input": json.loads(script.tool_arguments)})
            stop = ("stop_sequence" if script.stop_sequence is not None else
                    "tool_use" if script.tool_arguments is not None else "end_turn")
            message = {"id": "msg_double", "type": "message", "role": "assistant",
                       "model": request.get("model"), "content": blocks, "stop_reason": stop,
                       "stop_sequence": script.stop_sequence,
                       "usage": {"input_tokens": 1, "output_tokens": 1}}
            if not request.get("stream"):
                self._send(200, json.dumps(message).encode())
                return
            pieces = script.chunks if script.chunks is not None else [
                text[i : i + 3] for i in range(0, len(text), 3)]
            events: list[dict[str, Any]] = [
                {"type": "message_start", "message": {
                    **message, "content": [], "stop_reason": None, "stop_sequence": None}},
                {"type": "content_block_start", "index": 0,
                 "content_block": {"type": "text", "text": ""}},
                {"type": "ping"}]
            events += [{"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": p}} for p in pieces]
            events.append({"type": "content_block_stop", "index": 0})
            if script.tool_arguments is not None:
                arguments = script.tool_arguments
                events.append({"type": "content_block_start", "index": 1, "content_block": {
                    "type": "tool_use", "id": "toolu_1", "name": "send", "input": {}}})
                events += [{"type": "content_block_delta", "index": 1, "delta": {
                    "type": "input_json_delta", "partial_json": arguments[i : i + 5]}}
                    for i in range(0, len(arguments), 5)]
                events.append({"type": "content_block_stop", "index": 1})
            events += [{"type": "message_delta", "delta": {
                "stop_reason": stop, "stop_sequence": script.stop_sequence},
                "usage": {"output_tokens": 1}}, {"type": "message_stop"}]
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for n, event in enumerate(events):
                if script.cut_after is not None and n >= script.cut_after:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._chunk(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            self._chunk(b"")

        def _stream(self, script: Script, text: str, model: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = script.chunks if script.chunks is not None else [
                text[i : i + 3] for i in range(0, len(text), 3)]
            base = {"id": "chatcmpl-double", "object": "chat.completion.chunk", "created": 0,
                    "model": model}
            events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                  "content": ""},
                                            "finish_reason": None}]}]
            events += [{**base, "choices": [{"index": 0, "delta": {"content": p},
                                             "finish_reason": None}]} for p in pieces]
            if script.logprobs:
                for event, piece in zip(events[1:], pieces, strict=True):
                    event["choices"][0]["logprobs"] = _logprobs([piece])
            events.append({**base, "choices": [{"index": 0, "delta": {},
                                                "finish_reason": "stop"}]})
            raw = ([e.encode() for e in script.events] if script.events is not None
                   else [json.dumps(e).encode() for e in events])
            for n, event in enumerate(raw):
                if script.cut_after is not None and n >= script.cut_after:
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # mid-stream: no last chunk, no [DONE]
                    return
                if script.gate_after is not None and n == script.gate_after:
                    script.sent.set()
                    script.gate.wait(10)
                self._chunk(b"data: " + event + b"\n\n")
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    return Handler


def _last_input(request: dict[str, Any]) -> str:
    items = request.get("input")
    if isinstance(items, str):
        return items
    for item in reversed(items or []):
        if item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, str):
                return content
            return " ".join(p["text"] for p in content if p.get("type") == "input_text")
    return ""


def _last_message_text(request: dict[str, Any]) -> str:
    """The last user text of a Messages API request (its text blocks joined)."""
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return " ".join(b["text"] for b in content if b.get("type") == "text")
    return ""


def _logprobs(tokens: list[str]) -> dict[str, Any]:
    return {"content": [{"token": t, "logprob": -0.5, "bytes": list(t.encode()),
                         "top_logprobs": []} for t in tokens]}


@contextmanager
def run_app(app: Any, *, ready: bool = True, timeout: float = 60.0) -> Iterator[str]:
    """Serve an ASGI app with real uvicorn on 127.0.0.1 (random port) in a thread; yields
    its base URL. With ``ready``, waits until ``/readyz`` answers 200."""
    with serve(app, ready_path="/readyz" if ready else None, timeout=timeout) as url:
        yield url
