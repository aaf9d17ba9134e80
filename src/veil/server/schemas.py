"""OpenAI-shaped errors, and the chat request taken apart into what must be protected.

Only fields the gateway knows how to protect are accepted (fail closed): an unknown
top-level field, message field or content part type is refused with a 400, never
forwarded. Each top-level field is ``FORWARDED`` (no text), ``SCANNED`` or ``DROPPED``
(with a reason). Texts (``TextSlot``, ``KeySlot``) are every string the model reads that
can take a pseudonym: message contents and parts, keys and strings of tool-call arguments,
tool descriptions and parameter schemas, response_format schemas, stop sequences,
predicted output. Names and ids (``FixedSlot``) are checked and never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.responses import JSONResponse

Parsed = TypeVar("Parsed")

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


# --- what the gateway does with each field ------------------------------------------------

FORWARDED = frozenset({
    "stream", "stream_options", "temperature", "top_p", "n", "max_tokens",
    "max_completion_tokens", "presence_penalty", "frequency_penalty", "logit_bias", "seed",
    "parallel_tool_calls", "reasoning_effort", "service_tier", "store", "modalities",
    "verbosity", "audio",
})
"""Passed as written: numbers, flags and choices from a fixed set; no text the model reads
(``logit_bias`` maps token ids to numbers)."""
SCANNED = frozenset({
    "model", "messages", "stop", "response_format", "tools", "tool_choice", "functions",
    "function_call", "prediction", "web_search_options", "prompt_cache_key",
    "safety_identifier",
})
"""Read by the gateway: texts pseudonymised, identifiers checked (see ``FixedSlot``)."""
DROPPED = {
    "user": "an end-user id, often an email; has no protected form",
    "metadata": "tags stored by the provider, never read by the model",
    "logprobs": "answers' log probabilities would show pseudonym pieces",
    "top_logprobs": "see logprobs",
}
"""Removed before forwarding, with the reason."""
TOP_LEVEL = FORWARDED | SCANNED | frozenset(DROPPED)
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
MESSAGE_FIELDS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id",
                            "function_call", "refusal"})
DROPPED_MESSAGE = ("name",)


@dataclass(slots=True)
class TextSlot:
    """A string in the request body that can be rewritten: ``holder[key]``."""

    holder: dict[str, Any] | list[Any]
    key: Any

    @property
    def value(self) -> str:
        return str(self.holder[self.key])

    def set(self, text: str) -> None:
        self.holder[self.key] = text


@dataclass(slots=True)
class KeySlot:
    """A key of a JSON object (tool-call arguments, schemas); ``set`` renames it in place,
    keeping the order of the keys."""

    holder: dict[str, Any]
    key: str
    where: str

    @property
    def value(self) -> str:
        return self.key

    def set(self, text: str) -> None:
        if text == self.key:
            return
        if text in self.holder:
            raise ApiError(400, f"{self.where}: two keys are the same value once "
                                "pseudonymised", "invalid_request", param=self.where)
        items = [(text if k == self.key else k, v) for k, v in self.holder.items()]
        self.holder.clear()
        self.holder.update(items)
        self.key = text


@dataclass(frozen=True, slots=True)
class FixedSlot:
    """A string the model reads that has no room for a pseudonym: the model, names of
    tools and functions (restricted characters), ids. It is checked, never rewritten."""

    where: str
    value: str


Slot = TextSlot | KeySlot


@dataclass(slots=True)
class ImageSlot:
    """An image: ``holder[key]`` is a data URL or an http(s) URL (``image_url.url`` in chat,
    ``image_url`` of an ``input_image`` part in responses)."""

    holder: dict[str, Any]
    number: int
    key: str = "url"

    @property
    def url(self) -> str:
        return str(self.holder[self.key])


@dataclass(slots=True)
class ChatRequest:
    """A parsed chat request: the body to forward and the slots to protect in it."""

    body: dict[str, Any]
    model: str
    stream: bool
    texts: list[Slot] = field(default_factory=list)
    """Rewritable strings, in the order the model reads them."""
    fixed: list[FixedSlot] = field(default_factory=list)
    images: list[ImageSlot] = field(default_factory=list)
    finish: list[Callable[[], None]] = field(default_factory=list)
    """Run after the slots are protected: re-serialise tool-call arguments."""
    json_answer: bool = False
    """The answer's content is JSON (``response_format`` json_object or json_schema)."""


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> ApiError:
    return ApiError(400, message, code, param=param)


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_body(raw: bytes, build: Callable[[dict[str, Any]], Parsed]) -> Parsed:
    """Decode a request body that must be a JSON object of valid Unicode strings (no NaN,
    no Infinity, no lone surrogate) and hand it to ``build``; ApiError(400) otherwise."""
    try:
        body = json.loads(raw, parse_constant=_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("request body is not valid JSON (NaN and Infinity are not JSON)",
                   code="invalid_json") from None
    try:
        if not isinstance(body, dict):
            raise _bad("request body must be a JSON object")
        _check_strings(body, "body")
        return build(body)
    except RecursionError:
        raise _bad("request body is nested too deeply") from None


def text_or_parts(request: ChatRequest, holder: dict[str, Any], where: str,
                  each: Callable[[Any, str], None], noun: str, *,
                  optional: bool = False) -> None:
    """``holder["content"]``: a string the model reads, or an array whose items go to
    ``each`` (item, where); anything else is refused, naming the ``noun`` of the items."""
    content = holder.get("content")
    if isinstance(content, str):
        request.texts.append(TextSlot(holder, "content"))
    elif isinstance(content, list):
        for i, item in enumerate(content):
            each(item, f"{where}.content[{i}]")
    elif content is not None or not optional:
        raise _bad(f"{where}.content must be a string or an array of {noun}",
                   f"{where}.content")


def model_and_stream(body: dict[str, Any], allowed: frozenset[str]) -> tuple[str, bool]:
    """Refuse fields outside ``allowed``; the body's ``model`` and ``stream``, checked."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _bad(f"field {unknown[0]!r} is not supported by the privacy gateway", unknown[0],
                   "unsupported_field")
    model = body.get("model")
    if not isinstance(model, str) or not 0 < len(model) <= 256:
        raise _bad("'model' must be a non-empty string", "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false", "stream")
    return model, stream


def parse_chat(raw: bytes) -> ChatRequest:
    """Parse and check a chat completions body; raise ApiError(400) naming the bad field."""
    return parse_body(raw, _chat)


def _check_strings(value: Any, where: str) -> None:
    """Refuse strings that are not Unicode text (a lone surrogate such as "\\ud800")."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _bad(f"{where}: a string holds a lone surrogate (not valid Unicode)",
                       where, "invalid_json") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k, where)
            _check_strings(v, k if where == "body" and k in TOP_LEVEL else where)
    elif isinstance(value, list):
        for v in value:
            _check_strings(v, where)


def _chat(body: dict[str, Any]) -> ChatRequest:
    model, stream = model_and_stream(body, TOP_LEVEL)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array", "messages")
    for name in DROPPED:
        body.pop(name, None)
    request = ChatRequest(body, model, stream)
    request.fixed.append(FixedSlot("model", model))
    for i, message in enumerate(messages):
        _message(request, message, f"messages[{i}]")
    _options(request, body)
    return request


def _options(request: ChatRequest, body: dict[str, Any]) -> None:
    """The top-level fields besides model and messages that carry text."""
    stop = body.get("stop")
    if isinstance(stop, str):
        request.texts.append(TextSlot(body, "stop"))
    elif isinstance(stop, list):
        for i in range(len(stop)):
            _string(request, stop, i, f"stop[{i}]")
    elif stop is not None:
        raise _bad("'stop' must be a string, an array of strings or null", "stop")
    for name in ("tools", "functions"):
        tools = body.get(name)
        if tools is None:
            continue
        if not isinstance(tools, list):
            raise _bad(f"'{name}' must be an array", name)
        for i, tool in enumerate(tools):
            _tool(request, tool, f"{name}[{i}]", wrapped=name == "tools")
    for name in ("tool_choice", "function_call"):
        if isinstance(body.get(name), dict | list):
            _fixed_leaves(request, body[name], name)
    _response_format(request, body.get("response_format"))
    _prediction(request, body.get("prediction"))
    for name in ("prompt_cache_key", "safety_identifier"):
        if name in body:
            if not isinstance(body[name], str):
                raise _bad(f"'{name}' must be a string", name)
            request.fixed.append(FixedSlot(name, body[name]))
    search = body.get("web_search_options")
    if search is not None:
        if not isinstance(search, dict):
            raise _bad("'web_search_options' must be an object", "web_search_options")
        search.pop("user_location", None)  # where the user is: personal, not rewritable
        _fixed_leaves(request, search, "web_search_options")


def _tool(request: ChatRequest, tool: Any, where: str, *, wrapped: bool) -> None:
    """A tool (``{"type": "function", "function": {...}}``) or a legacy function."""
    if wrapped:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise _bad(f"{where}: only tools of type 'function' are supported by the privacy "
                       "gateway", where, "unsupported_field")
        unknown = sorted(set(tool) - {"type", "function"})
        if unknown:
            raise _bad(f"{where}.{unknown[0]} is not supported by the privacy gateway",
                       f"{where}.{unknown[0]}", "unsupported_field")
        tool, where = tool.get("function"), f"{where}.function"
    function_definition(request, tool, where)


def function_definition(request: ChatRequest, tool: Any, where: str,
                        extra: frozenset[str] = frozenset()) -> None:
    """A function's definition: its name (checked, never rewritten), its description and
    parameter schema (scanned); keys beyond those and ``extra`` are refused."""
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise _bad(f"{where} must be an object with a string 'name'", where)
    unknown = sorted(set(tool) - {"name", "description", "parameters", "strict"} - extra)
    if unknown:
        raise _bad(f"{where}.{unknown[0]} is not supported by the privacy gateway",
                   f"{where}.{unknown[0]}", "unsupported_field")
    request.fixed.append(FixedSlot(f"{where}.name", tool["name"]))
    if "description" in tool:
        _string(request, tool, "description", f"{where}.description", nullable=True)
    if tool.get("parameters") is not None:
        if not isinstance(tool["parameters"], dict):
            raise _bad(f"{where}.parameters must be a JSON schema object",
                       f"{where}.parameters")
        _schema(request, tool["parameters"], f"{where}.parameters")


def _response_format(request: ChatRequest, fmt: Any) -> None:
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise _bad("response_format.type must be text, json_object or json_schema",
                   "response_format")
    request.json_answer = kind != "text"
    if kind != "json_schema":
        return
    schema = fmt.get("json_schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
        raise _bad("response_format.json_schema must be an object with a string 'name'",
                   "response_format.json_schema")
    unknown = sorted(set(schema) - {"name", "description", "schema", "strict"})
    if unknown:
        raise _bad(f"response_format.json_schema.{unknown[0]} is not supported by the "
                   "privacy gateway", f"response_format.json_schema.{unknown[0]}",
                   "unsupported_field")
    request.fixed.append(FixedSlot("response_format.json_schema.name", schema["name"]))
    if "description" in schema:
        _string(request, schema, "description", "response_format.json_schema.description",
                nullable=True)
    if schema.get("schema") is not None:
        if not isinstance(schema["schema"], dict):
            raise _bad("response_format.json_schema.schema must be a JSON schema object",
                       "response_format.json_schema.schema")
        _schema(request, schema["schema"], "response_format.json_schema.schema")


def _prediction(request: ChatRequest, prediction: Any) -> None:
    """Predicted output: text the model reads, so it is scanned like a message."""
    if prediction is None:
        return
    if not isinstance(prediction, dict) or prediction.get("type") != "content":
        raise _bad("prediction must be {'type': 'content', 'content': ...}", "prediction")
    content = prediction.get("content")
    if isinstance(content, str):
        request.texts.append(TextSlot(prediction, "content"))
    elif isinstance(content, list):
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise _bad("prediction.content parts must be text parts",
                           f"prediction.content[{j}]")
            _string(request, part, "text", f"prediction.content[{j}].text")
    else:
        raise _bad("prediction.content must be a string or an array of text parts",
                   "prediction.content")


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
    if "tool_call_id" in message:
        if not isinstance(message["tool_call_id"], str):
            raise _bad(f"{where}.tool_call_id must be a string", f"{where}.tool_call_id")
        request.fixed.append(FixedSlot(f"{where}.tool_call_id", message["tool_call_id"]))
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise _bad(f"{where}.tool_calls must be an array", f"{where}.tool_calls")
        for k, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict):
                raise _bad(f"{where}.tool_calls[{k}].function must be an object",
                           f"{where}.tool_calls[{k}]")
            if isinstance(call.get("id"), str):
                request.fixed.append(FixedSlot(f"{where}.tool_calls[{k}].id", call["id"]))
            _function(request, fn, f"{where}.tool_calls[{k}].function")
    if message.get("function_call") is not None:
        fn = message["function_call"]
        if not isinstance(fn, dict):
            raise _bad(f"{where}.function_call must be an object", f"{where}.function_call")
        _function(request, fn, f"{where}.function_call")


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


def _string(request: ChatRequest, holder: dict[str, Any] | list[Any], key: Any, where: str,
            *, nullable: bool = False) -> None:
    value = holder[key] if isinstance(holder, list) else holder.get(key)
    if value is None and nullable:
        return
    if not isinstance(value, str):
        raise _bad(f"{where} must be a string", where)
    request.texts.append(TextSlot(holder, key))


def _function(request: ChatRequest, fn: dict[str, Any], where: str) -> None:
    """A called function: its name is checked; its arguments are JSON whose keys and string
    values are protected (the whole text if it is not JSON)."""
    if "name" in fn:
        if not isinstance(fn["name"], str):
            raise _bad(f"{where}.name must be a string", f"{where}.name")
        request.fixed.append(FixedSlot(f"{where}.name", fn["name"]))
    args = fn.get("arguments")
    if args is None:
        return
    if not isinstance(args, str):
        raise _bad(f"{where}.arguments must be a string", f"{where}.arguments")
    try:
        parsed = json.loads(args, parse_constant=_constant)
    except (ValueError, RecursionError):
        request.texts.append(TextSlot(fn, "arguments"))
        return
    _check_strings(parsed, f"{where}.arguments")
    box = [parsed]
    _leaves(request, box, 0, f"{where}.arguments")

    def finish() -> None:
        fn["arguments"] = json.dumps(box[0], ensure_ascii=False)

    request.finish.append(finish)


def _leaves(request: ChatRequest, holder: dict[str, Any] | list[Any], key: Any,
            where: str) -> None:
    """Every key and string value of a JSON value, as slots."""
    value = holder[key]
    if isinstance(value, str):
        request.texts.append(TextSlot(holder, key))
    elif isinstance(value, dict):
        for k in list(value):
            request.texts.append(KeySlot(value, k, where))
            _leaves(request, value, k, where)
    elif isinstance(value, list):
        for i in range(len(value)):
            _leaves(request, value, i, where)


SCHEMA_KEYWORDS = frozenset({
    "$schema", "$id", "$ref", "$anchor", "$comment", "$defs", "definitions", "type",
    "properties", "patternProperties", "additionalProperties", "required", "items",
    "prefixItems", "additionalItems", "contains", "enum", "const", "default", "examples",
    "title", "description", "format", "pattern", "anyOf", "oneOf", "allOf", "not", "if",
    "then", "else", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
    "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
    "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contentEncoding",
    "contentMediaType", "readOnly", "writeOnly", "deprecated", "nullable", "strict",
})
"""JSON Schema's own words: kept as they are, so a schema stays a schema."""
_NAMED = frozenset({"properties", "patternProperties", "$defs", "definitions",
                    "dependentSchemas", "dependentRequired"})
"""Keywords whose object keys are names the schema's author chose (property names)."""
_STRUCTURAL = frozenset({"type", "format", "$ref", "$schema", "$id", "$anchor",
                         "contentEncoding", "contentMediaType"})
"""Keywords whose string values belong to the schema's grammar: checked, not rewritten."""


def _schema(request: ChatRequest, schema: dict[str, Any], where: str) -> None:
    """A JSON schema: property names (keys under ``properties`` and the like), strings
    (descriptions, titles, enums, defaults, required names) and unknown keys are
    protected; JSON Schema's keywords and grammar values stay as written."""
    for key in list(schema):
        value = schema[key]
        if key not in SCHEMA_KEYWORDS:
            request.texts.append(KeySlot(schema, key, where))
            _leaves(request, schema, key, where)
        elif key in _STRUCTURAL:
            _fixed_leaves(request, value, f"{where}.{key}")
        elif key in _NAMED and isinstance(value, dict):
            for name in list(value):
                request.texts.append(KeySlot(value, name, f"{where}.{key}"))
                if isinstance(value[name], dict):
                    _schema(request, value[name], f"{where}.{key}")
                else:
                    _leaves(request, value, name, f"{where}.{key}")
        elif isinstance(value, dict):
            _schema(request, value, where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    _schema(request, item, where)
                else:
                    _leaves(request, value, i, where)
        else:
            _leaves(request, schema, key, where)


def _fixed_leaves(request: ChatRequest, value: Any, where: str) -> None:
    """Every string of a JSON value, as fixed slots (checked, never rewritten)."""
    if isinstance(value, str):
        request.fixed.append(FixedSlot(where, value))
    elif isinstance(value, dict):
        for k, v in value.items():
            _fixed_leaves(request, v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _fixed_leaves(request, v, f"{where}[{i}]")


# --- embeddings ---------------------------------------------------------------------------

EMBEDDING_FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


@dataclass(slots=True)
class EmbeddingsRequest:
    """A parsed embeddings request: each input is its own text (embedded on its own)."""

    body: dict[str, Any]
    model: str
    inputs: list[TextSlot] = field(default_factory=list)
    fixed: list[FixedSlot] = field(default_factory=list)


def parse_embeddings(raw: bytes) -> EmbeddingsRequest:
    """Parse and check an embeddings body: ``input`` is a string or an array of strings.
    Token arrays are refused: they are text the gateway cannot read (fail closed)."""
    return parse_body(raw, _embeddings)


def _embeddings(body: dict[str, Any]) -> EmbeddingsRequest:
    model, _ = model_and_stream(body, EMBEDDING_FIELDS)
    body.pop("user", None)
    request = EmbeddingsRequest(body, model, fixed=[FixedSlot("model", model)])
    inputs = body.get("input")
    if isinstance(inputs, str):
        request.inputs.append(TextSlot(body, "input"))
    elif isinstance(inputs, list) and inputs and all(isinstance(i, str) for i in inputs):
        request.inputs.extend(TextSlot(inputs, i) for i in range(len(inputs)))
    elif isinstance(inputs, list) and inputs:
        raise _bad("'input' as token arrays is not supported by the privacy gateway (it "
                   "cannot read them); send strings", "input", "unsupported_input")
    else:
        raise _bad("'input' must be a string or a non-empty array of strings", "input")
    return request
