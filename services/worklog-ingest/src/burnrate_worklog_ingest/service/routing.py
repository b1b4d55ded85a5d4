"""The routing replica: which contract (and period) a worklog counts against.

Fed by ``contract.created`` / ``contract.updated`` / ``contract.deleted``, each carrying the
contract's full state, so the newest event wins whatever the delivery order. A change of a
contract routes again the worklogs it concerns, in the same transaction, and publishes the
corrections.

The replica also knows whether a contract is billed (``ContractChanged.billing`` set): the
worklogs of a billed contract are all announced (``ingest.announced``), since billing rates
each of them. A contract turning billed announces the worklogs it already had inside its
dates (the others were announced already), so billing holds them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg
from burnrate_common import outbox
from burnrate_common.db import Connection
from burnrate_common.events import ContractChanged, EventType

from burnrate_worklog_ingest import store
from burnrate_worklog_ingest.domain.attribution import Attribution, ContractRoute, Period
from burnrate_worklog_ingest.schemas import Source, WorklogIn
from burnrate_worklog_ingest.service import Deps, ingest


async def replicate_contract(
    conn: Connection, deps: Deps, contract: ContractChanged, changed_at: dt.datetime
) -> None:
    """Replace the replica rows of one contract with the state ``contract`` carries, and
    attribute the worklogs that were waiting for it.

    A contract that could not be routed (unknown zone, no periods) raises, and the bus
    retries it, then dead-letters it.
    """
    async with conn.transaction():
        await store.lock_routing(conn, shared=False)
        # Refuse what could never be routed (unknown zone, no periods) before storing anything.
        ContractRoute(
            id=contract.id,
            timezone=contract.timezone,
            start_date=contract.start_date,
            end_date=contract.end_date,
            periods=tuple(
                Period(p.start_date, p.end_date)
                for p in sorted(contract.periods, key=lambda p: p.start_date)
            ),
        )
        billed = contract.billing is not None
        kept, was_billed = await store.upsert_contract(
            conn,
            contract.id,
            contract.timezone,
            contract.start_date,
            contract.end_date,
            contract.teams,
            changed_at,
            billed,
        )
        if not kept:
            return  # a newer state of this contract is already stored
        await store.replace_periods(
            conn,
            contract.id,
            [(p.start_date, p.end_date, p.planned_seconds) for p in contract.periods],
        )
        await store.replace_work_accounts(conn, contract.id, contract.work_accounts)
        await store.replace_project_keys(conn, contract.id, contract.jira_project_keys)
        if billed and not was_billed:
            await _announce_held(conn, deps, contract)
        # A worklog sent moments before its contract reached this service is kept
        # unattributed: the ones naming this contract's accounts or keys are attributed now.
        waiting = await store.unattributed_matching(
            conn, contract.work_accounts, contract.jira_project_keys
        )
        await _route_again(conn, deps, waiting, attributed_only=True)


async def withdraw_contract(
    conn: Connection, deps: Deps, contract: ContractChanged, changed_at: dt.datetime
) -> None:
    """A deleted draft routes nothing any more, and what it counted is routed again.

    The replica row stays as a tombstone (no periods, accounts or keys) dated ``changed_at``,
    so an older ``contract.updated`` arriving late is refused by ``upsert_contract``. Its
    worklogs are kept: each is routed again by its work account or project key (another
    contract, or unattributed), and the correcting deltas withdraw them from this contract.
    """
    async with conn.transaction():
        await store.lock_routing(conn, shared=False)
        await store.upsert_contract(
            conn,
            contract.id,
            contract.timezone,
            contract.start_date,
            contract.end_date,
            [],
            changed_at,
            False,
        )
        await store.replace_periods(conn, contract.id, [])
        await store.replace_work_accounts(conn, contract.id, [])
        await store.replace_project_keys(conn, contract.id, [])
        counted = await store.worklogs_of_contract(conn, contract.id)
        await _route_again(conn, deps, counted, attributed_only=False)


async def _announce_held(conn: Connection, deps: Deps, contract: ContractChanged) -> None:
    """A contract that turned billed: ``worklog.recorded`` for the worklogs it holds inside
    its dates, which were not announced (a consumer holding one keeps the newest version).
    A worklog stored while the contract's previous state was being read for routing may
    commit after this read, unannounced; a correction or ``contract.updated`` brings it."""
    held = await store.inside_dates_of_contract(conn, contract.id)
    await outbox.add(
        conn,
        ingest.worklog_events(
            EventType.WORKLOG_RECORDED, held, deps.producer, frozenset({contract.id})
        ),
    )


async def _route_again(
    conn: Connection, deps: Deps, rows: Sequence[asyncpg.Record], *, attributed_only: bool
) -> None:
    """Route stored (locked) worklogs again and publish the changes. ``attributed_only``:
    those that still match no contract are left as they are."""
    if not rows:
        return
    outcomes = await ingest.attribute_items(conn, {n: _as_item(row) for n, row in enumerate(rows)})
    changes = []
    for n, row in enumerate(rows):
        outcome = outcomes[n]
        if attributed_only and not isinstance(outcome, Attribution):
            continue
        changes.append((row, await ingest.reattribute(conn, row, outcome)))
    await outbox.add(conn, await ingest.change_events(conn, changes, deps.producer))


def _as_item(row: asyncpg.Record) -> WorklogIn:
    """A stored worklog as an item to route again (valid: it was validated when stored)."""
    return WorklogIn(
        source=Source(row["source"]),
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
        location=row["location"],
        source_updated_at=row["source_updated_at"],
    )
