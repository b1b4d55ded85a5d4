"""Who may read reporting: staff, by an API key with ``reports:read`` (in the
``Authorization`` header, or for the pages in the login cookie), and customers, by a signed,
expiring link to their own reports."""

from __future__ import annotations

from typing import Annotated

from burnrate_common import report_links as links
from burnrate_common.auth import Principal, authenticate, require
from burnrate_common.errors import Problem
from fastapi import Depends, Request

from burnrate_reporting.service import Deps

SCOPE = "reports:read"

#: A caller of the JSON API: its key carries ``reports:read`` (or ``admin``).
ReportsReader = Annotated[Principal, Depends(require(SCOPE))]

#: The pages' login cookie: the staff member's API key.
COOKIE = "burnrate_key"


def _with_key(request: Request, key: str) -> Request:
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {key}".encode()))
    return Request({**request.scope, "headers": headers}, request.receive)


async def key_reads_reports(request: Request, key: str) -> bool:
    """Whether ``key`` (as typed into the login form) is known and carries the scope."""
    if not key:
        return False
    try:
        return (await authenticate(_with_key(request, key))).allows(SCOPE)
    except Problem:
        return False


async def is_staff(request: Request) -> bool:
    """A key with ``reports:read``, from the header or else from the login cookie."""
    if "authorization" not in request.headers:
        return await key_reads_reports(request, request.cookies.get(COOKIE) or "")
    try:
        principal = await authenticate(request)
    except Problem:
        return False
    return principal.allows(SCOPE)


def customer_grant(deps: Deps, token: str) -> links.LinkGrant | None:
    """The customer a report link opens, while it is valid; None when expired or forged."""
    try:
        return links.verify(deps.settings.link_secret, token, deps.clock.now())
    except links.InvalidLink:
        return None
