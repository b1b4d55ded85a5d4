"""Events in → one use-case call each, inside the consumer's transaction with the inbox row."""

from __future__ import annotations

from burnrate_common.db import Connection
from burnrate_common.event_payloads import StatementChanged, TicketChanged
from burnrate_common.events import (
    AlertRaised,
    ContractChanged,
    CustomerChanged,
    Envelope,
    EventType,
)
from burnrate_common.handling import EventHandlers

from burnrate_notifier.service import Deps, alerts, notices, replicas

HANDLERS: EventHandlers[Deps] = EventHandlers()


@HANDLERS.on(EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED)
async def on_customer_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: CustomerChanged
) -> None:
    await replicas.apply_customer(conn, payload, source_at=envelope.occurred_at)


@HANDLERS.on(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED)
async def on_contract_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await replicas.apply_contract(conn, payload, source_at=envelope.occurred_at)


@HANDLERS.on(EventType.ALERT_RAISED)
async def on_alert_raised(
    deps: Deps, conn: Connection, envelope: Envelope, payload: AlertRaised
) -> None:
    await alerts.deliver_alert(
        conn,
        deps,
        payload,
        raised_at=envelope.occurred_at,
        correlation_id=envelope.correlation_id,
        causation_id=envelope.id,
    )


@HANDLERS.on(EventType.STATEMENT_SENT)
async def on_statement_sent(
    deps: Deps, conn: Connection, envelope: Envelope, payload: StatementChanged
) -> None:
    await notices.deliver_statement(
        conn, deps, payload, correlation_id=envelope.correlation_id, causation_id=envelope.id
    )


@HANDLERS.on(EventType.TICKET_RESOLVED)
async def on_ticket_resolved(
    deps: Deps, conn: Connection, envelope: Envelope, payload: TicketChanged
) -> None:
    await notices.deliver_confirmation(
        conn, deps, payload, correlation_id=envelope.correlation_id, causation_id=envelope.id
    )
