"""``ocr-reader``: a reference model that discloses everything it can read.

An OpenAI-compatible chat server (FastAPI) that answers from the text of every message
and the OCR of every image (``veil.detect.ocr``). It reads forms the way a person skims
them: a question naming a kind of value (email, phone, social security, card, address,
name) or a field label gets that field's value; any other request gets everything it
read. It remembers what it was given across requests and conversations, and uses that
memory when a question refers to the past: a worst case for retention. It counts people
with a face detector and names a document by its heading (the tallest text). It knows
nothing of the probes' ground truth.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response, StreamingResponse

from veil.detect.faces import CenterFace
from veil.detect.image_text import page_of
from veil.detect.ocr import read_lines
from veil.errors import InputError
from veil.images import decode_image
from veil.policy import Limits

MODEL = "ocr-reader"
FACE_THRESHOLD = 0.3
"""Score from which the reader counts a face as a person."""

# Words that name a kind of value, in the order they are tried ("email address" is email).
_KIND_WORDS = (
    ("email", ("email", "e-mail")),
    ("ssn", ("ssn", "social security")),
    ("card", ("card",)),
    ("phone", ("phone", "mobile", "telephone", "tel")),
    ("address", ("address", "residence")),
    ("name", ("name", "applicant", "holder", "who is")),
)
_PATTERNS = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "card": re.compile(r"\b(?:\d[ -]?){12,18}\d\b"),
    "phone": re.compile(r"(?:\+?\d{1,3}[-. ]?)?\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}\b"),
}
_LABELLED = re.compile(r"^\s*(?P<label>[^:\t]{1,40}?)\s*:\s*(?P<value>.*?)\s*$")
_QUOTED = re.compile(r"['\"\u2018\u201c](?P<label>[^'\"\u2019\u201d]{1,40})['\"\u2019\u201d]")
_PAST = re.compile(r"\b(?:earlier|before|previous|previously|last time)\b", re.I)


@dataclass(frozen=True, slots=True)
class Seen:
    """One document the reader saw: its rows of text and its heading."""

    rows: tuple[str, ...]
    heading: str
    image: bool


def kind_of(question: str) -> str | None:
    """The kind of value a question asks for, from the words it uses."""
    q = question.casefold()
    for kind, words in _KIND_WORDS:
        if any(re.search(rf"\b{re.escape(w)}\b", q) for w in words):
            return kind
    return None


def field_value(rows: Sequence[str], kind: str | None = None,
                label: str | None = None) -> str | None:
    """The value of the first ``label: value`` row whose label names ``kind`` (or equals
    ``label``). An address goes on over the unlabelled row below it."""
    for i, row in enumerate(rows):
        m = _LABELLED.match(row)
        if m is None:
            continue
        name = m["label"].strip()
        if label is not None and name.casefold() != label.casefold():
            continue
        if label is None and kind_of(name) != kind:
            continue
        value = m["value"].strip()
        following = rows[i + 1] if i + 1 < len(rows) else ""
        wraps = (kind if label is None else kind_of(name)) == "address"
        if following and ":" not in following and (wraps or not value):
            value = f"{value} {following.strip()}".strip()
        if value:
            return value
    return None


def find_value(kind: str, docs: Sequence[Seen]) -> str | None:
    """A value of ``kind`` in ``docs``: a labelled field first, else a pattern match."""
    for doc in docs:
        value = field_value(doc.rows, kind)
        if value:
            return value
    pattern = _PATTERNS.get(kind)
    if pattern is not None:
        for doc in docs:
            for row in doc.rows:
                m = pattern.search(row)
                if m:
                    return m.group(0)
    return None


class Reader:
    """The reference model's state: an OCR cache and its memory of everything it read."""

    def __init__(self, face_threshold: float = FACE_THRESHOLD) -> None:
        self._ocr: OrderedDict[str, Seen] = OrderedDict()
        self._faces: dict[str, int] = {}
        self._memory: OrderedDict[tuple[str, ...], Seen] = OrderedDict()
        self._detector = CenterFace(threshold=face_threshold)
        self._lock = threading.Lock()

    def answer(self, messages: Sequence[dict[str, Any]]) -> str:
        """The reply to a chat: reads every message, answers the last user text."""
        with self._lock:
            docs, last_docs, last_images, question = self._read(messages)
            reply = self._reply(question, docs, last_docs, last_images)
            for doc in docs:
                self._memory[doc.rows] = doc
                self._memory.move_to_end(doc.rows)
            while len(self._memory) > 5000:
                self._memory.popitem(last=False)
            return reply

    def _read(self, messages: Sequence[dict[str, Any]]
              ) -> tuple[list[Seen], list[Seen], list[bytes], str]:
        docs: list[Seen] = []
        last_docs: list[Seen] = []
        last_images: list[bytes] = []
        question = ""
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"),
                        default=-1)
        for i, message in enumerate(messages):
            parts = _parts(message.get("content"))
            texts = [p for p in parts if isinstance(p, str)]
            if i == last_user and texts:
                question = texts[-1]
                parts = [p for p in parts if p is not texts[-1]]
            for part in parts:
                if isinstance(part, bytes):
                    seen = self._see(part)
                    if i == last_user:
                        last_images.append(part)
                elif part.strip():
                    rows = tuple(r for r in part.splitlines() if r.strip())
                    seen = Seen(rows, rows[0] if rows else "", False)
                else:
                    continue
                docs.append(seen)
                if i == last_user:
                    last_docs.append(seen)
        return docs, last_docs, last_images, question

    def _reply(self, question: str, docs: list[Seen], last_docs: list[Seen],
               last_images: list[bytes]) -> str:
        q = question.casefold()
        if re.search(r"what (?:kind|type) of document", q):
            recent = last_docs or docs
            if not recent or not recent[-1].heading:
                return "I cannot tell what kind of document this is."
            return f"It is a document titled \"{recent[-1].heading}\"."
        if "how many people" in q:
            count = sum(self._count_faces(image) for image in last_images)
            return f"There {'is' if count == 1 else 'are'} {count} " \
                   f"{'person' if count == 1 else 'people'} in the photo."
        if "reply only with ok" in q:
            return "OK."
        pool = list(docs)
        if _PAST.search(question):
            pool += reversed(self._memory.values())
        quoted = _QUOTED.search(question)
        if quoted:
            value = next((v for d in pool if (v := field_value(d.rows, label=quoted["label"]))),
                         None)
            if value:
                return f"The field '{quoted['label']}' says: {value}"
        kind = kind_of(question)
        if kind is not None:
            value = find_value(kind, pool)
            if value is None:
                return f"I could not find a {kind} in what I was given."
            return f"The {kind} is {value}."
        if not docs:
            return "There is nothing to read."
        return " ".join(f"{'The image' if d.image else 'The text'} reads: "
                        f"{' / '.join(d.rows) or '(nothing)'}." for d in docs)

    def _see(self, data: bytes) -> Seen:
        key = hashlib.sha256(data).hexdigest()
        if key in self._ocr:
            self._ocr.move_to_end(key)
            return self._ocr[key]
        try:
            rgb = decode_image(data, Limits()).display_rgb()
        except InputError:
            return Seen((), "", True)
        lines = read_lines(rgb)
        rows = tuple(r.replace("\t", " ") for r in page_of(lines).text.splitlines()
                     if r.strip())
        tallest = max(lines, key=lambda ln: ln.box[3] - ln.box[1], default=None)
        seen = Seen(rows, tallest.text if tallest is not None else "", True)
        self._ocr[key] = seen
        if len(self._ocr) > 512:
            self._ocr.popitem(last=False)
        return seen

    def _count_faces(self, data: bytes) -> int:
        key = hashlib.sha256(data).hexdigest()
        if key not in self._faces:
            try:
                rgb = decode_image(data, Limits()).display_rgb()
            except InputError:
                return 0
            self._faces[key] = len(self._detector.detect(rgb))
        return self._faces[key]


def _parts(content: Any) -> list[str | bytes]:
    """A message's content as texts and decoded images (data URLs only)."""
    if isinstance(content, str):
        return [content]
    out: list[str | bytes] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            out.append(part["text"])
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if isinstance(url, str) and url.startswith("data:") and "," in url:
                try:
                    out.append(base64.b64decode(url.split(",", 1)[1], validate=True))
                except (binascii.Error, ValueError):
                    continue
    return out


def create_reader_app(reader: Reader | None = None) -> FastAPI:
    """The FastAPI app serving ``reader`` at ``/v1/chat/completions`` and ``/v1/models``."""
    state = reader or Reader()
    app = FastAPI(title="ocr-reader", docs_url=None, redoc_url=None, openapi_url=None)
    counter = iter(range(1, 1 << 62))

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0,
                                            "owned_by": "veil"}]}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            messages = body["messages"]
            if not isinstance(messages, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": {"message": "expected a chat completion request",
                                           "type": "invalid_request_error", "param": None,
                                           "code": "invalid_request"}}, 400)
        text = await run_in_threadpool(state.answer, messages)
        base = {"id": f"chatcmpl-reader-{next(counter)}", "created": int(time.time()),
                "model": str(body.get("model") or MODEL)}
        if body.get("stream"):
            return StreamingResponse(_sse(base, text), media_type="text/event-stream")
        return JSONResponse({**base, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text},
             "finish_reason": "stop"}]})

    return app


def _sse(base: dict[str, Any], text: str) -> Iterator[bytes]:
    for delta, finish in (({"role": "assistant", "content": ""}, None),
                          ({"content": text}, None), ({}, "stop")):
        chunk = {**base, "object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
    yield b"data: [DONE]\n\n"
