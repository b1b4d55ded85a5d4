"""API keys: ``Authorization: Bearer <key>``, stored as SHA-256 hashes, carrying scopes.

The contracts service issues keys and publishes ``apikey.issued`` (hash only); every other
service keeps a replica of the hashes through :data:`REPLICA_HANDLERS`. The key named by
``BURNRATE_BOOTSTRAP_API_KEY`` is accepted as an admin key (development and tests).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import ApiKeyIssued, ApiKeyRevoked, Envelope, EventType
from burnrate_common.handling import EventHandlers

SCOPES = frozenset(
    {
        "admin",
        "contracts:read",
        "contracts:write",
        "worklogs:read",
        "worklogs:write",
        "rules:read",
        "rules:write",
        "notifications:read",
        "notifications:write",
        "reports:read",
        "tickets:read",
        "tickets:write",
        "billing:read",
        "billing:write",
    }
)


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID | None
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def new_key() -> str:
    return "br_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are 256 random bits, so a plain SHA-256 is safe to store (no need for a slow KDF).
    return hashlib.sha256(key.encode()).hexdigest()


async def upsert_key(
    conn: Connection, key_id: uuid.UUID, name: str, key_hash: str, scopes: list[str]
) -> None:
    await conn.execute(
        """INSERT INTO api_keys (id, name, key_hash, scopes) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name, scopes = excluded.scopes""",
        key_id,
        name,
        key_hash,
        scopes,
    )


async def revoke_key(conn: Connection, key_id: uuid.UUID) -> bool:
    status: str = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return status.endswith(" 1")


#: The replica of the API keys every service but contracts keeps (contracts issues them).
REPLICA_HANDLERS: EventHandlers[None] = EventHandlers()


@REPLICA_HANDLERS.on(EventType.APIKEY_ISSUED)
async def _on_issued(_: None, conn: Connection, __: Envelope, payload: ApiKeyIssued) -> None:
    await upsert_key(conn, payload.id, payload.name, payload.key_hash, payload.scopes)


@REPLICA_HANDLERS.on(EventType.APIKEY_REVOKED)
async def _on_revoked(_: None, conn: Connection, __: Envelope, payload: ApiKeyRevoked) -> None:
    await revoke_key(conn, payload.id)


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
#: Marks a FastAPI dependency that authenticates (``guards`` authenticates such routes first).
AUTHENTICATES = "__burnrate_authenticates__"
#: Where the request's authenticated principal is kept (``request.state``).
PRINCIPAL_STATE = "burnrate_principal"


class FailureLimiter:
    """Failed authentications per client address in the last minute; past the limit the
    client gets 429 with ``Retry-After`` until its oldest failure is a minute old. Kept in
    memory per process (at most ``max_clients`` addresses, the least recent dropped)."""

    WINDOW_SECONDS = 60.0

    def __init__(self, per_minute: int, max_clients: int = 10_000) -> None:
        self._per_minute = per_minute
        self._max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client, deque())
        while times and now - times[0] >= self.WINDOW_SECONDS:
            times.popleft()
        return times

    def retry_after(self, client: str) -> int | None:
        now = time.monotonic()
        times = self._recent(client, now)
        if len(times) < self._per_minute:
            return None
        return max(1, math.ceil(self.WINDOW_SECONDS - (now - times[0])))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        times = self._recent(client, now)
        times.append(now)
        self._failures[client] = times
        self._failures.move_to_end(client)
        while len(self._failures) > self._max_clients:
            self._failures.popitem(last=False)


def _limiter(request: Request) -> FailureLimiter:
    app_state = request.app.state
    limiter = getattr(app_state, "auth_failures", None)
    if limiter is None:
        limiter = FailureLimiter(request.app.state.runtime.settings.auth_failures_per_minute)
        app_state.auth_failures = limiter
    return limiter


def refuse_if_limited(request: Request) -> None:
    """429 when the client has failed to authenticate too often in the last minute."""
    client = request.client.host if request.client else "unknown"
    wait = _limiter(request).retry_after(client)
    if wait is not None:
        raise Problem(
            429,
            "Too many failed attempts",
            f"Too many failed authentications from this address; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )


def record_failure(request: Request) -> None:
    _limiter(request).failed(request.client.host if request.client else "unknown")


async def authenticate(request: Request) -> Principal:
    refuse_if_limited(request)
    try:
        return await _authenticate(request)
    except Problem:
        record_failure(request)
        raise


async def _authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(
            401,
            "Unauthorized",
            "Send 'Authorization: Bearer <api key>'.",
            field="Authorization",
            headers=_UNAUTHORIZED,
        )
    key = key.strip()
    runtime = request.app.state.runtime
    bootstrap = runtime.settings.bootstrap_api_key
    if bootstrap is not None and hmac.compare_digest(key, bootstrap.get_secret_value()):
        return Principal(None, "bootstrap", frozenset({"admin"}))
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, name, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            hash_key(key),
        )
    if row is None:
        raise Problem(
            401,
            "Unauthorized",
            "The API key is unknown or revoked.",
            field="Authorization",
            headers=_UNAUTHORIZED,
        )
    return Principal(row["id"], row["name"], frozenset(row["scopes"]))


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's key must carry ``scope`` (or ``admin``)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    async def dependency(request: Request) -> Principal:
        # ``guards.RouteGuard`` authenticated before the body was read.
        cached = request.scope.get("state", {}).get(PRINCIPAL_STATE)
        principal = cached if isinstance(cached, Principal) else await authenticate(request)
        if not principal.allows(scope):
            raise Problem(
                403,
                "Forbidden",
                f"The API key lacks the scope '{scope}'.",
                field="Authorization",
                required_scope=scope,
            )
        return principal

    setattr(dependency, AUTHENTICATES, True)
    return dependency
