"""An alert becomes deliveries: one rendered e-mail per recipient (or a suppressed one: opted
out, over the rule's mail limit, over the address's daily cap), a signed webhook call, and
the in-app feed entries.

Rendering now, not at send time, means a later change to the replica never alters a mail
already queued. Links in a mail are signed with the alert's time, not now, so a redelivered
alert renders the very same mail.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from burnrate_common.bus import RetryLater
from burnrate_common.db import Connection
from burnrate_common.events import AlertRaised, EventType

from burnrate_notifier import store
from burnrate_notifier.domain.alerts import InternalFacts, alert_facts, alert_mail_context
from burnrate_notifier.domain.deliveries import Channel, DeliveryState
from burnrate_notifier.domain.limits import decide_mails
from burnrate_notifier.domain.recipients import (
    DEFAULT_LANGUAGE,
    ContactInfo,
    Role,
    resolve_recipients,
)
from burnrate_notifier.domain.webhooks import encode_body
from burnrate_notifier.mail import RenderedMail, Templates, new_message_id
from burnrate_notifier.service import Deps

log = logging.getLogger(__name__)


class ReplicaBehind(RetryLater):
    """The alert names a contract or customer not replicated yet: the bus retries later."""


async def deliver_alert(
    conn: Connection,
    deps: Deps,
    alert: AlertRaised,
    *,
    raised_at: dt.datetime,
    correlation_id: str,
    causation_id: uuid.UUID,
) -> None:
    """Queue the mails and the webhook call of ``alert`` and add its feed entries; a delivery
    or feed entry already recorded for this alert is skipped (a redelivered event)."""
    async with conn.transaction():
        contract = await store.get_contract(conn, alert.contract_id)
        if contract is None:
            raise ReplicaBehind(f"contract {alert.contract_id} is not replicated yet")
        contacts: list[ContactInfo] = []
        if alert.audience.customer_contacts:
            found = await store.customer_contacts(conn, contract.customer_id)
            if found is None:
                raise ReplicaBehind(f"customer {contract.customer_id} is not replicated yet")
            contacts = found
        render = _Renderer(deps.templates, alert, contract, raised_at)

        deliveries = await _mails(conn, deps, alert, contract, contacts, render, raised_at)
        if alert.audience.webhook_url:
            deliveries.append(_webhook(alert, alert.audience.webhook_url, contract, raised_at))
        queued = await store.insert_deliveries(
            conn,
            alert_id=alert.alert_id,
            rule_id=alert.rule_id,
            contract_id=alert.contract_id,
            period_start=alert.period_start,
            trigger=alert.trigger,
            stage=alert.stage,
            correlation_id=correlation_id,
            causation_id=causation_id,
            deliveries=deliveries,
        )
        feed = await _feed(conn, alert, contract, render)
    log.info(
        "alert queued for delivery",
        extra={
            "alert_id": str(alert.alert_id),
            "deliveries": len(deliveries),
            "queued": queued,
            "feed_entries": feed,
        },
    )


@dataclass(frozen=True)
class _Renderer:
    """Renders the alert's mail for one reader."""

    templates: Templates
    alert: AlertRaised
    contract: store.ReplicatedContract
    raised_at: dt.datetime

    def __call__(
        self,
        *,
        language: str,
        name: str | None,
        show_internal: bool,
        for_owner: bool,
        report_url: str | None = None,
        unsubscribe_url: str | None = None,
    ) -> RenderedMail:
        alert, contract = self.alert, self.contract
        internal = InternalFacts(
            rule_name=alert.rule_name,
            customer_name=contract.customer_name,
            overage_rate=contract.overage_rate,
            currency=contract.currency,
        )
        return self.templates.render_alert(
            alert_mail_context(
                language=language,
                recipient_name=name,
                contract_code=contract.code,
                contract_title=contract.title,
                trigger=alert.trigger,
                stage=alert.stage,
                period_start=alert.period_start,
                period_end=alert.period_end,
                planned_seconds=alert.planned_seconds,
                executed_seconds=alert.executed_seconds,
                facts=alert,
                contract_end=contract.end_date,
                internal=internal if show_internal else None,
                for_owner=for_owner,
                report_url=report_url,
                unsubscribe_url=unsubscribe_url,
                timezone=contract.timezone,
                raised_at=self.raised_at,
            )
        )


async def _mails(
    conn: Connection,
    deps: Deps,
    alert: AlertRaised,
    contract: store.ReplicatedContract,
    contacts: list[ContactInfo],
    render: _Renderer,
    raised_at: dt.datetime,
) -> list[store.NewDelivery]:
    """One mail per recipient, suppressed for opted-out addresses and those over the limit."""
    audience = alert.audience
    recipients = resolve_recipients(
        owner=audience.owner,
        customer_contacts=audience.customer_contacts,
        emails=[str(e) for e in audience.emails],
        owner_email=contract.owner_email,
        contacts=contacts,
    )
    if not recipients:
        return []
    addresses = [r.address for r in recipients]
    # An alert of one ticket (a service-level stage) is fired once per ticket stage by
    # rules: a busy month's tickets must not use up the rule's mails for the period; the
    # address's daily cap still holds.
    per_ticket = alert.ticket_id is not None
    mails_so_far: dict[str, int] = {}
    if not per_ticket:
        await store.lock_mail_limit(conn, alert.contract_id, alert.rule_id, alert.period_start)
    await store.lock_addresses(conn, addresses)
    if not per_ticket:
        mails_so_far = await store.mails_so_far(
            conn, alert.contract_id, alert.rule_id, alert.period_start, addresses
        )
    decisions = decide_mails(
        recipients,
        opted_out=await store.opted_out(conn, addresses),
        mails_so_far=mails_so_far,
        limit=None if per_ticket else deps.max_mails_per_rule_period,
        mails_today=await store.mails_today(conn, addresses),
        daily_limit=deps.max_mails_per_address_per_day,
    )
    customer_report_url, _, _ = deps.report_links.customer_report_url(
        contract.customer_id, raised_at
    )
    mails = []
    for decision in decisions:
        recipient = decision.recipient
        # Anyone outside the MSP can stop the mails; the owner (internal) changes the rule.
        unsubscribe_url = (
            None
            if recipient.role is Role.OWNER
            else deps.unsubscribe_links.url(recipient.address, recipient.language, raised_at)
        )
        mail = render(
            language=recipient.language,
            name=recipient.name,
            show_internal=recipient.internal or audience.include_internal,
            for_owner=recipient.internal,
            report_url=customer_report_url if recipient.role is Role.CONTACT else None,
            unsubscribe_url=unsubscribe_url,
        )
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
                unsubscribe_url=unsubscribe_url,
            )
        )
    return mails


def _webhook(
    alert: AlertRaised, url: str, contract: store.ReplicatedContract, raised_at: dt.datetime
) -> store.NewDelivery:
    """The webhook call: its JSON body made now, so every retry sends the same bytes."""
    delivery_id = uuid.uuid4()
    body = {
        "event": EventType.ALERT_RAISED.value,
        "delivery_id": str(delivery_id),
        "raised_at": raised_at.isoformat(),
    } | alert_facts(
        alert,
        contract_code=contract.code,
        contract_title=contract.title,
        include_internal=alert.audience.include_internal,
    )
    return store.NewDelivery(
        id=delivery_id,
        channel=Channel.WEBHOOK,
        recipient=url,
        role=Role.WEBHOOK.value,
        language=DEFAULT_LANGUAGE,
        body_text=encode_body(body),
    )


async def _feed(
    conn: Connection, alert: AlertRaised, contract: store.ReplicatedContract, render: _Renderer
) -> int:
    """The feed entries of the contract's teams and owner, as the audience says; returns how
    many were added. The feed is read inside the MSP: the internal view, in English."""
    entries = []
    if alert.audience.teams:
        entries += [
            store.NewFeedEntry(uuid.uuid4(), "team", team) for team in dict.fromkeys(contract.teams)
        ]
    if alert.audience.owner:
        entries.append(store.NewFeedEntry(uuid.uuid4(), "owner", contract.owner_email.lower()))
    if not entries:
        return 0
    headline = render(
        language=DEFAULT_LANGUAGE, name=None, show_internal=True, for_owner=True
    ).subject.removeprefix("[Burnrate] ")
    return await store.insert_feed_entries(
        conn,
        alert_id=alert.alert_id,
        contract_id=alert.contract_id,
        trigger=alert.trigger,
        stage=alert.stage,
        period_start=alert.period_start,
        period_end=alert.period_end,
        headline=headline,
        facts=alert_facts(
            alert,
            contract_code=contract.code,
            contract_title=contract.title,
            include_internal=True,
        ),
        entries=entries,
    )
