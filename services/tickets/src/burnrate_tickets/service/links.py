"""The customer's signed link to confirm a resolved ticket closed (or reopen it).

Signed as customer report links are (``burnrate_common.report_links``: payload, expiry,
HMAC-SHA256) with a key derived from ``BURNRATE_REPORT_LINK_SECRET`` for this purpose
only, so a confirmation token is never a report link and the other way round. The link
lives ``confirmation_days`` from the resolution; without the secret no link is made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid

import asyncpg
from burnrate_common import report_links

from burnrate_tickets.service import Deps

_PURPOSE = b"burnrate-tickets-confirmation"


def _key(deps: Deps) -> bytes | None:
    secret = deps.settings.report_link_secret
    if secret is None or not secret.get_secret_value():
        return None
    return hmac.new(secret.get_secret_value().encode(), _PURPOSE, hashlib.sha256).digest()


def token_for(deps: Deps, ticket_id: uuid.UUID, resolved_at: dt.datetime) -> str | None:
    key = _key(deps)
    if key is None:
        return None
    expires = resolved_at + dt.timedelta(days=deps.settings.confirmation_days)
    return report_links.sign(key, ticket_id, expires)


def confirmation_url(deps: Deps, ticket: asyncpg.Record) -> str | None:
    """The link of a resolved, attributed, not yet confirmed ticket; else None."""
    if (
        ticket["resolved_at"] is None
        or ticket["contract_id"] is None
        or ticket["confirmed_at"] is not None
        or ticket["closed_at"] is not None
    ):
        return None
    token = token_for(deps, ticket["id"], ticket["resolved_at"])
    if token is None:
        return None
    return f"{deps.settings.tickets_public_url.rstrip('/')}/v1/confirmations/{token}"


def ticket_of(deps: Deps, token: str) -> uuid.UUID | None:
    """The ticket a valid, unexpired token names; None for anything else."""
    key = _key(deps)
    if key is None:
        return None
    try:
        return report_links.verify(key, token, deps.clock.now()).customer_id
    except report_links.InvalidLink:
        return None
