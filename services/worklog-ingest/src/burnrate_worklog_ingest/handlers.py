"""Events in → effects. Each handler runs in the consumer's transaction with the inbox row."""

from __future__ import annotations

import asyncpg
from burnrate_common.events import ContractChanged, Envelope, Payload

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import ContractRoute, Period


async def on_contract_created(
    conn: asyncpg.Connection, envelope: Envelope, payload: Payload
) -> None:
    await _replicate(conn, envelope, payload)


async def on_contract_updated(
    conn: asyncpg.Connection, envelope: Envelope, payload: Payload
) -> None:
    await _replicate(conn, envelope, payload)


async def _replicate(conn: asyncpg.Connection, envelope: Envelope, payload: Payload) -> None:
    """Replace the replica rows of one contract with the state the event carries.

    The payload is the full state, so the newest event wins whatever the delivery order;
    a contract that could not be routed (unknown zone, no periods) raises, and the bus
    retries it, then dead-letters it.
    """
    assert isinstance(payload, ContractChanged)
    # Refuse what could never be routed (unknown zone, no periods) before storing anything.
    ContractRoute(
        id=payload.id,
        timezone=payload.timezone,
        start_date=payload.start_date,
        end_date=payload.end_date,
        periods=tuple(
            Period(p.start_date, p.end_date)
            for p in sorted(payload.periods, key=lambda p: p.start_date)
        ),
    )
    kept = await store.upsert_contract(
        conn,
        payload.id,
        payload.timezone,
        payload.start_date,
        payload.end_date,
        payload.teams,
        envelope.occurred_at,
    )
    if not kept:
        return  # a newer state of this contract is already stored
    await store.replace_periods(
        conn,
        payload.id,
        [(p.start_date, p.end_date, p.planned_seconds) for p in payload.periods],
    )
    await store.replace_work_accounts(conn, payload.id, payload.work_accounts)
