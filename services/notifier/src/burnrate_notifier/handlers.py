"""Events in → effects, each inside the consumer's transaction with the inbox row."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from burnrate_common.bus import RetryLater
from burnrate_common.db import Connection
from burnrate_common.events import (
    AlertRaised,
    ContractChanged,
    CustomerChanged,
    Envelope,
    EventType,
    Payload,
)
from burnrate_common.report_links import ReportLinkSettings

from burnrate_notifier import store
from burnrate_notifier.domain.alerts import (
    AlertFacts,
    InternalFacts,
    alert_facts,
    alert_mail_context,
)
from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.limits import decide_mails
from burnrate_notifier.domain.recipients import (
    DEFAULT_LANGUAGE,
    ContactInfo,
    Role,
    resolve_recipients,
)
from burnrate_notifier.domain.unsubscribe import UnsubscribeLinks
from burnrate_notifier.domain.webhooks import encode_body
from burnrate_notifier.mail import RenderedMail, Templates, new_message_id

log = logging.getLogger(__name__)


class ReplicaBehind(RetryLater):
    """The alert names a contract or customer not replicated yet: the bus retries later."""


async def on_customer_changed(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, CustomerChanged)
    if await store.upsert_customer(conn, payload.id, payload.name, envelope.occurred_at):
        await store.replace_contacts(
            conn,
            payload.id,
            [(c.id, c.name, str(c.email), c.language) for c in payload.contacts],
        )


async def on_contract_changed(conn: Connection, envelope: Envelope, payload: Payload) -> None:
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
        teams=payload.teams,
        end_date=payload.end_date,
        currency=payload.currency,
        overage_rate=payload.overage_rate,
    )


@dataclass(frozen=True)
class Delivery:
    """What the alert handler needs besides the connection (built in bootstrap)."""

    templates: Templates
    message_id_domain: str
    max_mails_per_rule_period: int
    #: signs the link to the customer's own report put in the customer contacts' mails
    report_links: ReportLinkSettings
    #: signs the unsubscribe links of the mails to contacts and extra addresses
    unsubscribe_links: UnsubscribeLinks


async def on_alert_raised(
    conn: Connection, envelope: Envelope, payload: Payload, *, delivery: Delivery
) -> None:
    """Queue one rendered e-mail per recipient (or a suppressed one: opted out, over the mail
    limit), a signed webhook call, and the in-app feed entries. Rendering now, not at send
    time, means a later change to the replica never alters a mail already queued."""
    assert isinstance(payload, AlertRaised)
    audience = payload.audience
    contract = await store.get_contract(conn, payload.contract_id)
    if contract is None:
        raise ReplicaBehind(f"contract {payload.contract_id} is not replicated yet")
    contacts: list[ContactInfo] = []
    if audience.customer_contacts:
        rows = await store.customer_contacts(conn, contract["customer_id"])
        if rows is None:
            raise ReplicaBehind(f"customer {contract['customer_id']} is not replicated yet")
        contacts = [ContactInfo(r["name"], r["email"], r["language"]) for r in rows]

    recipients = resolve_recipients(
        owner=audience.owner,
        customer_contacts=audience.customer_contacts,
        emails=[str(e) for e in audience.emails],
        owner_email=contract["owner_email"],
        contacts=contacts,
    )
    facts = AlertFacts(
        days_before_end=payload.days_before_end,
        forecast_seconds=payload.forecast_seconds,
        forecast_exhaustion_date=payload.forecast_exhaustion_date,
        unused_seconds=payload.unused_seconds,
        outside_dates_seconds=payload.outside_dates_seconds,
    )
    internal = InternalFacts(
        rule_name=payload.rule_name,
        customer_name=contract["customer_name"],
        overage_rate=contract["overage_rate"],
        currency=contract["currency"],
    )

    # The event's time, not now: a redelivery renders the very same link.
    customer_report_url, _, _ = delivery.report_links.customer_report_url(
        contract["customer_id"], envelope.occurred_at
    )

    def render(
        language: str,
        name: str | None,
        show_internal: bool,
        for_owner: bool,
        report_url: str | None = None,
        unsubscribe_url: str | None = None,
    ) -> RenderedMail:
        return delivery.templates.render_alert(
            alert_mail_context(
                language=language,
                recipient_name=name,
                contract_code=contract["code"],
                contract_title=contract["title"],
                trigger=payload.trigger,
                stage=payload.stage,
                period_start=payload.period_start,
                period_end=payload.period_end,
                planned_seconds=payload.planned_seconds,
                executed_seconds=payload.executed_seconds,
                facts=facts,
                contract_end=contract["end_date"],
                internal=internal if show_internal else None,
                for_owner=for_owner,
                report_url=report_url,
                unsubscribe_url=unsubscribe_url,
            )
        )

    deliveries: list[store.NewDelivery] = []
    if recipients:
        await store.lock_mail_limit(
            conn, payload.contract_id, payload.rule_id, payload.period_start
        )
        addresses = [r.address for r in recipients]
        decisions = decide_mails(
            recipients,
            opted_out=await store.opted_out(conn, addresses),
            mails_so_far=await store.mails_so_far(
                conn, payload.contract_id, payload.rule_id, payload.period_start, addresses
            ),
            limit=delivery.max_mails_per_rule_period,
        )
        for decision in decisions:
            recipient = decision.recipient
            # Anyone outside the MSP can stop the mails; the owner (internal) changes the rule.
            # Signed with the event's time, like the report link: a redelivery is identical.
            unsubscribe_url = (
                None
                if recipient.role is Role.OWNER
                else delivery.unsubscribe_links.url(
                    recipient.address, recipient.language, envelope.occurred_at
                )
            )
            mail = render(
                recipient.language,
                recipient.name,
                recipient.internal or audience.include_internal,
                recipient.internal,
                customer_report_url if recipient.role is Role.CONTACT else None,
                unsubscribe_url,
            )
            deliveries.append(
                store.NewDelivery(
                    id=uuid.uuid4(),
                    channel=Channel.EMAIL,
                    recipient=recipient.address,
                    role=recipient.role.value,
                    language=recipient.language,
                    message_id=new_message_id(delivery.message_id_domain),
                    subject=mail.subject,
                    body_text=mail.text,
                    body_html=mail.html,
                    state=DeliveryState.SUPPRESSED if decision.suppressed else DeliveryState.QUEUED,
                    reason=decision.suppressed.value if decision.suppressed else None,
                    unsubscribe_url=unsubscribe_url,
                )
            )
    alert_facts_json = alert_facts(
        payload,
        contract_code=contract["code"],
        contract_title=contract["title"],
        include_internal=audience.include_internal,
    )
    if audience.webhook_url:
        delivery_id = uuid.uuid4()
        body = {
            "event": EventType.ALERT_RAISED.value,
            "delivery_id": str(delivery_id),
            "raised_at": envelope.occurred_at.isoformat(),
        } | alert_facts_json
        deliveries.append(
            store.NewDelivery(
                id=delivery_id,
                channel=Channel.WEBHOOK,
                recipient=audience.webhook_url,
                role=Role.WEBHOOK.value,
                language=DEFAULT_LANGUAGE,
                body_text=encode_body(body),
            )
        )
    queued = await store.insert_deliveries(
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

    # The feed is read inside the MSP: owner and teams see the internal view, in English.
    entries = []
    if audience.teams:
        entries += [
            store.NewFeedEntry(uuid.uuid4(), "team", team)
            for team in dict.fromkeys(contract["teams"])
        ]
    if audience.owner:
        entries.append(store.NewFeedEntry(uuid.uuid4(), "owner", contract["owner_email"].lower()))
    feed = 0
    if entries:
        headline = render(DEFAULT_LANGUAGE, None, True, True).subject.removeprefix("[Burnrate] ")
        feed = await store.insert_feed_entries(
            conn,
            alert_id=payload.alert_id,
            contract_id=payload.contract_id,
            trigger=payload.trigger,
            stage=payload.stage,
            period_start=payload.period_start,
            period_end=payload.period_end,
            headline=headline,
            facts=alert_facts(
                payload,
                contract_code=contract["code"],
                contract_title=contract["title"],
                include_internal=True,
            ),
            entries=entries,
        )
    log.info(
        "alert queued for delivery",
        extra={
            "alert_id": str(payload.alert_id),
            "deliveries": len(deliveries),
            "queued": queued,
            "feed_entries": feed,
        },
    )
