"""The deliveries of alerts (/v1/notifications)."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query

from burnrate_notifier.auth import NotificationsReader, NotificationsWriter
from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.limits import Suppressed
from burnrate_notifier.schemas import NotificationDetail, NotificationOut
from burnrate_notifier.service import notifications

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", response_model=Page[NotificationOut], summary="List deliveries")
async def list_notifications(
    conn: ConnectionDep,
    _: NotificationsReader,
    state: Annotated[DeliveryState | None, Query()] = None,
    alert_id: Annotated[uuid.UUID | None, Query()] = None,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    channel: Annotated[Channel | None, Query()] = None,
    reason: Annotated[
        Suppressed | None,
        Query(
            description="Only deliveries suppressed for this reason: opted_out, mail_limit "
            "(the rule's mails to the address this period), address_daily_limit (the "
            "address's mails of the last 24 hours, all rules)"
        ),
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[NotificationOut]:
    return await notifications.list_notifications(
        conn,
        state=state,
        alert_id=alert_id,
        contract_id=contract_id,
        channel=channel,
        reason=reason,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{notification_id}",
    response_model=NotificationDetail,
    summary="One delivery, with the mail as rendered",
)
async def get_notification(
    notification_id: uuid.UUID, conn: ConnectionDep, _: NotificationsReader
) -> NotificationDetail:
    return await notifications.get_notification(conn, notification_id)


@router.post(
    "/{notification_id}/retry",
    response_model=NotificationDetail,
    summary="Queue a failed delivery again (attempts are kept)",
)
async def retry_notification(
    notification_id: uuid.UUID, conn: ConnectionDep, _: NotificationsWriter
) -> NotificationDetail:
    return await notifications.retry_notification(conn, notification_id)
