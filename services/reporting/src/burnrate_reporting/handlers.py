"""Events in → read models. Each handler runs in the consumer's transaction with the inbox row,
so a redelivered event changes nothing; none depends on the order events arrive in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from burnrate_common.bus import Handler, Trim
from burnrate_common.db import Connection
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

from burnrate_reporting import store


async def on_customer_changed(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, CustomerChanged)
    await store.upsert_customer(
        conn,
        payload.id,
        payload.name,
        [c.model_dump(mode="json") for c in payload.contacts],
        envelope.occurred_at,
    )


async def on_contract_changed(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, ContractChanged)
    # An unknown zone would break every read of the contract list: retry, then dead-letter.
    await store.check_timezone(conn, payload.timezone)
    written = await store.upsert_contract(conn, payload.model_dump(), envelope.occurred_at)
    if written:
        await store.replace_periods(
            conn,
            payload.id,
            [(p.start_date, p.end_date, p.planned_seconds) for p in payload.periods],
        )
        # At the database's clock: if it is not the service's "today", reads compute this
        # contract themselves until the screen task refreshes the row (see store).
        await store.refresh_screen(conn, None, [payload.id])
    else:
        await store.keep_earliest_created(conn, payload.id, envelope.occurred_at)


async def on_contract_deleted(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, ContractChanged)
    await store.delete_contract(conn, payload.id, payload.customer_id, envelope.occurred_at)


async def on_customer_deleted(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, CustomerChanged)
    await store.delete_customer(conn, payload.id, envelope.occurred_at)


async def on_consumption_recorded(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, ConsumptionRecorded | PeriodConsumptionRecorded)
    period = payload.as_period()
    # Stored even when the contract is not known yet: its row may still be on its way.
    await store.add_consumption(conn, period.contract_id, period.period_start, period.lines)


async def on_worklog_changed(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    """Track the worklogs outside the contract dates (recorded, corrected or deleted)."""
    assert isinstance(payload, WorklogsChanged)
    deleted = envelope.type is EventType.WORKLOG_DELETED
    for worklog in payload.worklogs:
        if envelope.type is EventType.WORKLOG_RECORDED and not worklog.outside_dates:
            # A first version inside the dates lists nothing, and any later version is newer.
            continue
        # Corrections and deletions are kept even inside the dates, as tombstones: an older
        # "outside" version arriving after them must not put the worklog back on the list.
        await store.upsert_worklog_version(
            conn, worklog.model_dump(), deleted=deleted, version_at=envelope.occurred_at
        )


async def on_alert_raised(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, AlertRaised)
    await store.insert_alert(conn, payload.model_dump(), envelope.occurred_at)


async def on_notification_outcome(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    assert isinstance(payload, NotificationOutcome)
    status = "sent" if envelope.type is EventType.NOTIFICATION_SENT else "failed"
    await store.upsert_notification(conn, payload.model_dump(), status, envelope.occurred_at)


#: The read-model handlers by event type (what `rebuild` replays the event log through).
HANDLERS: Mapping[EventType, Handler] = {
    EventType.CUSTOMER_CREATED: on_customer_changed,
    EventType.CUSTOMER_UPDATED: on_customer_changed,
    EventType.CUSTOMER_DELETED: on_customer_deleted,
    EventType.CONTRACT_CREATED: on_contract_changed,
    EventType.CONTRACT_UPDATED: on_contract_changed,
    EventType.CONTRACT_DELETED: on_contract_deleted,
    EventType.CONSUMPTION_RECORDED: on_consumption_recorded,
    EventType.WORKLOG_RECORDED: on_worklog_changed,
    EventType.WORKLOG_CORRECTED: on_worklog_changed,
    EventType.WORKLOG_DELETED: on_worklog_changed,
    EventType.ALERT_RAISED: on_alert_raised,
    EventType.NOTIFICATION_SENT: on_notification_outcome,
    EventType.NOTIFICATION_FAILED: on_notification_outcome,
}


@dataclass
class HandledMark:
    """occurred_at of the last event this process handled: the read-model lag's reference."""

    occurred_at: dt.datetime | None = None


def outside_dates_only(envelope: Envelope) -> Envelope | None:
    """A ``worklog.recorded`` envelope as reporting reads it and the event log keeps it: the
    consumer applies it before validating the payload (see :data:`TRIMS`).

    Such an event carries up to 1,000 worklogs, and `on_worklog_changed` keeps only those
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


def logged(handler: Handler, mark: HandledMark) -> Handler:
    """The handler, with its envelope (as trimmed by :data:`TRIMS`) kept in the event log in
    the same transaction."""

    async def handle(conn: Connection, envelope: Envelope, payload: Payload) -> None:
        await store.log_event(conn, envelope)
        await handler(conn, envelope, payload)
        mark.occurred_at = envelope.occurred_at

    handle.__name__ = handler.__name__
    return handle
