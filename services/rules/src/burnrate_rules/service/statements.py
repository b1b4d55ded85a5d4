"""Billing's statement figures per contract period (``statement.*``), kept as a replica and
evaluated as they change: ``allowance_reached`` and ``budget_exceeded_forecast``, each
fired once per rule and contract period by the same key as the other period triggers.

A statement for a contract (or period) not in the replica yet is kept, and evaluated when
the contract or the period's consumption arrives (both evaluate the billing triggers too).
"""

from __future__ import annotations

import datetime as dt
import uuid

from burnrate_common.db import Connection
from burnrate_common.event_payloads import StatementChanged

from burnrate_rules import store
from burnrate_rules.service import Deps, evaluation


async def record_statement(
    conn: Connection,
    deps: Deps,
    statement: StatementChanged,
    *,
    changed_at: dt.datetime,
    causation_id: uuid.UUID,
) -> None:
    """Keep the period's newest figures (an older event than the one held changes nothing)
    and evaluate the billing triggers of that period."""
    async with conn.transaction():
        if not await store.upsert_statement(conn, statement, changed_at):
            return
        periods = await store.statement_periods(conn, statement.contract_id, statement.period_start)
        if not periods:
            return
        contract = await store.contract_facts(conn, statement.contract_id)
        if contract is None:
            return
        await evaluation.evaluate(
            conn,
            "statement",
            contract,
            periods,
            deps.clock.now(),
            deps.settings.forecast_min_elapsed_percent,
            causation_id=causation_id,
        )
