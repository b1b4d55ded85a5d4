"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document.

    ``field`` names the input at fault (dotted path, e.g. ``contacts.0.email``); ``errors``
    lists several, each ``{"field": …, "message": …}``.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
        self.errors = errors
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "contacts", 0, "email") → "contacts.0.email"; query/path params keep their name.
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def invalid_input(exc: ValidationError) -> Problem:
    """A 422 naming every field of a validation that ran outside FastAPI's request parsing."""
    errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "Invalid input", detail, errors=errors)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    errors = exc.errors or (
        [{"field": exc.field, "message": exc.detail or exc.title}] if exc.field else None
    )
    return problem_response(
        request, exc.status, exc.title, exc.detail, errors=errors, headers=exc.headers, **exc.extra
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    raw = exc.errors()
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem_response(
            request,
            400,
            "Malformed JSON",
            "The request body is not valid JSON.",
            errors=[{"field": "body", "message": "not valid JSON"}],
        )
    errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in raw]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem_response(request, 422, "Invalid input", detail, errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Request failed")
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(request, exc.status_code, title, detail, headers=exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(request, 500, "Internal error", "The error was logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
