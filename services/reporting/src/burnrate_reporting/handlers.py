"""Events in → read models: each handler is one use case of ``service.projections``, in the
consumer's transaction with the inbox row. Every handled envelope is also kept in the event
log (:func:`keep_in_event_log`, the definition's ``wrap_handlers``), for ``rebuild``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from burnrate_common.bus import Handler, Trim
from burnrate_common.db import Connection
from burnrate_common.event_payloads import (
    InvoiceIssued,
    SlaStageReached,
    StatementChanged,
    TicketChanged,
)
from burnrate_common.events import (
    AlertRaised,
    ConsumptionRecorded,
    ContractChanged,
    CustomerChanged,
    Envelope,
    EventType,
    NotificationOutcome,
    Payload,
    PeriodConsumptionRecorded,
    WorklogsChanged,
)
from burnrate_common.handling import EventHandlers

from burnrate_reporting.service import Deps, HandledMark, projections

#: The read-model handlers by event type (what `rebuild` replays the event log through).
HANDLERS: EventHandlers[Deps] = EventHandlers()


@HANDLERS.on(EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED)
async def on_customer_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: CustomerChanged
) -> None:
    await projections.customer_changed(conn, payload, envelope.occurred_at)


@HANDLERS.on(EventType.CUSTOMER_DELETED)
async def on_customer_deleted(
    deps: Deps, conn: Connection, envelope: Envelope, payload: CustomerChanged
) -> None:
    await projections.customer_deleted(conn, payload.id, envelope.occurred_at)


@HANDLERS.on(EventType.CONTRACT_CREATED, EventType.CONTRACT_UPDATED)
async def on_contract_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await projections.contract_changed(conn, payload, envelope.occurred_at)


@HANDLERS.on(EventType.CONTRACT_DELETED)
async def on_contract_deleted(
    deps: Deps, conn: Connection, envelope: Envelope, payload: ContractChanged
) -> None:
    await projections.contract_deleted(conn, payload, envelope.occurred_at)


@HANDLERS.on(EventType.CONSUMPTION_RECORDED)
async def on_consumption_recorded(
    deps: Deps,
    conn: Connection,
    envelope: Envelope,
    payload: ConsumptionRecorded | PeriodConsumptionRecorded,
) -> None:
    await projections.consumption_recorded(conn, payload.as_period())


@HANDLERS.on(EventType.WORKLOG_RECORDED, EventType.WORKLOG_CORRECTED, EventType.WORKLOG_DELETED)
async def on_worklogs_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: WorklogsChanged
) -> None:
    await projections.worklogs_changed(conn, envelope.type, payload, envelope.occurred_at)


@HANDLERS.on(EventType.ALERT_RAISED)
async def on_alert_raised(
    deps: Deps, conn: Connection, envelope: Envelope, payload: AlertRaised
) -> None:
    await projections.alert_raised(conn, payload, envelope.occurred_at)


@HANDLERS.on(EventType.NOTIFICATION_SENT, EventType.NOTIFICATION_FAILED)
async def on_notification_outcome(
    deps: Deps, conn: Connection, envelope: Envelope, payload: NotificationOutcome
) -> None:
    await projections.notification_outcome(conn, envelope.type, payload, envelope.occurred_at)


@HANDLERS.on(EventType.TICKET_OPENED, EventType.TICKET_UPDATED, EventType.TICKET_RESOLVED)
async def on_ticket_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: TicketChanged
) -> None:
    await projections.ticket_changed(conn, payload, envelope.occurred_at)


@HANDLERS.on(EventType.SLA_AT_RISK, EventType.SLA_BREACHED)
async def on_sla_stage_reached(
    deps: Deps, conn: Connection, envelope: Envelope, payload: SlaStageReached
) -> None:
    await projections.sla_stage_reached(conn, payload)


@HANDLERS.on(EventType.STATEMENT_UPDATED, EventType.STATEMENT_SENT, EventType.STATEMENT_APPROVED)
async def on_statement_changed(
    deps: Deps, conn: Connection, envelope: Envelope, payload: StatementChanged
) -> None:
    await projections.statement_changed(conn, envelope.type, payload, envelope.occurred_at)


@HANDLERS.on(EventType.INVOICE_ISSUED, EventType.INVOICE_CREDITED)
async def on_invoice_issued(
    deps: Deps, conn: Connection, envelope: Envelope, payload: InvoiceIssued
) -> None:
    await projections.invoice_issued(conn, payload)


def keep_in_event_log(mark: HandledMark) -> Callable[[Handler], Handler]:
    """Each handler, with its envelope (as trimmed by :data:`TRIMS`) kept in the event log
    in the same transaction, and ``mark`` moved to it (the read-model lag)."""

    def wrap(handler: Handler) -> Handler:
        async def handle(conn: Connection, envelope: Envelope, payload: Payload) -> None:
            await projections.log_event(conn, envelope)
            await handler(conn, envelope, payload)
            mark.occurred_at = envelope.occurred_at

        return handle

    return wrap


def outside_dates_only(envelope: Envelope) -> Envelope | None:
    """A ``worklog.recorded`` envelope as reporting reads it and the event log keeps it: the
    consumer applies it before validating the payload (see :data:`TRIMS`).

    Such an event carries up to 1,000 worklogs, and `on_worklogs_changed` keeps only those
    outside the contract dates; the others would be validated and replayed to no effect.
    None (acked, not handled nor logged) when no worklog is outside: such events are not
    delivered to reporting (see :data:`TRIMS`), unless queued before that filter existed.
    Corrections and deletions are not trimmed (they are the tombstones).
    """
    worklogs = envelope.data.get("worklogs", [])
    kept = [w for w in worklogs if w.get("outside_dates")]
    if not kept:
        return None
    if len(kept) == len(worklogs):
        return envelope
    return envelope.model_copy(update={"data": {**envelope.data, "worklogs": kept}})


#: What reporting reads of an event type (``bus.Trim``): of ``worklog.recorded``, only the
#: events with a worklog outside the dates (the broker filters by their ``outside_dates``
#: header: the usual event, 1,000 worklogs inside the dates, never reaches reporting), and
#: of those only the worklogs outside.
TRIMS: Mapping[EventType, Trim] = {
    EventType.WORKLOG_RECORDED: Trim(outside_dates_only, where={"outside_dates": True})
}
