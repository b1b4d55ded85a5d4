"""Running totals per contract period and the contract replica they are measured against,
fed by other services' events and evaluated as they change; and the totals view.

A consumption delta for a contract not in the replica yet is kept (its total is stored) and
evaluated when the contract arrives, so nothing waits in retry queues or dead-letters because
two producers' events crossed on the bus.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.events import ContractChanged, PeriodConsumptionRecorded
from burnrate_common.types import seconds_to_hours

from burnrate_rules import store
from burnrate_rules.domain.stages import rank
from burnrate_rules.schemas import ContractTotalsOut, FiredStageOut, PeriodTotalsOut
from burnrate_rules.service import Deps, evaluation


async def record_contract(
    conn: Connection,
    deps: Deps,
    contract: ContractChanged,
    *,
    changed_at: dt.datetime,
    causation_id: uuid.UUID,
) -> None:
    """Keep the contract's newest state (a deletion is a tombstone with lifecycle "deleted":
    only active contracts alert), and evaluate its periods against the plan it brings."""
    async with conn.transaction():
        if not await store.upsert_contract(conn, contract, changed_at):
            return  # an older state than the one held: a newer event already passed
        await store.replace_periods(conn, contract)
        # Totals that arrived before the contract, or a plan that changed: evaluate them now.
        periods = await store.lock_periods(conn, contract.id)
        await _evaluate(conn, deps, contract.id, periods, causation_id)
        # Statements that arrived before the contract (or before any consumption).
        statements = await store.statement_periods(conn, contract.id)
        await _evaluate(conn, deps, contract.id, statements, causation_id, "statement")


async def record_consumption(
    conn: Connection,
    deps: Deps,
    consumption: PeriodConsumptionRecorded,
    *,
    causation_id: uuid.UUID,
) -> None:
    """Add one event's lines to its period's total as one delta and evaluate the period once,
    so a batch crossing several stages raises the highest."""
    async with conn.transaction():
        await store.add_consumption(
            conn,
            consumption.contract_id,
            consumption.period_start,
            consumption.period_end,
            sum(line.delta_seconds for line in consumption.lines),
            sum(line.delta_outside_dates_seconds for line in consumption.lines),
        )
        periods = await store.lock_periods(conn, consumption.contract_id, consumption.period_start)
        await _evaluate(conn, deps, consumption.contract_id, periods, causation_id)


async def _evaluate(
    conn: Connection,
    deps: Deps,
    contract_id: uuid.UUID,
    periods: list[asyncpg.Record],
    causation_id: uuid.UUID,
    mode: evaluation.Mode = "consumption",
) -> None:
    if not periods:
        return
    contract = await store.contract_facts(conn, contract_id)
    if contract is None:
        return
    await evaluation.evaluate(
        conn,
        mode,
        contract,
        periods,
        deps.clock.now(),
        deps.settings.forecast_min_elapsed_percent,
        causation_id=causation_id,
    )


async def contract_totals(conn: Connection, contract_id: uuid.UUID) -> ContractTotalsOut:
    """Planned and executed per period, with the stages fired in it; 404 for a contract
    neither known nor consumed against."""
    known = await store.contract_exists(conn, contract_id)
    rows = await store.contract_totals(conn, contract_id)
    if not known and not rows:
        raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
    periods = []
    for row in rows:
        fired = [FiredStageOut.model_validate(f) for f in row["fired_stages"]]
        fired.sort(key=lambda f: (str(f.rule_id), f.fired_at, rank(f.stage)))
        periods.append(
            PeriodTotalsOut(
                start_date=row["start_date"],
                end_date=row["end_date"],
                planned_hours=(
                    None
                    if row["planned_seconds"] is None
                    else seconds_to_hours(row["planned_seconds"])
                ),
                executed_hours=seconds_to_hours(row["executed_seconds"]),
                fired_stages=fired,
            )
        )
    error = await store.clock_error(conn, contract_id)
    return ContractTotalsOut(
        contract_id=contract_id,
        contract_known=known,
        periods=periods,
        clock_error=error["clock_error"] if error else None,
        clock_error_at=error["clock_error_at"] if error else None,
    )
