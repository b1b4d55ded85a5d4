"""The daily clock: time-based triggers for every active contract on the right calendar day
in its own time zone, even when no worklog arrives.

Each contract remembers the last local day the clock evaluated it (``clock_date``). A tick
takes the contracts whose local day has moved on since, in batches locked ``FOR UPDATE SKIP
LOCKED`` so two replicas share the work instead of doing it twice. A day missed while the
service was down is simply an older ``clock_date``: the next tick evaluates the contract
then, and stages are ``≤ X`` conditions, so a missed stage still fires — once, by the key.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import cast

import asyncpg
from burnrate_common.bus import TRANSIENT_ERRORS
from burnrate_common.clock import Clock
from burnrate_common.runtime import Runtime

from burnrate_rules import alerting, store
from burnrate_rules.settings import RulesSettings

log = logging.getLogger(__name__)


def clock_of(runtime: Runtime) -> Clock:
    return cast(Clock, runtime.extras["clock"])


async def clock_tick(runtime: Runtime) -> tuple[int, int]:
    """Evaluate every contract due today; returns (contracts evaluated, alerts raised)."""
    settings = cast(RulesSettings, runtime.settings)
    clock = clock_of(runtime)
    contracts = alerts = 0
    while True:
        async with runtime.pool.acquire() as conn, conn.transaction():
            now = clock.now()
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
                events = await alerting.evaluate(
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


async def daily_clock(runtime: Runtime) -> None:
    """The background loop: a tick at start (the catch-up) and every interval after."""
    settings = cast(RulesSettings, runtime.settings)
    while True:
        try:
            await clock_tick(runtime)
        except TRANSIENT_ERRORS as exc:
            log.warning("daily clock waiting for the database", extra={"error": str(exc)})
        except Exception:
            log.exception("daily clock tick failed; retried at the next tick")
        await asyncio.sleep(settings.clock_interval_seconds)
