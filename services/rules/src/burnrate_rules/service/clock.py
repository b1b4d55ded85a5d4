"""The daily clock's tick: time-based triggers for every active contract on the right
calendar day in its own time zone, even when no worklog arrives.

Each contract remembers the last local day the clock evaluated it (``clock_date``). A tick
takes the contracts whose local day has moved on since, in batches locked ``FOR UPDATE SKIP
LOCKED`` so two replicas share the work instead of doing it twice. A day missed while the
service was down is simply an older ``clock_date``: the next tick evaluates the contract
then, and stages are ``≤ X`` conditions, so a missed stage still fires — once, by the key.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg

from burnrate_rules import store
from burnrate_rules.service import Deps, evaluation

log = logging.getLogger(__name__)


async def tick(pool: asyncpg.Pool, deps: Deps) -> tuple[int, int]:
    """Evaluate every contract due today, one transaction per batch; returns (contracts
    evaluated, alerts raised)."""
    settings = deps.settings
    contracts = alerts = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            now = deps.clock.now()
            batch = await store.claim_clock_batch(
                conn, now, settings.clock_catch_up_days, settings.clock_batch_size
            )
            if not batch:
                break
            ids = [c["id"] for c in batch]
            days = [c["today"] for c in batch]
            periods: dict[uuid.UUID, list[asyncpg.Record]] = {}
            for p in await store.periods_around(conn, ids, days, settings.clock_catch_up_days):
                periods.setdefault(p["contract_id"], []).append(p)
            for contract in batch:
                events = await evaluation.evaluate(
                    conn,
                    "clock",
                    contract,
                    periods.get(contract["id"], []),
                    now,
                    settings.forecast_min_elapsed_percent,
                )
                alerts += len(events)
            await store.mark_clocked(conn, ids, days)
        contracts += len(batch)
        if len(batch) < settings.clock_batch_size:
            break
    if contracts:
        log.info("daily clock evaluated", extra={"contracts": contracts, "alerts": alerts})
    return contracts, alerts
