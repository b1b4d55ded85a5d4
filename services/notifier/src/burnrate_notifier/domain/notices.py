"""Mails that are not alerts ("notices"): a statement sent to the customer for approval,
and a resolved ticket's link to confirm the closure (or reopen it) and rate it.

Each notice has an id of its own, derived from what it is about, so the same notice heard
twice (a redelivered event, an outbox relay that sends again) is the same delivery per
recipient — the notifier's key (alert_id, channel, recipient) — never a second mail.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from burnrate_notifier.domain.alerts import format_amount, local_time, period_label, zone_of
from burnrate_notifier.domain.recipients import supported_language

#: The namespace of notice ids (uuid5): no alert id (uuid4) can be one.
NOTICE_NAMESPACE = uuid.UUID("8f3a0c55-7b0e-4d1c-9a43-5c1f2b7d9e10")

STATEMENT_SENT = "statement_sent"
TICKET_RESOLVED = "ticket_resolved"


def statement_notice_id(statement_id: uuid.UUID, link: str) -> uuid.UUID:
    """One notice per statement and link: the statement sent again (after a correction) has
    a new link, and that is news; the same send heard twice is not."""
    return uuid.uuid5(NOTICE_NAMESPACE, f"{STATEMENT_SENT}:{statement_id}:{link}")


def ticket_notice_id(ticket_id: uuid.UUID, resolved_at: dt.datetime) -> uuid.UUID:
    """One notice per resolution of a ticket: a reopened ticket resolved again asks again."""
    stamp = resolved_at.astimezone(dt.UTC).isoformat()
    return uuid.uuid5(NOTICE_NAMESPACE, f"{TICKET_RESOLVED}:{ticket_id}:{stamp}")


def statement_mail_context(
    *,
    language: str,
    recipient_name: str | None,
    contract_code: str,
    contract_title: str,
    period_start: dt.date,
    period_end: dt.date,
    currency: str,
    subtotal: Decimal,
    vat: Decimal,
    total: Decimal,
    link: str,
) -> dict[str, object]:
    """The variables of the statement mail, amounts formatted for ``language``."""
    language = supported_language(language)

    def money(value: Decimal) -> str:
        return format_amount(value, currency, language)

    return {
        "language": language,
        "trigger": STATEMENT_SENT,
        "name": recipient_name or None,
        "code": contract_code,
        "title": contract_title,
        "period": period_label(period_start, period_end, language),
        "subtotal": money(subtotal),
        "vat": money(vat),
        "total": money(total),
        "link": link,
    }


def ticket_mail_context(
    *,
    language: str,
    recipient_name: str | None,
    contract_code: str,
    contract_title: str,
    reference: str,
    priority: str,
    level: str | None,
    resolved_at: dt.datetime,
    timezone: str | None,
    link: str,
) -> dict[str, object]:
    """The variables of the confirmation mail; the resolution said in the contract's zone."""
    language = supported_language(language)
    return {
        "language": language,
        "trigger": TICKET_RESOLVED,
        "name": recipient_name or None,
        "code": contract_code,
        "title": contract_title,
        "ticket": reference,
        "priority": priority,
        "level": level,
        "resolved_at": local_time(resolved_at, zone_of(timezone), language, None),
        "link": link,
    }
