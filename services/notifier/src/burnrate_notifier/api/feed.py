"""The in-app feed of a team or an owner (/v1/feed)."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from fastapi import APIRouter, Query
from pydantic import EmailStr

from burnrate_notifier.auth import NotificationsReader, NotificationsWriter
from burnrate_notifier.schemas import FeedEntryOut, FeedPage
from burnrate_notifier.service import feed

router = APIRouter(prefix="/v1/feed", tags=["feed"])


@router.get("", response_model=FeedPage, summary="The feed of a team or an owner, newest first")
async def list_feed(
    conn: ConnectionDep,
    _: NotificationsReader,
    team: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    owner: Annotated[EmailStr | None, Query()] = None,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> FeedPage:
    return await feed.list_feed(
        conn,
        team=team,
        owner=None if owner is None else str(owner),
        unread=unread,
        contract_id=contract_id,
        limit=limit,
        cursor=cursor,
    )


@router.post("/{entry_id}/read", response_model=FeedEntryOut, summary="Mark an entry read")
async def mark_read(
    entry_id: uuid.UUID, conn: ConnectionDep, _: NotificationsWriter
) -> FeedEntryOut:
    return await feed.mark_read(conn, entry_id, read=True)


@router.post("/{entry_id}/unread", response_model=FeedEntryOut, summary="Mark an entry unread")
async def mark_unread(
    entry_id: uuid.UUID, conn: ConnectionDep, _: NotificationsWriter
) -> FeedEntryOut:
    return await feed.mark_read(conn, entry_id, read=False)
