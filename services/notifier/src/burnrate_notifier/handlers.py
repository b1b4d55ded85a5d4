"""Events in → effects, each inside the consumer's transaction with the inbox row."""

from __future__ import annotations

import logging

import asyncpg
from burnrate_common.events import AlertRaised, ContractChanged, CustomerChanged, Envelope, Payload

from burnrate_notifier import store
from burnrate_notifier.domain.alerts import alert_mail_context
from burnrate_notifier.domain.recipients import ContactInfo, resolve_recipients
from burnrate_notifier.mail import Templates, new_message_id

log = logging.getLogger(__name__)


class ReplicaBehind(Exception):
    """The alert names a contract or customer not replicated yet: the bus retries later."""


async def on_customer_changed(
    conn: asyncpg.Connection, envelope: Envelope, payload: Payload
) -> None:
    assert isinstance(payload, CustomerChanged)
    if await store.upsert_customer(conn, payload.id, payload.name, envelope.occurred_at):
        await store.replace_contacts(
            conn,
            payload.id,
            [(c.id, c.name, str(c.email), c.language) for c in payload.contacts],
        )


async def on_contract_changed(
    conn: asyncpg.Connection, envelope: Envelope, payload: Payload
) -> None:
    assert isinstance(payload, ContractChanged)
    await store.upsert_contract(
        conn,
        contract_id=payload.id,
        customer_id=payload.customer_id,
        code=payload.code,
        title=payload.title,
        owner_email=str(payload.owner_email),
        timezone=payload.timezone,
        source_at=envelope.occurred_at,
    )


async def on_alert_raised(
    conn: asyncpg.Connection,
    envelope: Envelope,
    payload: Payload,
    *,
    templates: Templates,
    message_id_domain: str,
) -> None:
    """Queue one rendered e-mail per recipient. Rendering now, not at send time, means a
    later change to the replica never alters a mail already queued."""
    assert isinstance(payload, AlertRaised)
    contract = await store.get_contract(conn, payload.contract_id)
    if contract is None:
        raise ReplicaBehind(f"contract {payload.contract_id} is not replicated yet")
    contacts: list[ContactInfo] = []
    if payload.audience.customer_contacts:
        rows = await store.customer_contacts(conn, contract["customer_id"])
        if rows is None:
            raise ReplicaBehind(f"customer {contract['customer_id']} is not replicated yet")
        contacts = [ContactInfo(r["name"], r["email"], r["language"]) for r in rows]

    recipients = resolve_recipients(
        owner=payload.audience.owner,
        customer_contacts=payload.audience.customer_contacts,
        emails=[str(e) for e in payload.audience.emails],
        owner_email=contract["owner_email"],
        contacts=contacts,
    )
    deliveries = []
    for recipient in recipients:
        mail = templates.render_alert(
            alert_mail_context(
                language=recipient.language,
                recipient_name=recipient.name,
                contract_code=contract["code"],
                contract_title=contract["title"],
                trigger=payload.trigger,
                stage=payload.stage,
                period_start=payload.period_start,
                period_end=payload.period_end,
                planned_seconds=payload.planned_seconds,
                executed_seconds=payload.executed_seconds,
            )
        )
        deliveries.append(
            store.NewEmailDelivery(
                recipient=recipient.address,
                role=recipient.role.value,
                language=recipient.language,
                message_id=new_message_id(message_id_domain),
                subject=mail.subject,
                body_text=mail.text,
                body_html=mail.html,
            )
        )
    queued = await store.insert_email_deliveries(
        conn,
        alert_id=payload.alert_id,
        rule_id=payload.rule_id,
        contract_id=payload.contract_id,
        period_start=payload.period_start,
        trigger=payload.trigger,
        stage=payload.stage,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
        deliveries=deliveries,
    )
    log.info(
        "alert queued for delivery",
        extra={
            "alert_id": str(payload.alert_id),
            "recipients": len(recipients),
            "queued": queued,
        },
    )
