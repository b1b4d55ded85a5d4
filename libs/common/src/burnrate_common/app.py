"""The FastAPI application every service exposes: problem errors, correlation ids,
HTTP metrics, ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from burnrate_common.errors import install_problem_handlers
from burnrate_common.logs import correlation_id
from burnrate_common.metrics import ServiceMetrics
from burnrate_common.runtime import ServiceDefinition, running

CORRELATION_HEADER = "x-correlation-id"


class RequestContextMiddleware:
    """Sets the correlation id (from ``X-Correlation-Id`` or new) and records HTTP metrics."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(CORRELATION_HEADER.encode(), b"").decode()
        cid = incoming[:128] or uuid.uuid4().hex
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


def create_app(definition: ServiceDefinition[Any]) -> FastAPI:
    metrics = ServiceMetrics(definition.settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with running(definition, metrics) as runtime:
            app.state.runtime = runtime
            yield {}

    app = FastAPI(title=definition.title, version="0.1.0", lifespan=lifespan)
    app.state.metrics = metrics
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.include_router(_health_router(metrics))
    for router in definition.routers:
        app.include_router(router)
    return app
