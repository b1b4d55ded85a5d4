"""Per-address opt-out: an opted-out address receives no alert mail (recorded as suppressed),
and none of the mails still waiting for it. Set by the API, or by the recipient with the
signed unsubscribe link of a mail (no API key: the token is the permission)."""

from __future__ import annotations

import logging

from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_keys, encode_keys

from burnrate_notifier import store
from burnrate_notifier.domain.unsubscribe import InvalidLink, Unsubscribe
from burnrate_notifier.schemas import OptOutOut
from burnrate_notifier.service import Deps

log = logging.getLogger(__name__)


async def list_opt_outs(conn: Connection, *, limit: int, cursor: str | None) -> Page[OptOutOut]:
    """In address order, keyset-paged."""
    keys = decode_keys(cursor, 1)
    rows = await store.list_opt_outs(conn, keys[0] if keys else None, limit)
    return Page(
        items=[OptOutOut.model_validate(dict(r)) for r in rows],
        next_cursor=encode_keys(rows[-1]["email"]) if len(rows) == limit else None,
    )


async def opt_out(conn: Connection, email: str) -> tuple[OptOutOut, bool]:
    """Opt ``email`` out (compared case-insensitively) and suppress its waiting mails;
    returns the opt-out and whether it is new."""
    async with conn.transaction():
        row, created = await store.add_opt_out(conn, email)
        await store.suppress_pending_mail(conn, email)
    return OptOutOut.model_validate(dict(row)), created


async def remove_opt_out(conn: Connection, email: str) -> None:
    """Send alert mail to ``email`` again; a 404 when it had not opted out."""
    if not await store.remove_opt_out(conn, email):
        raise Problem(404, "Not found", f"{email} has not opted out.", field="email")


def check_unsubscribe_link(deps: Deps, token: str) -> Unsubscribe | None:
    """What the token of an unsubscribe link grants; None when tampered or expired alike."""
    try:
        return deps.unsubscribe_links.verify(token, deps.clock.now())
    except InvalidLink:
        return None


async def unsubscribe(conn: Connection, deps: Deps, token: str) -> Unsubscribe | None:
    """Opt out the address of a valid unsubscribe link (again is fine); None when the link
    is not valid, and nothing changes."""
    grant = check_unsubscribe_link(deps, token)
    if grant is None:
        return None
    async with conn.transaction():
        _, created = await store.add_opt_out(conn, grant.address)
        suppressed = await store.suppress_pending_mail(conn, grant.address)
    log.info(
        "address unsubscribed by its link",
        extra={"new": created, "suppressed_pending": suppressed},
    )
    return grant
