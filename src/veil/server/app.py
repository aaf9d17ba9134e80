"""The privacy gateway: an OpenAI-compatible proxy that protects requests and restores answers.

``create_app(settings)`` builds a FastAPI app. Per request: the caller's key gives a role;
every text is pseudonymised in one session vault (named by ``X-Veil-Session``, scoped to
the key; else one per request), every image is redacted and sent as a data URL, then the
request goes to the upstream with the gateway's own key. The answer comes back restored for
the kinds the role may see. Any failure to protect blocks the request; one audit record is
written per request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response, StreamingResponse

from veil.audit import AuditError, DatabaseAuditLog, Writer, load_audit_key
from veil.errors import DetectorError, InputError, SessionExpiredError, VaultError, VeilError
from veil.pipeline import Redactor
from veil.policy import Policy
from veil.pseudo.engine import LITERAL, Pseudonymizer, default_detector
from veil.pseudo.vault import Vault
from veil.server import anthropic
from veil.server.audit_writer import AuditBusyError, BoundedAuditLog
from veil.server.auth import Caller, KeyStore, RateLimiter, UpstreamKey
from veil.server.fetch import Fetcher
from veil.server.images import (
    ImageJob,
    ImagePool,
    Name,
    NamesNeeded,
    Redacted,
    RedactorFactory,
)
from veil.server.protect import Findings, Protector, decode_data_url, known_kinds, role_policy
from veil.server.responses import ResponseRestorer, parse_responses, restore_response_sse
from veil.server.schemas import (
    ApiError,
    ChatRequest,
    EmbeddingsRequest,
    FixedSlot,
    KeySlot,
    parse_chat,
    parse_embeddings,
)
from veil.server.settings import Settings, default_audit_path
from veil.server.stream import AnswerRestorer, StreamOutcome, restore_sse, stream_error
from veil.timing import TimeBudgetError

log = logging.getLogger("veil.server")

SESSION_HEADER = "x-veil-session"
_SESSION = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_PURGE_SECONDS = 600.0
CHECKPOINT_SECONDS = 60.0
"""Seconds between the audit log's signed checkpoints (besides every 100 records)."""
AUDIT_WAIT = 2.0
"""Seconds a request waits for the audit log's lock before it is refused (503)."""
T = TypeVar("T")


@dataclass(slots=True)
class Outcome:
    """What one request did, for its audit record. Never a value, a key or an image."""

    endpoint: str
    started: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    caller: Caller | None = None
    session: str | None = None
    model: str | None = None
    stream: bool = False
    status: int = 200
    error: str | None = None
    upstream_status: int | None = None
    findings: Findings | None = None
    restorable: int = 0
    protect_ms: float | None = None
    upstream_ms: float | None = None

    def fail(self, exc: ApiError) -> None:
        self.status, self.error = exc.status, exc.code

    def record(self) -> dict[str, Any]:
        f = self.findings
        return {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request": self.request_id,
            "endpoint": self.endpoint,
            "key": self.caller.name if self.caller else None,
            "role": self.caller.role_name if self.caller else None,
            "session": _session_hash(self.session) if self.session else None,
            "model": self.model,
            "stream": self.stream,
            "status": self.status,
            "error": self.error,
            "upstream_status": self.upstream_status,
            "images": f.images if f else 0,
            "found": dict(sorted(f.found.items())) if f else {},
            "operators": dict(sorted(f.operators.items())) if f else {},
            "metadata_removed": sorted(f.metadata_removed) if f else [],
            "restorable": self.restorable,
            "ms": {"protect": _ms(self.protect_ms), "upstream": _ms(self.upstream_ms),
                   "total": _ms((time.perf_counter() - self.started) * 1000)},
        }


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _session_hash(session: str) -> str:
    return hashlib.sha256(b"veil audit session\0" + session.encode("utf-8")).hexdigest()[:32]


class Gateway:
    """What the requests of one app share: models, image workers, vault, HTTP clients,
    limits, audit log."""

    def __init__(self, settings: Settings, *, redactor: RedactorFactory = Redactor,
                 vault: Vault | None = None) -> None:
        self.settings = settings
        policy = settings.policy
        self._own_vault = vault is None
        self.vault = vault if vault is not None else Vault(settings.vault_path)
        self.limiter: RateLimiter | None = None
        try:
            detector = self.text_detector = default_detector(policy)
            kinds = known_kinds(redactor(policy))  # the detectors' kinds; no model loads
            self.roles: dict[str, Pseudonymizer] = {}
            policies: dict[str, Policy] = {}
            for name, role in policy.roles.items():
                narrowed = policies[name] = role_policy(policy, role, kinds)
                self.roles[name] = Pseudonymizer(self.vault, detector, policy=narrowed)
            self.images = ImagePool(policy, policies,
                                    policy.server.image_workers or os.cpu_count() or 1,
                                    redactor)
            self.keys = KeyStore(policy)
            self.limiter = RateLimiter(self.vault.store)
            self.audit = self._audit_log()
        except BaseException:
            self.close()
            raise
        self.ready = False
        self.failure: str | None = None
        self._upstream: httpx.AsyncClient | None = None
        self._fetcher: Fetcher | None = None

    def _audit_log(self) -> Writer:
        """The audit log: the file of the settings, else the vault's shared database (its
        key from $VEIL_AUDIT_KEY or $VEIL_AUDIT_KEY_FILE), else the default file."""
        path = self.settings.audit_path
        if path is None and self.vault.store.shared:
            return DatabaseAuditLog(self.vault.store, key=load_audit_key(None))
        return BoundedAuditLog(path or default_audit_path(), fsync=self.settings.audit_fsync)

    # --- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        server = self.settings.policy.server
        headers = {"Accept": "application/json"}
        key = self.settings.upstream_api_key
        self._upstream = httpx.AsyncClient(
            base_url=self.settings.upstream, headers=headers,
            auth=UpstreamKey(key) if key else None,
            timeout=httpx.Timeout(server.upstream_timeout, connect=min(10.0,
                                                                      server.upstream_timeout)),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self._fetcher = Fetcher(server)

    async def warm_up(self) -> None:
        """Load every model (text NER here, faces and OCR in each image worker) so that
        /readyz means ready."""
        def load() -> None:
            self.text_detector.scan("Warm-up: Jane Roe lives in Paris.")
        try:
            await asyncio.gather(run_in_threadpool(load), self.images.start())
        except Exception as exc:
            self.failure = str(exc) if isinstance(exc, VeilError) else type(exc).__name__
            log.error("veil gateway: models failed to load: %s", self.failure)
            return
        self.ready = True

    async def purge(self) -> None:
        """Drop the mappings of expired sessions now and then."""
        while True:
            await anyio.sleep(_PURGE_SECONDS)
            with contextlib.suppress(VaultError):
                await run_in_threadpool(self.vault.purge_expired)

    async def checkpoints(self) -> None:
        """Sign the audit log's last record now and then, so that a cut tail shows."""
        while True:
            await anyio.sleep(CHECKPOINT_SECONDS)
            try:
                await run_in_threadpool(self.audit.checkpoint)
            except AuditError as exc:
                log.error("veil gateway: audit checkpoint failed: %s", exc)

    async def vault_health(self) -> str | None:
        """None when the vault's database answers, else why not (for /readyz)."""
        try:
            await run_in_threadpool(self.vault.check)
        except VaultError as exc:
            return f"vault: {exc}"
        return None

    async def authorise(self, caller: Caller) -> Caller:
        """The caller once its rate limit (shared by the replicas) lets it through."""
        if self.limiter is not None and self.limiter.limited(caller):
            try:
                await run_in_threadpool(self.limiter.check, caller)
            except VaultError as exc:
                log.error("veil gateway: %s", exc)
                raise ApiError(503, "the vault is unavailable; request refused, retry later",
                               "vault_unavailable", type="server_error") from None
        return caller

    async def stop(self) -> None:
        for client in (self._upstream, self._fetcher):
            if client is not None:
                await client.aclose()
        await self.images.close()
        self.close()

    def close(self) -> None:
        if hasattr(self, "audit"):
            self.audit.close()
        if self.limiter is not None:
            self.limiter.close()
        if self._own_vault:
            self.vault.close()

    @property
    def upstream(self) -> httpx.AsyncClient:
        if self._upstream is None:
            raise ApiError(503, "the gateway is not started", "not_ready", type="server_error")
        return self._upstream

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            raise ApiError(503, "the gateway is not started", "not_ready", type="server_error")
        return self._fetcher

    # --- requests -----------------------------------------------------------------------

    async def write_audit(self, outcome: Outcome) -> None:
        """Append the request's record from a worker thread, waiting at most
        ``AUDIT_WAIT`` seconds for the log's lock: the event loop never waits on it."""
        record = outcome.record()
        try:
            await anyio.to_thread.run_sync(
                functools.partial(self.audit.append_within, record, AUDIT_WAIT))
        except AuditBusyError as exc:
            log.error("veil gateway: %s", exc)
            raise ApiError(503, "the audit log is busy; request refused, retry later",
                           "audit_unavailable", type="server_error",
                           headers={"Retry-After": "2"}) from None
        except AuditError as exc:
            log.error("veil gateway: %s", exc)
            raise ApiError(500, "the audit log cannot be written; request refused",
                           "audit_unavailable", type="server_error") from None

    async def read_body(self, request: Request) -> bytes:
        limit = self.settings.policy.server.max_body_bytes
        too_big = ApiError(413, f"request body is above the limit of {limit} bytes",
                           "request_too_large")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise too_big
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_big
        return bytes(body)

    async def protect(self, chat: ChatRequest, caller: Caller, session: str,
                      outcome: Outcome) -> AnswerRestorer:
        """Protect ``chat`` in place; the restorer for its answer."""
        server = self.settings.policy.server
        if chat.images and not caller.role.images:
            raise ApiError(403, f"role {caller.role_name!r} may not send images",
                           "images_not_allowed", type="permission_error")
        if len(chat.images) > server.max_images:
            raise ApiError(400, f"request has {len(chat.images)} images, above the limit of "
                                f"{server.max_images}", "too_many_images")
        start = time.perf_counter()
        fetched = await self._fetch_all(chat)
        images = [data if data is not None else decode_data_url(slot.url, slot.number)
                  for slot, data in zip(chat.images, fetched, strict=True)]
        pseudonymizer = self.roles[caller.role_name]
        protector = Protector(pseudonymizer, session)
        outcome.findings = protector.findings

        def work() -> None:
            protected = protector.texts([t.value for t in chat.texts])
            self._check_fixed(protector, chat.fixed, chat.model, outcome)
            # keys last: renaming a key must not move the values set by key
            for text_slot, text in sorted(zip(chat.texts, protected, strict=True),
                                          key=lambda pair: isinstance(pair[0], KeySlot)):
                text_slot.set(text)
            for finish in chat.finish:
                finish()

        try:
            # the texts in a thread while the image workers redact every image at once
            async with asyncio.TaskGroup() as group:
                texts = group.create_task(self._run_protection(work))
                redacting = [group.create_task(self._image(
                    ImageJob(data, caller.role_name), slot.number, pseudonymizer, session,
                    texts)) for slot, data in zip(chat.images, images, strict=True)]
            for slot, task in zip(chat.images, redacting, strict=True):
                redacted = task.result()
                protector.count_image(redacted.report)
                slot.holder[slot.key] = (f"data:{redacted.mime};base64,"
                                         f"{base64.b64encode(redacted.data).decode()}")
            if protector.findings.operators.get("replace"):
                await self._run_protection(protector.add_image_pseudonyms)
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None
        finally:
            outcome.protect_ms = (time.perf_counter() - start) * 1000
        role = caller.role
        originals = {p: o for p, (o, entity) in protector.originals.items()
                     if entity == LITERAL or role.restores(f"text.{entity}")}
        outcome.restorable = len(originals)
        return AnswerRestorer(originals, json_content=chat.json_answer)

    async def _image(self, job: ImageJob, number: int, pseudonymizer: Pseudonymizer,
                     session: str, texts: asyncio.Task[None]) -> Redacted:
        """One image redacted by the workers. Text that ``replace`` writes over gets the
        session's pseudonyms, named here (the vault lives in this process) once the
        prompt's own values are named, then the image is redacted again with them."""
        redacted = await self._redact_image(job, number)
        if isinstance(redacted, NamesNeeded):
            await texts
            values = redacted.values
            names = await self._run_protection(lambda: tuple(
                Name(entity, value, pseudonymizer.pseudonym_for(entity, value, session))
                for entity, value in values))
            redacted = await self._redact_image(replace(job, names=names), number)
        if isinstance(redacted, NamesNeeded):  # read differently the second time
            raise ApiError(500, f"image {number}: its text could not be pseudonymised; the "
                                "request was not sent", "detector_failed", type="server_error")
        return redacted

    async def _redact_image(self, job: ImageJob, number: int) -> Redacted | NamesNeeded:
        """The workers' answer for one image; failures become ApiErrors (fail closed)."""
        try:
            return await self.images.redact(job)
        except TimeBudgetError:
            seconds = self.settings.policy.limits.image_seconds
            raise ApiError(422, f"image {number} could not be protected within its time "
                                f"budget ({seconds:g} s); the request was not sent",
                           "image_timeout") from None
        except InputError as exc:
            raise ApiError(400, f"image {number}: {exc}", "invalid_image") from None
        except DetectorError as exc:
            raise ApiError(500, f"{exc}; the request was not sent", "detector_failed",
                           type="server_error") from None
        except Exception as exc:  # any other failure blocks the request (fail closed)
            log.error("veil gateway: image protection failed (%s)", type(exc).__name__)
            raise ApiError(500, f"protection failed ({type(exc).__name__}); the request was "
                                "not sent", "protection_failed", type="server_error") from None

    async def _run_protection(self, work: Callable[[], T]) -> T:
        """Run protection ``work`` in a worker thread; its failures become ApiErrors."""
        try:
            return await run_in_threadpool(work)
        except ApiError:
            raise
        except DetectorError as exc:
            raise ApiError(500, f"{exc}; the request was not sent", "detector_failed",
                           type="server_error") from None
        except SessionExpiredError:
            raise ApiError(400, "the session has expired; start a new X-Veil-Session",
                           "session_expired") from None
        except VaultError as exc:
            log.error("veil gateway: %s", exc)  # names the file; the caller is not told it
            raise ApiError(503, "the pseudonym vault is unavailable; the request was not sent",
                           "vault_unavailable", type="server_error") from None
        except InputError as exc:
            raise ApiError(400, str(exc), "invalid_input") from None
        except Exception as exc:  # any other failure blocks the request (fail closed)
            log.error("veil gateway: protection failed (%s)", type(exc).__name__)
            raise ApiError(500, f"protection failed ({type(exc).__name__}); the request was "
                                "not sent", "protection_failed", type="server_error") from None

    async def protect_embeddings(self, request: EmbeddingsRequest, caller: Caller,
                                 session: str, outcome: Outcome) -> None:
        """Pseudonymise each input on its own (they are embedded one by one), in place."""
        protector = Protector(self.roles[caller.role_name], session)
        outcome.findings = protector.findings
        start = time.perf_counter()

        def work() -> None:
            protected = [protector.texts([slot.value])[0] for slot in request.inputs]
            self._check_fixed(protector, request.fixed, request.model, outcome)
            for slot, text in zip(request.inputs, protected, strict=True):
                slot.set(text)

        try:
            await self._run_protection(work)
        finally:
            outcome.protect_ms = (time.perf_counter() - start) * 1000

    async def check_model(self, model: str, caller: Caller, outcome: Outcome) -> None:
        """Refuse (or, by policy, let through) a model id holding a personal value."""
        protector = Protector(self.roles[caller.role_name], "")
        await self._run_protection(
            lambda: self._check_fixed(protector, [FixedSlot("model", model)], model, outcome))

    def _check_fixed(self, protector: Protector, fixed: list[FixedSlot], model: str,
                     outcome: Outcome) -> None:
        """Check the fields that cannot be rewritten; refuse by policy (in a thread)."""
        flagged = protector.flagged(fixed)
        # the model's name goes to the audit log only if it holds no personal value
        if not any(slot.where == "model" for slot, _ in flagged):
            outcome.model = model
        if flagged and self.settings.policy.server.identifier_values == "refuse":
            slot, entity = flagged[0]
            raise ApiError(400, f"{slot.where} holds a personal value ({entity}) and "
                                "cannot be pseudonymised; the request was not sent",
                           "personal_value_in_field", param=slot.where)

    async def _fetch_all(self, chat: ChatRequest) -> list[bytes | None]:
        remote = [s for s in chat.images if not s.url.startswith("data:")]
        if not remote:
            return [None] * len(chat.images)
        results: dict[int, bytes] = {}

        async def one(number: int, url: str) -> None:
            results[number], _ = await self.fetcher.fetch(url, number)

        try:
            async with anyio.create_task_group() as group:
                for slot in remote:
                    group.start_soon(one, slot.number, slot.url)
        except BaseExceptionGroup as group_error:
            raise _first(group_error) from None
        return [results.get(s.number) for s in chat.images]

    def upstream_failure(self, exc: httpx.HTTPError) -> ApiError:
        if isinstance(exc, httpx.TimeoutException):
            return ApiError(504, "the model did not answer in time", "upstream_timeout",
                            type="upstream_error")
        return ApiError(502, f"the model cannot be reached ({type(exc).__name__})",
                        "upstream_unreachable", type="upstream_error")

    def upstream_status(self, status: int, body: bytes) -> ApiError | JSONResponse:
        """The caller's answer to a non-200 upstream status: its own 4xx error is passed
        on (it holds pseudonyms at most), a 5xx or anything else becomes a 502."""
        if 400 <= status < 500:
            with contextlib.suppress(ValueError):
                data = httpx.Response(status, content=body).json()
                if isinstance(data, dict) and isinstance(data.get("error"), dict):
                    return JSONResponse(data, status)
            return ApiError(status, f"the model refused the request (HTTP {status})",
                            "upstream_refused", type="upstream_error")
        return ApiError(502, f"the model answered HTTP {status}", "upstream_error",
                        type="upstream_error")


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group (an ApiError if there is one)."""
    errors: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending[:0] = error.exceptions
        else:
            errors.append(error)
    return next((e for e in errors if isinstance(e, ApiError)), errors[0])


def _session(request: Request, caller: Caller) -> str:
    """The vault session: the caller's key and role, then the named or a fresh session."""
    name = request.headers.get(SESSION_HEADER)
    if name is None:
        name = f"request:{uuid.uuid4().hex}"
    elif not _SESSION.fullmatch(name):
        raise ApiError(400, "X-Veil-Session must be 1-128 characters of letters, digits and "
                            "._:@/+=-", "invalid_session", param="X-Veil-Session")
    return f"{caller.name}\0{caller.role_name}\0{name}"


def create_app(settings: Settings, *, redactor: RedactorFactory = Redactor,
               vault: Vault | None = None) -> FastAPI:
    """The gateway app. ``redactor`` builds each image worker's redactor from the policy
    (a picklable name: workers are separate processes); ``vault`` defaults to one built
    from ``settings`` (the app closes only what it built). Models load in the background
    after start-up (images in ``server.image_workers`` processes); ``/readyz`` answers 200
    once they have."""
    gateway = Gateway(settings, redactor=redactor, vault=vault)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        tasks = [asyncio.create_task(gateway.warm_up()), asyncio.create_task(gateway.purge()),
                 asyncio.create_task(gateway.checkpoints())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await gateway.stop()

    app = FastAPI(title="Veil privacy gateway", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    app.state.gateway = gateway

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, str(exc.detail), code).response()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        vault = await gateway.vault_health()
        if gateway.ready and vault is None:
            return JSONResponse({"status": "ready", "vault": "ok"})
        reason = vault or gateway.failure or "models are loading"
        return JSONResponse({"status": "not ready", "reason": reason}, 503)

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        outcome = Outcome("/v1/models")
        return await _guarded(gateway, outcome, lambda: _models(gateway, request, outcome))

    @app.get("/v1/models/{model_id:path}")
    async def model(request: Request, model_id: str) -> Response:
        outcome = Outcome("/v1/models/{id}")
        return await _guarded(gateway, outcome,
                              lambda: _model(gateway, request, model_id, outcome))

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        outcome = Outcome("/v1/embeddings")
        return await _guarded(gateway, outcome, lambda: _embeddings(gateway, request, outcome))

    @app.post("/v1/responses")
    async def responses(request: Request) -> Response:
        outcome = Outcome("/v1/responses")
        return await _guarded(gateway, outcome, lambda: _responses(gateway, request, outcome))

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        outcome = Outcome("/v1/chat/completions")
        return await _guarded(gateway, outcome, lambda: _chat(gateway, request, outcome))

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        outcome = Outcome("/v1/messages")
        return await _guarded(gateway, outcome,
                              lambda: anthropic.messages(gateway, request, outcome),
                              errors=anthropic.error_response)

    return app


async def _guarded(gateway: Gateway, outcome: Outcome,
                   handler: Callable[[], Awaitable[Response]], *,
                   errors: Callable[[ApiError], Response] = ApiError.response) -> Response:
    """Run a handler; errors become answers shaped by ``errors`` (OpenAI's shape by
    default); write the audit record (a stream writes its own when it ends)."""
    try:
        response = await handler()
    except ApiError as exc:
        outcome.fail(exc)
        response = errors(exc)
    except Exception as exc:
        log.error("veil gateway: unexpected %s", type(exc).__name__)
        error = ApiError(500, "internal error in the privacy gateway", "internal_error",
                         type="server_error")
        outcome.fail(error)
        response = errors(error)
    if isinstance(response, StreamingResponse):
        return response
    try:
        await gateway.write_audit(outcome)
    except ApiError as exc:
        return errors(exc)
    return response


async def _authorise(gateway: Gateway, request: Request, outcome: Outcome) -> Caller:
    caller = gateway.keys.caller(request.headers.get("authorization"))
    outcome.caller = caller
    return await gateway.authorise(caller)


async def _models(gateway: Gateway, request: Request, outcome: Outcome) -> Response:
    await _authorise(gateway, request, outcome)
    answer = await _upstream(gateway, outcome, lambda: gateway.upstream.get("/models"))
    if isinstance(answer, Response):
        return answer
    data = _json_object(answer, "model list")
    return JSONResponse(data)


async def _model(gateway: Gateway, request: Request, model_id: str,
                 outcome: Outcome) -> Response:
    """One model's description, passed through once its id is checked like a request's
    ``model`` (the id goes into the upstream's URL path)."""
    caller = await _authorise(gateway, request, outcome)
    _require_ready(gateway)
    if not 0 < len(model_id) <= 256:
        raise ApiError(400, "the model id must be 1 to 256 characters", "invalid_request",
                       param="model")
    await gateway.check_model(model_id, caller, outcome)
    path = "/models/" + quote(model_id, safe="")
    answer = await _upstream(gateway, outcome, lambda: gateway.upstream.get(path))
    if isinstance(answer, Response):
        return answer
    return JSONResponse(_json_object(answer, "model description"))


async def _embeddings(gateway: Gateway, request: Request, outcome: Outcome) -> Response:
    """Embeddings of pseudonymised inputs; the vectors come back as the model gave them."""
    caller = await _authorise(gateway, request, outcome)
    _require_ready(gateway)
    body = parse_embeddings(await gateway.read_body(request))
    session = outcome.session = _session(request, caller)
    await gateway.protect_embeddings(body, caller, session, outcome)
    answer = await _upstream(gateway, outcome,
                             lambda: gateway.upstream.post("/embeddings", json=body.body))
    if isinstance(answer, Response):
        return answer
    data = _json_object(answer, "embeddings")
    if not isinstance(data.get("data"), list):
        raise ApiError(502, "the model's embeddings are malformed", "upstream_malformed",
                       type="upstream_error")
    return JSONResponse(data)


def _require_ready(gateway: Gateway) -> None:
    if not gateway.ready:
        reason = gateway.failure or "models are still loading"
        raise ApiError(503, f"the gateway is not ready ({reason})", "not_ready",
                       type="server_error", headers={"Retry-After": "5"})


async def _upstream(gateway: Gateway, outcome: Outcome,
                    call: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response | Response:
    """Call the model; a transport failure raises, a refusal (non-200) is the answer to
    pass back; else the model's 200 response."""
    start = time.perf_counter()
    try:
        answer = await call()
    except httpx.HTTPError as exc:
        raise gateway.upstream_failure(exc) from None
    finally:
        outcome.upstream_ms = (time.perf_counter() - start) * 1000
    outcome.upstream_status = answer.status_code
    if answer.status_code == 200:
        return answer
    failure = gateway.upstream_status(answer.status_code, answer.content)
    if isinstance(failure, ApiError):
        raise failure
    outcome.status, outcome.error = failure.status_code, "upstream_refused"
    return failure


def _json_object(answer: httpx.Response, what: str) -> dict[str, Any]:
    """The model's JSON object answer; 502 if it is not one."""
    try:
        data = answer.json()
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # lone surrogates: not text
    except (ValueError, UnicodeEncodeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ApiError(502, f"the model's {what} is malformed", "upstream_malformed",
                       type="upstream_error")
    return data


async def _chat(gateway: Gateway, request: Request, outcome: Outcome) -> Response:
    caller = await _authorise(gateway, request, outcome)
    _require_ready(gateway)
    chat = parse_chat(await gateway.read_body(request))
    outcome.stream = chat.stream
    session = outcome.session = _session(request, caller)
    restorer = await gateway.protect(chat, caller, session, outcome)
    if chat.stream:
        return await _stream(gateway, "/chat/completions", chat,
                             lambda lines, state: restore_sse(lines, restorer.stream(), state),
                             outcome)
    answer = await _upstream(gateway, outcome,
                             lambda: gateway.upstream.post("/chat/completions", json=chat.body))
    if isinstance(answer, Response):
        return answer
    data = _json_object(answer, "answer")
    if not isinstance(data.get("choices"), list):
        raise ApiError(502, "the model's answer is malformed", "upstream_malformed",
                       type="upstream_error")
    restorer.completion(data)
    return JSONResponse(data)


async def _responses(gateway: Gateway, request: Request, outcome: Outcome) -> Response:
    """The Responses API: protected like a chat request, answers restored item by item."""
    caller = await _authorise(gateway, request, outcome)
    _require_ready(gateway)
    body = parse_responses(await gateway.read_body(request))
    outcome.stream = body.stream
    session = outcome.session = _session(request, caller)
    restorer = ResponseRestorer(await gateway.protect(body, caller, session, outcome))
    if body.stream:
        return await _stream(gateway, "/responses", body,
                             lambda lines, state: restore_response_sse(lines, restorer, state),
                             outcome)
    answer = await _upstream(gateway, outcome,
                             lambda: gateway.upstream.post("/responses", json=body.body))
    if isinstance(answer, Response):
        return answer
    data = _json_object(answer, "response")
    restorer.response(data)
    return JSONResponse(data)


Restore = Callable[[AsyncIterator[str], StreamOutcome], AsyncIterator[bytes]]


async def _stream(gateway: Gateway, path: str, chat: ChatRequest, restore: Restore,
                  outcome: Outcome, *, headers: dict[str, str] | None = None,
                  error: Callable[[str, str], bytes] = stream_error) -> Response:
    """Stream the upstream's answer through ``restore``; ``headers`` go upstream, ``error``
    makes the event that ends a broken stream."""
    start = time.perf_counter()
    request = gateway.upstream.build_request("POST", path, json=chat.body,
                                             headers={"Accept": "text/event-stream",
                                                      **(headers or {})})
    try:
        answer = await gateway.upstream.send(request, stream=True)
    except httpx.HTTPError as exc:
        outcome.upstream_ms = (time.perf_counter() - start) * 1000
        raise gateway.upstream_failure(exc) from None
    outcome.upstream_status = answer.status_code
    if answer.status_code != 200:
        try:
            body = await answer.aread()
        except httpx.HTTPError as exc:
            raise gateway.upstream_failure(exc) from None
        finally:
            await answer.aclose()
            outcome.upstream_ms = (time.perf_counter() - start) * 1000
        failure = gateway.upstream_status(answer.status_code, body)
        if isinstance(failure, ApiError):
            raise failure
        outcome.status, outcome.error = failure.status_code, "upstream_refused"
        return failure
    state = StreamOutcome()

    async def events() -> AsyncIterator[bytes]:
        try:
            async for event in restore(answer.aiter_lines(), state):
                yield event
        except httpx.TimeoutException:
            state.error = "upstream_timeout"
            yield error("the model stopped sending in time", state.error)
        except httpx.HTTPError as exc:
            state.error = "upstream_stream_cut"
            yield error(f"the model's stream broke off ({type(exc).__name__})",
                        state.error)
        except Exception as exc:  # never a traceback (which could quote a value) in a log
            log.error("veil gateway: unexpected %s in a stream", type(exc).__name__)
            state.error = "internal_error"
            yield error("internal error in the privacy gateway", state.error)
        finally:
            await answer.aclose()
            outcome.upstream_ms = (time.perf_counter() - start) * 1000
            if not state.done and state.error is None:
                state.error = "client_disconnected"
            outcome.error = state.error
            with anyio.CancelScope(shield=True), contextlib.suppress(ApiError):
                await gateway.write_audit(outcome)  # a client gone still gets its record

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
