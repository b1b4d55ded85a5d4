"""Who may read reporting: staff, by an API key with ``reports:read`` (in the
``Authorization`` header, or for the pages through a login session whose token is in a
cookie), and customers, by a signed, expiring, revocable link to their own reports
(``service.access``)."""

from __future__ import annotations

from typing import Annotated

from burnrate_common.auth import Principal, authenticate, record_failure, require
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from fastapi import Depends, Request

from burnrate_reporting.service import Deps, access

SCOPE = "reports:read"

#: A caller of the JSON API: its key carries ``reports:read`` (or ``admin``).
ReportsReader = Annotated[Principal, Depends(require(SCOPE))]

#: The pages' login cookie: a session token (never the API key).
COOKIE = "burnrate_session"


def _with_key(request: Request, key: str) -> Request:
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"authorization"]
    headers.append((b"authorization", f"Bearer {key}".encode()))
    return Request({**request.scope, "headers": headers}, request.receive)


async def login_principal(request: Request, key: str) -> Principal | None:
    """The staff member whose key (as typed into the login form) is known and carries the
    scope; None otherwise, counted as a failed authentication of the client (the caller
    refuses limited clients first: ``burnrate_common.auth.refuse_if_limited``)."""
    if not key or len(key) > 200 or not key.isascii():
        record_failure(request)
        return None
    try:
        principal = await authenticate(_with_key(request, key))  # counts its own failures
    except Problem:
        return None
    if not principal.allows(SCOPE):
        record_failure(request)
        return None
    return principal


async def is_staff(request: Request, conn: Connection, deps: Deps) -> bool:
    """A key with ``reports:read`` in the header, or else a login session in the cookie."""
    if "authorization" not in request.headers:
        return await access.session_stands(conn, deps, request.cookies.get(COOKIE) or "")
    try:
        principal = await authenticate(request)
    except Problem:
        return False
    return principal.allows(SCOPE)
