"""Events in → one use-case call each, in the consumer's transaction with the inbox row."""

from __future__ import annotations

from burnrate_common.db import Connection
from burnrate_common.event_payloads import SlaStageReached, StatementChanged
from burnrate_common.events import (
    ConsumptionRecorded,
    ContractChanged,
    Envelope,
    EventType,
    PeriodConsumptionRecorded,
)
from burnrate_common.handling import EventHandlers

from burnrate_rules.service import Deps, sla, statements, totals

HANDLERS: EventHandlers[Deps] = EventHandlers()


# A deletion is kept as a tombstone with lifecycle "deleted": only active contracts alert.
@HANDLERS.on(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED, EventType.CONTRACT_DELETED)
async def on_contract_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await totals.record_contract(
        conn, deps, payload, changed_at=envelope.occurred_at, causation_id=envelope.id
    )


@HANDLERS.on(EventType.CONSUMPTION_RECORDED)
async def on_consumption_recorded(
    deps: Deps,
    conn: Connection,
    envelope: Envelope,
    payload: ConsumptionRecorded | PeriodConsumptionRecorded,
) -> None:
    await totals.record_consumption(conn, deps, payload.as_period(), causation_id=envelope.id)


@HANDLERS.on(EventType.STATEMENT_UPDATED, EventType.STATEMENT_SENT, EventType.STATEMENT_APPROVED)
async def on_statement_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: StatementChanged
) -> None:
    await statements.record_statement(
        conn, deps, payload, changed_at=envelope.occurred_at, causation_id=envelope.id
    )


@HANDLERS.on(EventType.SLA_AT_RISK, EventType.SLA_BREACHED)
async def on_sla_stage_reached(
    deps: Deps, conn: Connection, envelope: Envelope, payload: SlaStageReached
) -> None:
    await sla.record_sla_stage(
        conn,
        deps,
        payload,
        breached=envelope.type == EventType.SLA_BREACHED,
        causation_id=envelope.id,
    )
