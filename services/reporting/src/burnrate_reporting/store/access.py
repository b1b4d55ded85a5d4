"""The pages' login sessions and the customers' report links (revocable rows, see migration
0005). A row counts only while the API key behind it is in the replica, not revoked and
still carries ``reports:read`` (or ``admin``); a NULL key is the bootstrap key."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from burnrate_common.db import Connection

#: The key behind row ``x`` still stands ($n: whether the bootstrap key is configured).
_KEY_STANDS = """(CASE WHEN x.key_id IS NULL THEN {bootstrap}::boolean
                      ELSE EXISTS (SELECT 1 FROM api_keys k
                                   WHERE k.id = x.key_id AND k.revoked_at IS NULL
                                     AND k.scopes && ARRAY['reports:read', 'admin']) END)"""


async def insert_session(
    conn: Connection,
    token_hash: str,
    key_id: uuid.UUID | None,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    await conn.execute(
        """INSERT INTO ui_sessions (token_hash, key_id, created_at, expires_at)
           VALUES ($1, $2, $3, $4)""",
        token_hash,
        key_id,
        now,
        expires_at,
    )


async def delete_expired_sessions(conn: Connection, before: dt.datetime) -> None:
    await conn.execute("DELETE FROM ui_sessions WHERE expires_at < $1", before)


async def session_stands(
    conn: Connection, token_hash: str, now: dt.datetime, bootstrap_configured: bool
) -> bool:
    found = await conn.fetchval(
        f"""SELECT true FROM ui_sessions x
            WHERE x.token_hash = $1 AND x.revoked_at IS NULL AND x.expires_at > $2
              AND {_KEY_STANDS.format(bootstrap="$3")}""",
        token_hash,
        now,
        bootstrap_configured,
    )
    return bool(found)


async def revoke_session(conn: Connection, token_hash: str, now: dt.datetime) -> None:
    await conn.execute(
        "UPDATE ui_sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
        now,
    )


async def insert_link(
    conn: Connection,
    link_id: uuid.UUID,
    customer_id: uuid.UUID,
    key_id: uuid.UUID | None,
    key_name: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    await conn.execute(
        """INSERT INTO report_links (id, customer_id, key_id, key_name, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        link_id,
        customer_id,
        key_id,
        key_name,
        now,
        expires_at,
    )


_LINK_COLUMNS = f"""x.id, x.customer_id, x.key_id, x.key_name, x.created_at, x.expires_at,
                    x.revoked_at, {_KEY_STANDS.format(bootstrap="$2")} AS key_stands"""


async def link_stands(
    conn: Connection, link_id: uuid.UUID, customer_id: uuid.UUID, bootstrap_configured: bool
) -> bool:
    """The link's row exists for that customer, is not revoked, and its key still stands
    (its expiry is in the signed token, checked before)."""
    found = await conn.fetchval(
        f"""SELECT true FROM report_links x
            WHERE x.id = $1 AND x.customer_id = $3 AND x.revoked_at IS NULL
              AND {_KEY_STANDS.format(bootstrap="$2")}""",
        link_id,
        bootstrap_configured,
        customer_id,
    )
    return bool(found)


async def list_links(
    conn: Connection, customer_id: uuid.UUID, bootstrap_configured: bool
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_LINK_COLUMNS} FROM report_links x WHERE x.customer_id = $1
            ORDER BY x.created_at DESC, x.id LIMIT 500""",
        customer_id,
        bootstrap_configured,
    )


async def revoke_link(
    conn: Connection, customer_id: uuid.UUID, link_id: uuid.UUID, now: dt.datetime
) -> bool:
    """False when the customer has no such link; revoking twice keeps the first time."""
    found = await conn.fetchval(
        """UPDATE report_links SET revoked_at = coalesce(revoked_at, $3)
           WHERE id = $1 AND customer_id = $2 RETURNING true""",
        link_id,
        customer_id,
        now,
    )
    return bool(found)
