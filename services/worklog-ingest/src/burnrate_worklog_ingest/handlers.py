"""Events in → effects. Each handler runs in the consumer's transaction with the inbox row."""

from __future__ import annotations

from typing import Any

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged, Envelope, Payload

from burnrate_worklog_ingest import ingest, store
from burnrate_worklog_ingest.domain.attribution import Attribution, ContractRoute, Period


async def on_contract_created(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    await _replicate(conn, envelope, payload)


async def on_contract_updated(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    await _replicate(conn, envelope, payload)


async def on_contract_deleted(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    """A deleted draft routes nothing any more, and what it counted is routed again.

    The replica row stays as a tombstone (no periods, accounts or keys) dated by this event,
    so an older ``contract.updated`` arriving late is refused by ``upsert_contract``. Its
    worklogs are kept: each is routed again by its work account or project key (another
    contract, or unattributed), and the correcting deltas withdraw them from this contract.
    """
    assert isinstance(payload, ContractChanged)
    await store.lock_routing(conn, shared=False)
    await store.upsert_contract(
        conn,
        payload.id,
        payload.timezone,
        payload.start_date,
        payload.end_date,
        [],
        envelope.occurred_at,
    )
    await store.replace_periods(conn, payload.id, [])
    await store.replace_work_accounts(conn, payload.id, [])
    await store.replace_project_keys(conn, payload.id, [])
    rows = await store.worklogs_of_contract(conn, payload.id)
    if not rows:
        return
    outcomes = await ingest.attribute_items(conn, {n: _as_item(row) for n, row in enumerate(rows)})
    changes = []
    for n, row in enumerate(rows):
        values: dict[str, Any] = {
            name: row[name]
            for name in ("author", "team", "activity", "started_at", "seconds", "ticket")
        }
        outcome = outcomes[n]
        if isinstance(outcome, Attribution):
            values |= {
                "contract_id": outcome.contract_id,
                "unattributed_reason": None,
                "period_start": outcome.period_start,
                "period_end": outcome.period_end,
                "outside_dates": outcome.outside_dates,
            }
        else:
            values |= {
                "contract_id": None,
                "unattributed_reason": outcome.reason.value,
                "period_start": None,
                "period_end": None,
                "outside_dates": False,
            }
        changes.append((row, await store.update_worklog(conn, row["id"], values)))
    await outbox.add(conn, ingest.changed_events(changes, "worklog-ingest"))


async def _replicate(conn: Connection, envelope: Envelope, payload: Payload) -> None:
    """Replace the replica rows of one contract with the state the event carries.

    The payload is the full state, so the newest event wins whatever the delivery order;
    a contract that could not be routed (unknown zone, no periods) raises, and the bus
    retries it, then dead-letters it.
    """
    assert isinstance(payload, ContractChanged)
    await store.lock_routing(conn, shared=False)
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
    await store.replace_project_keys(conn, payload.id, payload.jira_project_keys)
    await _attribute_waiting(conn, payload)


async def _attribute_waiting(conn: Connection, payload: ContractChanged) -> None:
    """Route again the unattributed worklogs that name this contract's accounts or keys.

    A worklog sent moments before its contract reached this service is kept unattributed;
    when the contract arrives it is attributed here and its consumption is published, in
    the same transaction as the replica change.
    """
    rows = await store.unattributed_matching(conn, payload.work_accounts, payload.jira_project_keys)
    if not rows:
        return
    items = {n: _as_item(row) for n, row in enumerate(rows)}
    outcomes = await ingest.attribute_items(conn, items)
    changes = []
    for n, row in enumerate(rows):
        outcome = outcomes[n]
        if not isinstance(outcome, Attribution):
            continue
        values = {
            name: row[name]
            for name in ("author", "team", "activity", "started_at", "seconds", "ticket")
        }
        values |= {
            "contract_id": outcome.contract_id,
            "unattributed_reason": None,
            "period_start": outcome.period_start,
            "period_end": outcome.period_end,
            "outside_dates": outcome.outside_dates,
        }
        changes.append((row, await store.update_worklog(conn, row["id"], values)))
    await outbox.add(conn, ingest.changed_events(changes, "worklog-ingest"))


def _as_item(row: asyncpg.Record) -> ingest.WorklogIn:
    """A stored worklog as an item to route again (valid: it was validated when stored)."""
    return ingest.WorklogIn(
        source=ingest.Source(row["source"]),
        external_id=row["external_id"],
        contract_id=None,
        work_account=row["work_account"],
        project_key=row["project_key"],
        author=row["author"],
        team=row["team"],
        activity=row["activity"],
        started_at=row["started_at"],
        seconds=row["seconds"],
        ticket=row["ticket"],
        source_updated_at=row["source_updated_at"],
    )
