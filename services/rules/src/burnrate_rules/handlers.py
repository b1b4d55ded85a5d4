"""Events in → effects. Each handler runs in the consumer's transaction with the inbox row.

A consumption delta for a contract not in the replica yet is kept (its total is stored) and
evaluated when the contract arrives, so nothing waits in retry queues or dead-letters because
two producers' events crossed on the bus.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
from burnrate_common.clock import Clock
from burnrate_common.db import Connection
from burnrate_common.events import (
    ConsumptionRecorded,
    ContractChanged,
    Envelope,
    Payload,
    PeriodConsumptionRecorded,
)

from burnrate_rules import alerting, store
from burnrate_rules.settings import RulesSettings


@dataclass(frozen=True)
class Handlers:
    """The event handlers, bound to the service's one clock and its settings."""

    clock: Clock
    settings: RulesSettings

    async def on_contract_changed(
        self, conn: Connection, envelope: Envelope, payload: Payload
    ) -> None:
        assert isinstance(payload, ContractChanged)
        if not await store.upsert_contract(conn, payload, envelope.occurred_at):
            return  # an older state than the one held: a newer event already passed
        await store.replace_periods(conn, payload)
        # Totals that arrived before the contract, or a plan that changed: evaluate them now.
        periods = await store.lock_periods(conn, payload.id)
        await self._evaluate(conn, envelope, payload.id, periods)

    async def on_consumption_recorded(
        self, conn: Connection, envelope: Envelope, payload: Payload
    ) -> None:
        assert isinstance(payload, ConsumptionRecorded | PeriodConsumptionRecorded)
        period = payload.as_period()
        # Totals here are per contract period: the lines of one event are one delta, and the
        # period is evaluated once, so a batch crossing several stages raises the highest.
        await store.add_consumption(
            conn,
            period.contract_id,
            period.period_start,
            period.period_end,
            sum(line.delta_seconds for line in period.lines),
            sum(line.delta_outside_dates_seconds for line in period.lines),
        )
        periods = await store.lock_periods(conn, period.contract_id, period.period_start)
        await self._evaluate(conn, envelope, period.contract_id, periods)

    async def _evaluate(
        self,
        conn: Connection,
        envelope: Envelope,
        contract_id: uuid.UUID,
        periods: list[asyncpg.Record],
    ) -> None:
        if not periods:
            return
        contract = await store.contract_facts(conn, contract_id)
        if contract is None:
            return
        await alerting.evaluate(
            conn,
            "consumption",
            contract,
            periods,
            self.clock.now(),
            self.settings.forecast_min_elapsed_percent,
            causation_id=envelope.id,
        )
