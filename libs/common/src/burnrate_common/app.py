"""The FastAPI application every service exposes: problem errors, correlation ids,
HTTP metrics, ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from burnrate_common import outbox
from burnrate_common.auth import Principal, require
from burnrate_common.deps import ConnectionDep, LimitQuery
from burnrate_common.errors import Problem, install_problem_handlers
from burnrate_common.guards import RouteGuard
from burnrate_common.logs import correlation_id
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.runtime import ServiceDefinition, running

CORRELATION_HEADER = "x-correlation-id"
#: A correlation id travels into events and AMQP properties: it is kept only when it is
#: 1-128 of these characters; anything else is replaced by a new id (the response says which).
_CORRELATION_ID = re.compile(rb"[A-Za-z0-9._:/+=@-]{1,128}")


def accepted_correlation_id(raw: bytes) -> str | None:
    return raw.decode("ascii") if _CORRELATION_ID.fullmatch(raw) else None


class RequestContextMiddleware:
    """Sets the correlation id (from ``X-Correlation-Id`` or new) and records HTTP metrics."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER.encode(), b"")
        cid = accepted_correlation_id(incoming) or uuid.uuid4().hex
        token = correlation_id.set(cid)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (CORRELATION_HEADER.encode(), cid.encode())
                )
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.http_requests.labels(template, method, str(status)).inc()
            self.metrics.http_seconds.labels(template, method).observe(
                time.perf_counter() - started
            )
            correlation_id.reset(token)


def _health_router(metrics: ServiceMetrics) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Database and broker are reachable")
    async def readyz(request: Request) -> JSONResponse:
        checks = await request.app.state.runtime.ready()
        ok = all(checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


class SetAsideEvent(BaseModel):
    id: uuid.UUID
    type: str
    correlation_id: str
    key: str
    created_at: dt.datetime
    attempts: int
    last_error: str
    set_aside_at: dt.datetime


def _outbox_router() -> APIRouter:
    """Events this service could not publish after every attempt (``outbox`` sets them
    aside so the rest flow on): listed, and put back once the cause is fixed."""
    router = APIRouter(prefix="/v1/outbox", tags=["outbox"])
    admin = Depends(require("admin"))

    @router.get("/set-aside", summary="Events set aside after failed publishes")
    async def set_aside(
        conn: ConnectionDep, _: Principal = admin, limit: LimitQuery = 100
    ) -> list[SetAsideEvent]:
        rows = await outbox.list_set_aside(conn, limit)
        return [SetAsideEvent.model_validate(dict(r)) for r in rows]

    @router.post(
        "/set-aside/{event_id}/replay",
        status_code=202,
        summary="Put a set-aside event back in the outbox",
        responses={404: {"description": "No such event set aside"}},
    )
    async def replay(
        event_id: uuid.UUID, conn: ConnectionDep, _: Principal = admin
    ) -> dict[str, str]:
        if not await outbox.replay_set_aside(conn, event_id):
            raise Problem(404, "Not found", "No event with this id is set aside.", field="event_id")
        return {"status": "queued"}

    return router


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; ``errors`` names each field at fault.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
}


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every operation answers errors as problem documents: its declared 4xx/5xx say so, and
    a ``default`` response covers the others (401, 413, 429, 503 …)."""
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    document["components"]["schemas"].pop("HTTPValidationError", None)
    document["components"]["schemas"].pop("ValidationError", None)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status, response in responses.items():
                if status[:1] in ("4", "5"):
                    # A page's own error pages (text/html) stay; JSON errors are problems.
                    content = response.get("content", {})
                    content.pop("application/json", None)
                    response["content"] = {**content, **_PROBLEM_CONTENT}
            responses.setdefault(
                "default", {"description": "A problem (RFC 9457)", "content": _PROBLEM_CONTENT}
            )
    return document


def create_app(definition: ServiceDefinition[Any]) -> FastAPI:
    metrics = ServiceMetrics(definition.settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with running(definition, metrics) as runtime:
            app.state.runtime = runtime
            yield {}

    # Swagger UI and ReDoc from the installed package, not a CDN: /docs works offline.
    app = FastAPIOffline(title=definition.title, version="0.1.0", lifespan=lifespan)
    app.state.metrics = metrics
    install_problem_handlers(app)
    app.add_middleware(
        RouteGuard,
        routers=definition.routers,
        max_json_body_bytes=definition.settings.max_json_body_bytes,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.include_router(_health_router(metrics))
    app.include_router(_outbox_router())
    for router in definition.routers:
        app.include_router(router)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(plain_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
