"""The request and response models of the notifier's REST API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from burnrate_common.pagination import Page
from pydantic import BaseModel, Field

from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.recipients import Role

# -- deliveries (/v1/notifications) -------------------------------------------------------


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
    reason: str | None = Field(
        default=None,
        description="Why a suppressed delivery was not sent: opted_out, mail_limit (the "
        "rule's mails to the address this period) or address_daily_limit (the address's "
        "mails of the last 24 hours, all rules)",
    )
    attempts: int
    next_attempt_at: dt.datetime | None
    message_id: str | None
    subject: str | None
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None


class NotificationDetail(NotificationOut):
    body_text: str | None = Field(
        description="The mail as rendered (a webhook: the JSON body sent), its signed links "
        "(the customer's report, unsubscribe) shown as .../REDACTED: the mail sent carries them"
    )
    body_html: str | None = Field(description="The HTML part, its signed links redacted alike")


# -- the in-app feed (/v1/feed) -----------------------------------------------------------


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


# -- opt-outs (/v1/opt-outs) --------------------------------------------------------------


class OptOutOut(BaseModel):
    email: str
    created_at: dt.datetime
