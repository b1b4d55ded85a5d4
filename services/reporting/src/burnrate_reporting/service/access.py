"""Who gets in without an API key on every request: staff through a login session (the
pages' cookie holds a random token, stored hashed), customers through a signed report link
tied to a revocable record. Sessions and links end when they expire, when they are revoked
(logout, ``DELETE /v1/customers/{id}/report-links/{link}``) and when the API key behind them
is revoked (``apikey.revoked``, through the replica of the keys)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from burnrate_common import report_links
from burnrate_common.auth import Principal
from burnrate_common.db import Connection
from burnrate_common.errors import Problem

from burnrate_reporting.schemas import LinkRecord, ReportLink
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import access as store
from burnrate_reporting.store import reports as report_store

#: How long a login lasts (the cookie's max-age too).
SESSION_HOURS = 12


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bootstrap_configured(deps: Deps) -> bool:
    return deps.settings.bootstrap_api_key is not None


# --- staff sessions ------------------------------------------------------------------------


async def start_session(conn: Connection, deps: Deps, principal: Principal) -> str:
    """A new session for an authenticated staff member; its token (the cookie's value)."""
    token = secrets.token_urlsafe(32)
    now = deps.wall_clock.now()
    async with conn.transaction():
        await store.delete_expired_sessions(conn, now)
        await store.insert_session(
            conn, _hash(token), principal.key_id, now, now + dt.timedelta(hours=SESSION_HOURS)
        )
    return token


async def session_stands(conn: Connection, deps: Deps, token: str) -> bool:
    if not token or len(token) > 200:
        return False
    return await store.session_stands(
        conn, _hash(token), deps.wall_clock.now(), _bootstrap_configured(deps)
    )


async def end_session(conn: Connection, deps: Deps, token: str) -> None:
    if token and len(token) <= 200:
        await store.revoke_session(conn, _hash(token), deps.wall_clock.now())


# --- customer report links -----------------------------------------------------------------


def _secret(deps: Deps) -> bytes:
    """The link secret, or a 503 that says which setting is missing."""
    if not deps.settings.has_link_secret:
        raise Problem(
            503,
            "Report links are not configured",
            f"Set {report_links.SECRET_SETTING} (a random value, the same for reporting and "
            "notifier) to mint customer report links.",
        )
    return deps.settings.link_secret


async def create_report_link(
    conn: Connection,
    deps: Deps,
    principal: Principal,
    customer_id: uuid.UUID,
    expires_in_days: int | None,
) -> ReportLink:
    """A link for a known customer, recorded with the key that minted it;
    ``expires_in_days`` None: the configured default."""
    _secret(deps)
    link_id = uuid.uuid4()
    now = deps.clock.now()
    async with conn.transaction():
        if not await report_store.customer_known(conn, customer_id):
            raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
        url, token, expires_at = deps.settings.customer_report_url(
            customer_id, now, expires_in_days, link_id=link_id
        )
        await store.insert_link(
            conn, link_id, customer_id, principal.key_id, principal.name, now, expires_at
        )
    return ReportLink(
        id=link_id, url=url, token=token, customer_id=customer_id, expires_at=expires_at
    )


async def report_links_of(conn: Connection, deps: Deps, customer_id: uuid.UUID) -> list[LinkRecord]:
    """The links minted for a customer (newest first, at most 500), with whether each works."""
    now = deps.clock.now()
    rows = await store.list_links(conn, customer_id, _bootstrap_configured(deps))
    return [
        LinkRecord(
            id=r["id"],
            customer_id=r["customer_id"],
            minted_by=r["key_name"],
            key_id=r["key_id"],
            created_at=r["created_at"],
            expires_at=r["expires_at"],
            revoked_at=r["revoked_at"],
            active=r["revoked_at"] is None and r["key_stands"] and r["expires_at"] > now,
        )
        for r in rows
    ]


async def revoke_report_link(
    conn: Connection, deps: Deps, customer_id: uuid.UUID, link_id: uuid.UUID
) -> None:
    if not await store.revoke_link(conn, customer_id, link_id, deps.clock.now()):
        raise Problem(
            404, "Not found", f"Customer {customer_id} has no link {link_id}.", field="link_id"
        )


async def customer_grant(conn: Connection, deps: Deps, token: str) -> report_links.LinkGrant | None:
    """The customer a report link opens, while it is valid; None when expired, forged,
    revoked, minted by a revoked key, or when no link secret is configured."""
    if not deps.settings.has_link_secret:
        return None
    try:
        grant = report_links.verify(deps.settings.link_secret, token, deps.clock.now())
    except report_links.InvalidLink:
        return None
    # Links without a record are the notifier's (signed with the same secret, in its mails).
    if grant.link_id is not None and not await store.link_stands(
        conn, grant.link_id, grant.customer_id, _bootstrap_configured(deps)
    ):
        return None
    return grant
