"""The customer's closing confirmation, through the signed link (no API key): JSON for API
clients, the page (:mod:`burnrate_tickets.pages`) for a browser."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, urlencode

from burnrate_common.bodies import read_capped
from burnrate_common.deps import ConnectionDep
from burnrate_common.errors import Problem
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from burnrate_tickets import pages
from burnrate_tickets.api import DepsDep
from burnrate_tickets.schemas import ConfirmationPageOut, ConfirmIn
from burnrate_tickets.service import confirmations as service

router = APIRouter(prefix="/v1/confirmations", tags=["confirmations"])

MAX_FORM_BYTES = 16 * 1024
Lang = Annotated[str | None, Query(description="en or nl (default: by Accept-Language)")]


#: The page's own error pages (the link expired or unknown; a form to correct).
_HTML = {"text/html": {"schema": {"type": "string"}}}
NOT_VALID_PAGE = {"description": "The link is not valid (a page)", "content": _HTML}
FORM_AGAIN_PAGE = {
    "description": "The form again, saying what to correct (a page)",
    "content": _HTML,
}


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=pages.SECURITY_HEADERS)


@router.get(
    "/{token}",
    response_model=ConfirmationPageOut,
    summary="The ticket to confirm (a page where the customer answers, for a browser)",
    responses={200: {"content": {"text/html": {}}}, 404: NOT_VALID_PAGE},
)
async def show(
    token: str,
    conn: ConnectionDep,
    deps: DepsDep,
    accept: Annotated[str | None, Header()] = None,
    accept_language: Annotated[str | None, Header()] = None,
    lang: Lang = None,
    done: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> ConfirmationPageOut | Response:
    if not pages.wants_html(accept):
        return await service.show(conn, deps, token)
    language = pages.language(accept_language, lang)
    try:
        page = await service.show(conn, deps, token)
    except Problem as problem:
        if problem.status != 404:
            raise
        return _html(pages.expired_page(language), 404)
    message = "reopened" if done == "reopened" else None
    return _html(pages.confirmation_page(page, token, language, message=message))


@router.post(
    "/{token}",
    response_model=ConfirmationPageOut,
    summary="Confirm the closure (with a rating 1–5 and a comment) or reopen",
)
async def answer(
    token: str, body: ConfirmIn, conn: ConnectionDep, deps: DepsDep
) -> ConfirmationPageOut:
    return await service.answer(conn, deps, token, body)


@router.post(
    "/{token}/form",
    summary="The page's form (application/x-www-form-urlencoded); answers 303 to the page",
    response_class=RedirectResponse,
    status_code=303,
    responses={
        303: {
            "description": "Answered: see the page (``Location``)",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        404: NOT_VALID_PAGE,
        422: FORM_AGAIN_PAGE,
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "action": {"type": "string", "enum": ["confirm", "reopen"]},
                            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                            "comment": {"type": "string", "maxLength": 4000},
                        },
                    }
                }
            }
        }
    },
)
async def answer_form(
    token: str,
    request: Request,
    conn: ConnectionDep,
    deps: DepsDep,
    accept_language: Annotated[str | None, Header()] = None,
    lang: Lang = None,
) -> Response:
    language = pages.language(accept_language, lang)
    raw = await read_capped(request, MAX_FORM_BYTES, what="form")
    form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items() if v}
    try:
        body = ConfirmIn(
            action=form.get("action", "confirm"),
            rating=form.get("rating") or None,
            comment=form.get("comment") or None,
        )
    except ValidationError as exc:
        fields = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
        error = "bad_comment" if fields == {"comment"} else "bad_rating"
        try:
            page = await service.show(conn, deps, token)
        except Problem:
            return _html(pages.expired_page(language), 404)
        return _html(pages.confirmation_page(page, token, language, error=error, values=form), 422)
    try:
        await service.answer(conn, deps, token, body)
    except Problem as problem:
        if problem.status == 404:
            return _html(pages.expired_page(language), 404)
        if problem.status != 409:
            raise
    query = {"lang": language} | ({"done": "reopened"} if body.action == "reopen" else {})
    return RedirectResponse(f"../{token}?{urlencode(query)}", status_code=303)
