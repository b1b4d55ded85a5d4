from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import asyncpg
from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery, RuntimeDep
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor, encode_cursor
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from burnrate_notifier import store
from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.recipients import Role

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

Reader = Annotated[object, Depends(require("notifications:read"))]
Writer = Annotated[object, Depends(require("notifications:write"))]


class NotificationOut(BaseModel):
    id: uuid.UUID
    alert_id: uuid.UUID
    contract_id: uuid.UUID
    channel: Channel
    recipient: str
    role: Role
    language: str
    trigger: str
    stage: str
    state: DeliveryState
    #: why a suppressed delivery was not sent: opted_out or mail_limit
    reason: str | None = None
    attempts: int
    next_attempt_at: dt.datetime | None
    message_id: str | None
    subject: str | None
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


class NotificationDetail(NotificationOut):
    body_text: str | None
    body_html: str | None


def _out(row: asyncpg.Record) -> dict[str, object]:
    values = dict(row)
    # Only a delivery still waiting has a next attempt.
    if values["state"] not in (DeliveryState.QUEUED, DeliveryState.RETRYING):
        values["next_attempt_at"] = None
    return values


@router.get("", response_model=Page[NotificationOut], summary="List deliveries")
async def list_notifications(
    conn: ConnectionDep,
    _: Reader,
    state: Annotated[DeliveryState | None, Query()] = None,
    alert_id: Annotated[uuid.UUID | None, Query()] = None,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[NotificationOut]:
    rows = await store.list_deliveries(
        conn,
        decode_cursor(cursor),
        limit,
        state=state,
        alert_id=alert_id,
        contract_id=contract_id,
        channel=channel,
    )
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(
        items=[NotificationOut.model_validate(_out(r)) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/{notification_id}",
    response_model=NotificationDetail,
    summary="One delivery, with the mail as rendered",
)
async def get_notification(
    notification_id: uuid.UUID, conn: ConnectionDep, _: Reader
) -> NotificationDetail:
    row = await store.get_delivery(conn, notification_id)
    if row is None:
        raise Problem(
            404, "Not found", f"No notification {notification_id}.", field="notification_id"
        )
    return NotificationDetail.model_validate(_out(row))


@router.post(
    "/{notification_id}/retry",
    response_model=NotificationDetail,
    summary="Queue a failed delivery again (attempts are kept)",
)
async def retry_notification(
    notification_id: uuid.UUID, runtime: RuntimeDep, _: Writer
) -> NotificationDetail:
    async with runtime.pool.acquire() as conn, conn.transaction():
        row = await store.requeue_failed(conn, notification_id)
        if row is None:
            current = await store.get_delivery(conn, notification_id)
            if current is None:
                raise Problem(
                    404,
                    "Not found",
                    f"No notification {notification_id}.",
                    field="notification_id",
                )
            raise Problem(
                409,
                "Not retryable",
                f"Only a failed notification can be retried; this one is {current['state']}.",
                field="state",
                state=current["state"],
            )
    return NotificationDetail.model_validate(_out(row))
