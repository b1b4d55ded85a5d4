"""The unsubscribe link of an alert mail: no API key, the signed token is the permission.

``GET`` only shows a confirmation page (mail scanners and link previews open links, and
must not unsubscribe anyone); ``POST`` opts the address out: the button on that page, or
the mail client's RFC 8058 one-click ``List-Unsubscribe=One-Click``.
"""

from __future__ import annotations

from typing import Any

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from burnrate_notifier.api import DepsDep
from burnrate_notifier.domain.unsubscribe import Unsubscribe
from burnrate_notifier.service import Deps, opt_outs

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])

#: The pages answer in HTML, a refused link too (a person reads it, in a browser).
_PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}},
    403: {
        "description": "The link was tampered with or has expired: a page saying so",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
}

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # The token is in the URL: keep it out of referrers and caches.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}


def _page(deps: Deps, status_code: int, **context: Any) -> HTMLResponse:
    return HTMLResponse(
        deps.pages.unsubscribe(**context), status_code=status_code, headers=_HEADERS
    )


def _answer(deps: Deps, grant: Unsubscribe | None, state: str) -> HTMLResponse:
    if grant is None:
        # Tampered or expired alike: the page says no more than that.
        return _page(deps, 403, state="invalid", language="en")
    return _page(deps, 200, state=state, language=grant.language, address=grant.address)


@router.get(
    "/{token}",
    response_class=HTMLResponse,
    summary="Confirmation page of an unsubscribe link",
    responses=_PAGE_RESPONSES,
)
async def confirm_page(token: str, deps: DepsDep) -> HTMLResponse:
    return _answer(deps, opt_outs.check_unsubscribe_link(deps, token), "confirm")


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (RFC 8058 one-click, or the confirmation page's button)",
    responses=_PAGE_RESPONSES,
)
async def unsubscribe(token: str, deps: DepsDep, conn: ConnectionDep) -> HTMLResponse:
    return _answer(deps, await opt_outs.unsubscribe(conn, deps, token), "done")
