"""Events in → one use-case call each, in the consumer's transaction with the inbox row."""

from __future__ import annotations

from burnrate_common.db import Connection
from burnrate_common.event_payloads import SlaStageReached, TicketConfirmed
from burnrate_common.events import (
    ContractChanged,
    CustomerChanged,
    Envelope,
    EventType,
    WorklogsChanged,
)
from burnrate_common.handling import EventHandlers

from burnrate_billing.service import Deps, customers, replica

HANDLERS: EventHandlers[Deps] = EventHandlers()


# A deletion is kept as a tombstone with lifecycle "deleted".
@HANDLERS.on(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED, EventType.CONTRACT_DELETED)
async def on_contract_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await replica.record_contract(conn, deps, payload, changed_at=envelope.occurred_at)


# The buyer's billing details; a deleted customer keeps its last state, flagged.
@HANDLERS.on(EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED, EventType.CUSTOMER_DELETED)
async def on_customer_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: CustomerChanged
) -> None:
    await customers.record_customer(
        conn,
        payload,
        changed_at=envelope.occurred_at,
        deleted=envelope.type == EventType.CUSTOMER_DELETED,
    )


@HANDLERS.on(EventType.WORKLOG_RECORDED, EventType.WORKLOG_CORRECTED, EventType.WORKLOG_DELETED)
async def on_worklogs(
    deps: Deps, conn: Connection, envelope: Envelope, payload: WorklogsChanged
) -> None:
    await replica.record_worklogs(
        conn,
        deps,
        payload.worklogs,
        deleted=envelope.type == EventType.WORKLOG_DELETED,
        cause=f"{envelope.type.value} ({envelope.id})",
    )


@HANDLERS.on(EventType.TICKET_CONFIRMED)
async def on_ticket_confirmed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: TicketConfirmed
) -> None:
    await replica.record_confirmation(conn, deps, payload)


@HANDLERS.on(EventType.SLA_BREACHED)
async def on_sla_breached(
    deps: Deps, conn: Connection, envelope: Envelope, payload: SlaStageReached
) -> None:
    await replica.record_breach(conn, deps, payload)
