"""Mails that are not alerts ("notices"), to the customer's contacts: the statement billing
sent for approval (``statement.sent``, with its signed link and total), and a resolved
ticket's signed link to confirm the closure, reopen it or rate it (``ticket.resolved``).

They go the way alert mails go — rendered now, one delivery per recipient under the
notice's own id (so a redelivered event is no second mail), a Message-ID kept for resends,
through the sender and the address's daily cap — but they answer to no rule: no rule's
mail limit, and an address that opted out of alert mails still gets the statement it has
to approve and the ticket it is asked to confirm (so these mails carry no unsubscribe link).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable

from burnrate_common.db import Connection
from burnrate_common.event_payloads import StatementChanged, TicketChanged

from burnrate_notifier import store
from burnrate_notifier.domain.alerts import zone_of
from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.limits import decide_mails
from burnrate_notifier.domain.notices import (
    STATEMENT_SENT,
    TICKET_RESOLVED,
    statement_mail_context,
    statement_notice_id,
    ticket_mail_context,
    ticket_notice_id,
)
from burnrate_notifier.domain.recipients import Recipient, resolve_recipients
from burnrate_notifier.mail import new_message_id
from burnrate_notifier.service import Deps
from burnrate_notifier.service.alerts import ReplicaBehind

log = logging.getLogger(__name__)

#: the variables of one recipient's mail
Context = Callable[[Recipient], dict[str, object]]


async def deliver_statement(
    conn: Connection,
    deps: Deps,
    statement: StatementChanged,
    *,
    correlation_id: str,
    causation_id: uuid.UUID,
) -> None:
    """The statement's link and total to the customer's contacts (a statement without a
    link — an older producer — is nobody's mail)."""
    if not statement.link:
        return
    link = statement.link

    async with conn.transaction():
        contract = await _contract(conn, statement.contract_id)

        def context(r: Recipient) -> dict[str, object]:
            return statement_mail_context(
                language=r.language,
                recipient_name=r.name,
                contract_code=contract.code,
                contract_title=contract.title,
                period_start=statement.period_start,
                period_end=statement.period_end,
                currency=statement.currency,
                subtotal=statement.subtotal,
                vat=statement.vat,
                total=statement.total,
                link=link,
            )

        await _deliver(
            conn,
            deps,
            contract,
            notice_id=statement_notice_id(statement.statement_id, link),
            kind=STATEMENT_SENT,
            stage="sent",
            period_start=statement.period_start,
            context=context,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )


async def deliver_confirmation(
    conn: Connection,
    deps: Deps,
    ticket: TicketChanged,
    *,
    correlation_id: str,
    causation_id: uuid.UUID,
) -> None:
    """The resolved ticket's confirmation link to the customer's contacts (a ticket resolved
    without one — the contract does not ask, or no link secret — is nobody's mail)."""
    if not ticket.confirmation_link or ticket.resolved_at is None:
        return
    link, resolved_at = ticket.confirmation_link, ticket.resolved_at

    async with conn.transaction():
        contract = await _contract(conn, ticket.contract_id)

        def context(r: Recipient) -> dict[str, object]:
            return ticket_mail_context(
                language=r.language,
                recipient_name=r.name,
                contract_code=contract.code,
                contract_title=contract.title,
                reference=ticket.reference,
                priority=ticket.priority,
                level=ticket.level,
                resolved_at=resolved_at,
                timezone=contract.timezone,
                link=link,
            )

        await _deliver(
            conn,
            deps,
            contract,
            notice_id=ticket_notice_id(ticket.ticket_id, resolved_at),
            kind=TICKET_RESOLVED,
            stage="resolved",
            period_start=_local_day(resolved_at, contract.timezone),
            context=context,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )


async def _contract(conn: Connection, contract_id: uuid.UUID) -> store.ReplicatedContract:
    contract = await store.get_contract(conn, contract_id)
    if contract is None:
        raise ReplicaBehind(f"contract {contract_id} is not replicated yet")
    return contract


def _local_day(at: dt.datetime, timezone: str) -> dt.date:
    return at.astimezone(zone_of(timezone)).date()


async def _deliver(
    conn: Connection,
    deps: Deps,
    contract: store.ReplicatedContract,
    *,
    notice_id: uuid.UUID,
    kind: str,
    stage: str,
    period_start: dt.date,
    context: Context,
    correlation_id: str,
    causation_id: uuid.UUID,
) -> None:
    contacts = await store.customer_contacts(conn, contract.customer_id)
    if contacts is None:
        raise ReplicaBehind(f"customer {contract.customer_id} is not replicated yet")
    recipients = resolve_recipients(
        owner=False,
        customer_contacts=True,
        emails=[],
        owner_email=contract.owner_email,
        contacts=contacts,
    )
    if not recipients:
        return
    addresses = [r.address for r in recipients]
    await store.lock_addresses(conn, addresses)
    decisions = decide_mails(
        recipients,
        opted_out=(),
        mails_so_far={},
        limit=None,
        mails_today=await store.mails_today(conn, addresses),
        daily_limit=deps.max_mails_per_address_per_day,
    )
    mails = []
    for decision in decisions:
        recipient = decision.recipient
        mail = deps.templates.render_alert(context(recipient))
        mails.append(
            store.NewDelivery(
                id=uuid.uuid4(),
                channel=Channel.EMAIL,
                recipient=recipient.address,
                role=recipient.role.value,
                language=recipient.language,
                message_id=new_message_id(deps.message_id_domain),
                subject=mail.subject,
                body_text=mail.text,
                body_html=mail.html,
                state=DeliveryState.SUPPRESSED if decision.suppressed else DeliveryState.QUEUED,
                reason=decision.suppressed.value if decision.suppressed else None,
            )
        )
    queued = await store.insert_deliveries(
        conn,
        alert_id=notice_id,
        rule_id=None,
        contract_id=contract.id,
        period_start=period_start,
        trigger=kind,
        stage=stage,
        correlation_id=correlation_id,
        causation_id=causation_id,
        deliveries=mails,
    )
    log.info(
        "notice queued for delivery",
        extra={"notice_id": str(notice_id), "kind": kind, "queued": queued},
    )
