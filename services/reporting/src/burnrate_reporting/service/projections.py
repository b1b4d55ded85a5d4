"""Events in → read models: the use cases of the event handlers. Each runs in the
consumer's transaction, with the inbox row, so a redelivered event changes nothing; none
depends on the order events arrive in."""

from __future__ import annotations

import datetime as dt
import uuid

from burnrate_common.db import Connection
from burnrate_common.event_payloads import (
    InvoiceIssued,
    SlaStageReached,
    StatementChanged,
    TicketChanged,
)
from burnrate_common.events import (
    AlertRaised,
    ContractChanged,
    CustomerChanged,
    Envelope,
    EventType,
    NotificationOutcome,
    PeriodConsumptionRecorded,
    WorklogsChanged,
)

from burnrate_reporting.store import billing as billing_store
from burnrate_reporting.store import projections as store
from burnrate_reporting.store import sla as sla_store


async def customer_changed(
    conn: Connection, customer: CustomerChanged, version_at: dt.datetime
) -> None:
    await store.upsert_customer(
        conn,
        customer.id,
        customer.name,
        [c.model_dump(mode="json") for c in customer.contacts],
        version_at,
    )


async def contract_changed(
    conn: Connection, contract: ContractChanged, version_at: dt.datetime
) -> None:
    # An unknown zone would break every read of the contract list: retry, then dead-letter.
    await store.check_timezone(conn, contract.timezone)
    written = await store.upsert_contract(
        conn,
        contract.model_dump(),
        version_at,
        [level.model_dump(mode="json") for level in contract.service_levels],
    )
    if written:
        await store.replace_periods(
            conn,
            contract.id,
            [(p.start_date, p.end_date, p.planned_seconds) for p in contract.periods],
        )
        # At the database's clock: if it is not the service's "today", reads compute this
        # contract themselves until the screen task refreshes the row (see store.screen).
        await store.refresh_screen(conn, None, [contract.id])
    else:
        await store.keep_earliest_created(conn, contract.id, version_at)


async def contract_deleted(
    conn: Connection, contract: ContractChanged, version_at: dt.datetime
) -> None:
    await store.delete_contract(conn, contract.id, contract.customer_id, version_at)


async def customer_deleted(
    conn: Connection, customer_id: uuid.UUID, version_at: dt.datetime
) -> None:
    await store.delete_customer(conn, customer_id, version_at)


async def consumption_recorded(conn: Connection, consumption: PeriodConsumptionRecorded) -> None:
    # Stored even when the contract is not known yet: its row may still be on its way.
    await store.add_consumption(
        conn, consumption.contract_id, consumption.period_start, consumption.lines
    )


async def worklogs_changed(
    conn: Connection, event_type: EventType, changed: WorklogsChanged, version_at: dt.datetime
) -> None:
    """Track the worklogs outside the contract dates (recorded, corrected or deleted)."""
    deleted = event_type is EventType.WORKLOG_DELETED
    for worklog in changed.worklogs:
        if event_type is EventType.WORKLOG_RECORDED and not worklog.outside_dates:
            # A first version inside the dates lists nothing, and any later version is newer.
            continue
        # Corrections and deletions are kept even inside the dates, as tombstones: an older
        # "outside" version arriving after them must not put the worklog back on the list.
        await store.upsert_worklog_version(
            conn, worklog.model_dump(), deleted=deleted, version_at=version_at
        )


async def alert_raised(conn: Connection, alert: AlertRaised, raised_at: dt.datetime) -> None:
    await store.insert_alert(conn, alert.model_dump(), raised_at)


async def notification_outcome(
    conn: Connection, event_type: EventType, outcome: NotificationOutcome, version_at: dt.datetime
) -> None:
    """The latest outcome per delivery, so a retried delivery counts once."""
    status = "sent" if event_type is EventType.NOTIFICATION_SENT else "failed"
    await store.upsert_notification(conn, outcome.model_dump(), status, version_at)


async def ticket_changed(conn: Connection, ticket: TicketChanged, version_at: dt.datetime) -> None:
    """A ticket's newest state with its clocks (stored even before its contract is known)."""
    await sla_store.upsert_ticket(
        conn,
        ticket.model_dump(exclude={"clocks"}),
        [c.model_dump(mode="json") for c in ticket.clocks],
        version_at,
    )


async def sla_stage_reached(conn: Connection, stage: SlaStageReached) -> None:
    await sla_store.insert_stage(conn, stage.model_dump())


async def statement_changed(
    conn: Connection, event_type: EventType, statement: StatementChanged, version_at: dt.datetime
) -> None:
    await billing_store.upsert_statement(
        conn,
        statement.model_dump(),
        version_at,
        sent=event_type is EventType.STATEMENT_SENT,
        approved=event_type is EventType.STATEMENT_APPROVED,
    )


async def invoice_issued(conn: Connection, invoice: InvoiceIssued) -> None:
    await billing_store.insert_invoice(conn, invoice.model_dump())


async def log_event(conn: Connection, envelope: Envelope) -> None:
    """Keep the envelope (as trimmed) for `rebuild`, in the transaction of its effect."""
    await store.log_event(conn, envelope)
