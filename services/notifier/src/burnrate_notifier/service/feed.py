"""The in-app feed: one entry per alert for each of the contract's teams and for its owner."""

from __future__ import annotations

import uuid

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import decode_cursor, encode_cursor

from burnrate_notifier import store
from burnrate_notifier.schemas import FeedEntryOut, FeedPage


def _entry(row: asyncpg.Record) -> FeedEntryOut:
    return FeedEntryOut.model_validate(dict(row) | {"read": row["read_at"] is not None})


async def list_feed(
    conn: Connection,
    *,
    team: str | None,
    owner: str | None,
    unread: bool | None,
    contract_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> FeedPage:
    """The feed of exactly one team or one owner (by address, any case), newest first, with
    the audience's unread count whatever the filters."""
    if (team is None) == (owner is None):
        raise Problem(
            422,
            "Invalid input",
            "Give exactly one of team and owner.",
            field="team" if team is None else "owner",
        )
    audience, key = ("team", team) if team is not None else ("owner", str(owner).lower())
    before = decode_cursor(cursor)
    # One snapshot for both reads: the unread count fits the page.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await store.list_feed(
            conn,
            audience=audience,
            audience_key=key,
            unread=unread,
            contract_id=contract_id,
            before=before,
            limit=limit,
        )
        unread_count = await store.unread_count(conn, audience, key)
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return FeedPage(
        items=[_entry(r) for r in rows], next_cursor=next_cursor, unread_count=unread_count
    )


async def mark_read(conn: Connection, entry_id: uuid.UUID, *, read: bool) -> FeedEntryOut:
    """Mark an entry read (the first time counts) or unread again."""
    row = await store.set_feed_read(conn, entry_id, read)
    if row is None:
        raise Problem(404, "Not found", f"No feed entry {entry_id}.", field="entry_id")
    return _entry(row)
