"""The in-app feed: one entry per alert for each of the contract's teams and for its owner."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

import asyncpg
from burnrate_common.auth import require
from burnrate_common.db import Connection
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, EmailStr

from burnrate_notifier import store

router = APIRouter(prefix="/v1/feed", tags=["feed"])

Reader = Annotated[object, Depends(require("notifications:read"))]
# Read state is a change: a read-only key (a dashboard) must not clear a team's unread marks.
Writer = Annotated[object, Depends(require("notifications:write"))]


class FeedEntryOut(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID
    contract_id: uuid.UUID
    #: "team" or "owner"
    audience: str
    #: the team's name, or the owner's e-mail address (lower case)
    audience_key: str
    trigger: str
    stage: str
    period_start: dt.date
    period_end: dt.date
    headline: str
    facts: dict[str, Any]
    created_at: dt.datetime
    read: bool
    read_at: dt.datetime | None


class FeedPage(Page[FeedEntryOut]):
    #: unread entries of this team or owner, whatever the filters
    unread_count: int


def _out(row: asyncpg.Record) -> FeedEntryOut:
    return FeedEntryOut.model_validate(dict(row) | {"read": row["read_at"] is not None})


@router.get("", response_model=FeedPage, summary="The feed of a team or an owner, newest first")
async def list_feed(
    conn: ConnectionDep,
    _: Reader,
    team: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    owner: Annotated[EmailStr | None, Query()] = None,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> FeedPage:
    if (team is None) == (owner is None):
        raise Problem(
            422,
            "Invalid input",
            "Give exactly one of team and owner.",
            field="team" if team is None else "owner",
        )
    audience, key = ("team", team) if team is not None else ("owner", str(owner).lower())
    rows = await store.list_feed(
        conn,
        audience=audience,
        audience_key=key,
        unread=unread,
        contract_id=contract_id,
        before=decode_cursor(cursor),
        limit=limit,
    )
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return FeedPage(
        items=[_out(r) for r in rows],
        next_cursor=next_cursor,
        unread_count=await store.unread_count(conn, audience, key),
    )


async def _mark(conn: Connection, entry_id: uuid.UUID, read: bool) -> FeedEntryOut:
    row = await store.set_feed_read(conn, entry_id, read)
    if row is None:
        raise Problem(404, "Not found", f"No feed entry {entry_id}.", field="entry_id")
    return _out(row)


@router.post("/{entry_id}/read", response_model=FeedEntryOut, summary="Mark an entry read")
async def mark_read(entry_id: uuid.UUID, conn: ConnectionDep, _: Writer) -> FeedEntryOut:
    return await _mark(conn, entry_id, True)


@router.post("/{entry_id}/unread", response_model=FeedEntryOut, summary="Mark an entry unread")
async def mark_unread(entry_id: uuid.UUID, conn: ConnectionDep, _: Writer) -> FeedEntryOut:
    return await _mark(conn, entry_id, False)
