"""Callers: API keys (stored as SHA-256) to roles, and per-key token-bucket rate limits
shared by every replica on one vault."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import httpx

from veil.policy import ApiKey, Policy, Role
from veil.server.schemas import ApiError
from veil.store import MEMORY, Migration, Store, Tx, open_store


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's name (never the key), its role's name and the role."""

    name: str
    role_name: str
    role: Role
    key: ApiKey | None = None


def hash_key(key: str) -> str:
    """The SHA-256 hex of an API key, as the policy stores it."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Finds the caller of a request from its ``Authorization: Bearer`` header."""

    def __init__(self, policy: Policy) -> None:
        self._keys = {k.sha256: k for k in policy.keys}
        self._roles = dict(policy.roles)
        anonymous = policy.server.anonymous_role
        self._anonymous = (Caller("anonymous", anonymous, self._roles[anonymous])
                           if anonymous is not None else None)

    def caller(self, authorization: str | None, api_key: str | None = None) -> Caller:
        """The caller, or ApiError(401) if the key is missing or unknown. ``api_key`` is an
        ``x-api-key`` header (Anthropic's clients send the key so); sent with an
        Authorization header too, both must hold the same key."""
        secret = (api_key or "").strip()
        if authorization:
            scheme, _, bearer = authorization.partition(" ")
            bearer = bearer.strip()
            if scheme.lower() != "bearer" or not bearer:
                raise _unauthorized("malformed Authorization header: expected 'Bearer <key>'")
            if secret and not hmac.compare_digest(hash_key(secret), hash_key(bearer)):
                raise _unauthorized("x-api-key and Authorization hold different keys")
            secret = bearer
        if not secret:
            if self._anonymous is not None:
                return self._anonymous
            raise _unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        digest = hash_key(secret)
        key = self._keys.get(digest)
        if key is None or not hmac.compare_digest(key.sha256, digest):
            raise _unauthorized("incorrect API key")
        return Caller(key.name, key.role, self._roles[key.role], key)


class UpstreamKey(httpx.Auth):
    """The gateway's own key on each upstream request: as ``x-api-key`` on requests in
    Anthropic's protocol (they carry ``anthropic-version``), else as a Bearer token."""

    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if "anthropic-version" in request.headers:
            request.headers["x-api-key"] = self._key
        else:
            request.headers["Authorization"] = f"Bearer {self._key}"
        yield request


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


RATE_MIGRATIONS: tuple[Migration, ...] = (
    ("CREATE TABLE rate_buckets (name TEXT PRIMARY KEY, tokens {real} NOT NULL,"
     " stamp {real} NOT NULL)",),
)


class RateLimiter:
    """A token bucket per key: ``rate_per_minute`` refill, ``burst`` capacity.

    The buckets live in a store: the vault's database in the gateway, so that replicas on
    one PostgreSQL vault share their limits (one row per key, taken under its row lock in
    one short transaction; no other service to run, and the gateway already depends on
    that database for every request). Refills are timed by the wall clock, which replicas
    share through NTP. Blocking: the gateway calls it from a worker thread.
    """

    def __init__(self, store: Store | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._own = store is None
        self._store = store if store is not None else open_store(MEMORY)
        self._store.migrate("rate", RATE_MIGRATIONS)

    def limited(self, caller: Caller) -> bool:
        """True when the caller's key has a rate limit (``check`` then reads the store)."""
        return caller.key is not None and caller.key.rate_per_minute is not None

    def check(self, caller: Caller) -> None:
        """Take one token for the caller's key, or raise ApiError(429) with Retry-After."""
        key = caller.key
        if key is None or key.rate_per_minute is None:
            return
        rate = key.rate_per_minute / 60.0
        capacity = float(key.burst if key.burst is not None else max(1.0, key.rate_per_minute))
        now = self._clock()

        def take(tx: Tx) -> float:
            tx.run("INSERT INTO rate_buckets VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                   (key.name, capacity, now))
            row = tx.one(f"SELECT tokens, stamp FROM rate_buckets WHERE name = ?"
                         f"{self._store.dialect.lock}", (key.name,))
            tokens, last = row if row is not None else (capacity, now)
            tokens = min(capacity, tokens + max(0.0, now - last) * rate)
            tx.run("UPDATE rate_buckets SET tokens = ?, stamp = ? WHERE name = ?",
                   (tokens - 1.0 if tokens >= 1.0 else tokens, now, key.name))
            return float(tokens)

        tokens = self._store.atomic(take)
        if tokens < 1.0:
            wait = math.ceil((1.0 - tokens) / rate)
            raise ApiError(429, f"rate limit of {key.rate_per_minute:g} requests per minute "
                                f"reached for key {key.name!r}; retry in {wait} s",
                           "rate_limit_exceeded", type="rate_limit_error",
                           headers={"Retry-After": str(wait)})

    def close(self) -> None:
        if self._own:
            self._store.close()
