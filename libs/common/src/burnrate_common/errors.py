"""RFC 9457 problem details for every error a service returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

#: Errors that mean "the database is away", not "the request is bad" (as ``bus``).
_UNAVAILABLE_ERRORS = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    # what the driver raises when the server ends a connection in the middle of a query
    asyncpg.InternalClientError,
    TimeoutError,
)
RETRY_AFTER_SECONDS = 5
_TEXT_ERRORS = (
    asyncpg.CharacterNotInRepertoireError,
    asyncpg.UntranslatableCharacterError,
)

PROBLEM_JSON = "application/problem+json"


class Problem(StarletteHTTPException):
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
        super().__init__(status, detail or title, headers)
        self.status = status
        self.title = title
        #: None: the problem has no detail beyond its title (``detail`` then holds the title).
        self.explanation = detail
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
    errors = [
        {"field": _field(tuple(e["loc"])), "message": _message(e["msg"])} for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(422, "Invalid input", detail, errors=errors)


def problem_response_for(request: Request, exc: Problem) -> JSONResponse:
    errors = exc.errors or ([{"field": exc.field, "message": exc.detail}] if exc.field else None)
    return problem_response(
        request,
        exc.status,
        exc.title,
        exc.explanation,
        errors=errors,
        headers=exc.headers,
        **exc.extra,
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response_for(request, exc)


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
    if _not_json(request, raw):
        return problem_response(
            request,
            415,
            "Send JSON",
            "Send the body as JSON, with the header 'Content-Type: application/json'.",
            errors=[{"field": "body", "message": "expected a JSON object"}],
        )
    errors = [{"field": _field(tuple(e["loc"])), "message": _message(e["msg"])} for e in raw]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem_response(request, 422, "Invalid input", detail, errors=errors)


def _message(text: str) -> str:
    # pydantic prefixes what a validator raised; the reader needs only what it said.
    return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _not_json(request: Request, raw: Sequence[Any]) -> bool:
    """The body failed as a whole because it was not sent as JSON (curl without a
    content type sends it as a form)."""
    content_type = request.headers.get("content-type", "")
    whole_body = [e for e in raw if tuple(e.get("loc", ())) == ("body",)]
    return bool(whole_body) and "json" not in content_type


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Request failed")
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(request, exc.status_code, title, detail, headers=exc.headers)


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is away (restarting, say): nothing was acknowledged; ask for a retry.
    log.warning("database unavailable", extra={"error": str(exc)})
    return problem_response(
        request,
        503,
        "Service unavailable",
        "The database is not reachable right now; nothing was stored. Try again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _on_text_error(request: Request, exc: Exception) -> JSONResponse:
    # A value no guard caught that the database cannot store: the client's, not ours.
    log.warning("text the database cannot store", extra={"error": str(exc)})
    return problem_response(
        request, 422, "Invalid input", "The request holds text the database cannot store."
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(request, 500, "Internal error", "The error was logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    # Handled where the response is made (not re-raised to the server as the catch-all is).
    for unavailable in _UNAVAILABLE_ERRORS:
        app.add_exception_handler(unavailable, _on_unavailable)
    for text_error in _TEXT_ERRORS:
        app.add_exception_handler(text_error, _on_text_error)
    app.add_exception_handler(Exception, _on_unexpected)
