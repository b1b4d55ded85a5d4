"""The unsubscribe link of an alert mail: no API key, the signed token is the permission.

``GET`` only shows a confirmation page (mail scanners and link previews open links, and
must not unsubscribe anyone); ``POST`` opts the address out: the button on that page, or
the mail client's RFC 8058 one-click ``List-Unsubscribe=One-Click``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from burnrate_common.deps import ConnectionDep, RuntimeDep
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from burnrate_notifier import store
from burnrate_notifier.domain.unsubscribe import InvalidLink, Unsubscribe, UnsubscribeLinks

log = logging.getLogger(__name__)

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # The token is in the URL: keep it out of referrers and caches.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}

_pages = Environment(
    loader=PackageLoader("burnrate_notifier", "templates/pages"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _page(status_code: int, **context: Any) -> HTMLResponse:
    html = _pages.get_template("unsubscribe.html").render(**context)
    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)


def _grant(links: UnsubscribeLinks, token: str) -> Unsubscribe | None:
    try:
        return links.verify(token, dt.datetime.now(dt.UTC))
    except InvalidLink:
        return None


def _invalid() -> HTMLResponse:
    # Tampered or expired alike: the page says no more than that.
    return _page(403, state="invalid", language="en")


@router.get(
    "/{token}", response_class=HTMLResponse, summary="Confirmation page of an unsubscribe link"
)
async def confirm_page(token: str, runtime: RuntimeDep) -> HTMLResponse:
    grant = _grant(runtime.extras["unsubscribe_links"], token)
    if grant is None:
        return _invalid()
    return _page(200, state="confirm", language=grant.language, address=grant.address)


@router.post(
    "/{token}",
    response_class=HTMLResponse,
    summary="Unsubscribe (RFC 8058 one-click, or the confirmation page's button)",
)
async def unsubscribe(token: str, runtime: RuntimeDep, conn: ConnectionDep) -> HTMLResponse:
    grant = _grant(runtime.extras["unsubscribe_links"], token)
    if grant is None:
        return _invalid()
    async with conn.transaction():
        _, created = await store.add_opt_out(conn, grant.address)
        suppressed = await store.suppress_pending_mail(conn, grant.address)
    log.info(
        "address unsubscribed by its link",
        extra={"new": created, "suppressed_pending": suppressed},
    )
    return _page(200, state="done", language=grant.language, address=grant.address)
