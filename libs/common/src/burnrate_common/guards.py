"""Checks every route gets before its handler reads a byte of the body.

:class:`RouteGuard` checks each request to an API route, so that, in this order:

1. a route that needs an API key authenticates first: no key, an unknown key or too many
   failures from one client answer 401/429 before a large body is read;
2. a body that a route parses as JSON is capped (``Content-Length`` and while streaming):
   413 above the service's ``max_json_body_bytes``; routes that read their body themselves
   (batch, CSV, NDJSON, webhooks) keep their own, larger caps;
3. a query parameter the route does not declare is a 422 naming it (``?attributed=false``
   on a route without that filter would otherwise list everything);
4. a NUL character, which no text column can hold, in the path, the query or a JSON body is
   a 422 naming where it is, instead of an error from the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from burnrate_common.auth import AUTHENTICATES, PRINCIPAL_STATE, authenticate
from burnrate_common.errors import Problem, problem_response_for

_NUL_ESCAPED = b"\\u0000"
#: A JSON body up to this size is kept while it streams in, to name the field a NUL is in.
_LOCATE_UP_TO_BYTES = 1024 * 1024


def _dependants(root: Dependant) -> Iterator[Dependant]:
    stack = [root]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.dependencies)


def _query_names(route: APIRoute) -> frozenset[str]:
    names: set[str] = set()
    for dependant in _dependants(route.dependant):
        for field in dependant.query_params:
            annotation = field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names.update(f.alias or name for name, f in annotation.model_fields.items())
            else:
                names.add(field.alias)
    return frozenset(names)


def _needs_key(route: APIRoute) -> bool:
    return any(getattr(d.call, AUTHENTICATES, False) for d in _dependants(route.dependant))


def _nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string holding a NUL in a parsed JSON value."""
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        items: Iterator[tuple[str, Any]] = ((str(k), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((str(i), v) for i, v in enumerate(value))
    else:
        return None
    for key, item in items:
        if "\x00" in key:
            return f"{path}.{key}".strip(".").replace("\x00", "\\u0000")
        found = _nul_path(item, f"{path}.{key}" if path else key)
        if found:
            return found
    return None


def _nul_problem(field: str) -> Problem:
    return Problem(
        422,
        "Invalid input",
        f"{field}: contains a NUL character (\\u0000), which text cannot hold",
        field=field,
    )


def _check_query(scope: Scope, allowed: frozenset[str]) -> None:
    raw = scope.get("query_string", b"").decode("latin-1")
    pairs = parse_qsl(raw, keep_blank_values=True)
    unknown = sorted({name for name, _ in pairs if name not in allowed})
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise Problem(
            422,
            "Invalid input",
            f"Unknown query parameter(s): {', '.join(unknown)}. This route takes: {known}.",
            errors=[{"field": n, "message": "not a parameter of this route"} for n in unknown],
        )
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise _nul_problem(name.replace("\x00", "\\u0000"))
    if "\x00" in scope.get("path", ""):
        raise _nul_problem("path")


class _GuardedBody:
    """Wraps ``receive``: counts the JSON body against its cap and looks for NULs."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self._limit = limit
        self._size = 0
        self._kept: list[bytes] | None = []
        self._suspect = False
        self._tail = b""

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        chunk: bytes = message.get("body", b"")
        self._size += len(chunk)
        if self._size > self._limit:
            raise _too_large(self._limit)
        if _NUL_ESCAPED in self._tail + chunk:
            self._suspect = True
        self._tail = chunk[-(len(_NUL_ESCAPED) - 1) :]
        if self._kept is not None:
            self._kept.append(chunk)
            if self._size > _LOCATE_UP_TO_BYTES:
                self._kept = None
        if self._suspect and not message.get("more_body", False):
            self._raise_if_nul()
        return message

    def _raise_if_nul(self) -> None:
        if self._kept is None:
            raise _nul_problem("body")
        try:
            parsed = json.loads(b"".join(self._kept))
        except ValueError:
            return  # not JSON: the route's own parsing says what is wrong
        found = _nul_path(parsed)
        if found:
            raise _nul_problem(found)


def _too_large(limit: int) -> Problem:
    return Problem(
        413,
        "Body too large",
        f"At most {limit} bytes of JSON per request to this route.",
        field="body",
    )


@dataclass(frozen=True)
class _Guard:
    route: APIRoute
    query_names: frozenset[str]
    needs_key: bool
    parses_body: bool


class RouteGuard:
    """ASGI middleware: finds the API route a request is for (as the router will) and runs
    the checks above before the route sees the request."""

    def __init__(
        self, app: ASGIApp, routers: Sequence[APIRouter], max_json_body_bytes: int
    ) -> None:
        self.app = app
        self._limit = max_json_body_bytes
        self._guards = [
            _Guard(route, _query_names(route), _needs_key(route), route.body_field is not None)
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
        ]

    def _guard_for(self, scope: Scope) -> _Guard | None:
        for guard in self._guards:
            match, _ = Route.matches(guard.route, scope)
            if match == Match.FULL:
                return guard
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = self._guard_for(scope)
        if guard is not None:
            try:
                if guard.needs_key:
                    principal = await authenticate(Request(scope))
                    scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
                _check_query(scope, guard.query_names)
                if guard.parses_body:
                    declared = dict(scope["headers"]).get(b"content-length", b"")
                    if declared.isdigit() and int(declared) > self._limit:
                        raise _too_large(self._limit)
                    receive = _GuardedBody(receive, self._limit)
            except Problem as problem:
                response = problem_response_for(Request(scope, receive), problem)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
