"""The deliveries of alerts: listed, shown with the mail as rendered, retried by hand.

The API shows a mail's body with its signed links redacted (the customer's report link and
the unsubscribe link): each is a capability — to open a customer's reports, to opt an
address out — that ``notifications:read`` does not grant. The mail sent carries them.
"""

from __future__ import annotations

import re
import uuid

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page, decode_cursor, encode_cursor

from burnrate_notifier import store
from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.limits import Suppressed
from burnrate_notifier.schemas import NotificationDetail, NotificationOut

#: The token of a signed link (``<payload>.<signature>``, base64url) after the paths that
#: serve them: the customer report (``/ui/c/``) and the unsubscribe page.
_SIGNED_LINK = re.compile(r"(/ui/c/|/unsubscribe/)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
REDACTED = "REDACTED"


def redact_links(body: str | None) -> str | None:
    """The body with the token of every signed link replaced by ``REDACTED``."""
    return None if body is None else _SIGNED_LINK.sub(rf"\g<1>{REDACTED}", body)


def _values(row: asyncpg.Record) -> dict[str, object]:
    values = dict(row)
    # Only a delivery still waiting has a next attempt.
    if values["state"] not in (DeliveryState.QUEUED, DeliveryState.RETRYING):
        values["next_attempt_at"] = None
    for body in ("body_text", "body_html"):
        if body in values:
            values[body] = redact_links(values[body])
    return values


def _not_found(notification_id: uuid.UUID) -> Problem:
    return Problem(404, "Not found", f"No notification {notification_id}.", field="notification_id")


async def list_notifications(
    conn: Connection,
    *,
    state: DeliveryState | None,
    alert_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
    channel: Channel | None,
    limit: int,
    cursor: str | None,
    reason: Suppressed | None = None,
) -> Page[NotificationOut]:
    """Oldest first, keyset-paged."""
    rows = await store.list_deliveries(
        conn,
        decode_cursor(cursor),
        limit,
        state=state,
        alert_id=alert_id,
        contract_id=contract_id,
        channel=channel,
        reason=reason.value if reason else None,
    )
    next_cursor = (
        encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) == limit else None
    )
    return Page(
        items=[NotificationOut.model_validate(_values(r)) for r in rows], next_cursor=next_cursor
    )


async def get_notification(conn: Connection, notification_id: uuid.UUID) -> NotificationDetail:
    row = await store.get_delivery(conn, notification_id)
    if row is None:
        raise _not_found(notification_id)
    return NotificationDetail.model_validate(_values(row))


async def retry_notification(conn: Connection, notification_id: uuid.UUID) -> NotificationDetail:
    """A failed delivery back in the queue, due now; its attempts are kept, so a retry by
    hand buys exactly one more try. Anything but a failed delivery is a 409."""
    async with conn.transaction():
        row = await store.requeue_failed(conn, notification_id)
        if row is None:
            current = await store.get_delivery(conn, notification_id)
            if current is None:
                raise _not_found(notification_id)
            raise Problem(
                409,
                "Not retryable",
                f"Only a failed notification can be retried; this one is {current['state']}.",
                field="state",
                state=current["state"],
            )
    return NotificationDetail.model_validate(_values(row))
