"""The daily clock's tick: time-based triggers for every active contract on the right
calendar day in its own time zone, even when no worklog arrives.

Each contract remembers the last local day the clock evaluated it (``clock_date``). A tick
takes the contracts whose local day has moved on since, in batches locked ``FOR UPDATE SKIP
LOCKED`` so two replicas share the work instead of doing it twice. A day missed while the
service was down is simply an older ``clock_date``: the next tick evaluates the contract
then, and stages are ``≤ X`` conditions, so a missed stage still fires — once, by the key.

One contract never stops the others: each is evaluated in a savepoint, and one whose
evaluation raises (anything but a lost database) is set aside for the day — its reason kept
with it (``GET /v1/contracts/{id}/totals``: ``clock_error``), counted, logged — and tried
again the next local day, or at once when the contract or a rule that applies to it changes.
"""

from __future__ import annotations

import logging
import uuid

import asyncpg
from burnrate_common.bus import TRANSIENT_ERRORS
from burnrate_common.supervision import beat

from burnrate_rules import store
from burnrate_rules.metrics import RulesMetrics
from burnrate_rules.service import Deps, evaluation

log = logging.getLogger(__name__)


_MAX_ERROR_LENGTH = 1000


async def tick(
    pool: asyncpg.Pool, deps: Deps, metrics: RulesMetrics | None = None
) -> tuple[int, int]:
    """Evaluate every contract due today, one transaction per batch; returns (contracts
    clocked, set-aside ones included, and alerts raised)."""
    settings = deps.settings
    contracts = alerts = 0
    while True:
        beat()
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
            errors: list[str | None] = []
            for contract in batch:
                try:
                    async with conn.transaction():  # a savepoint: this contract alone
                        events = await evaluation.evaluate(
                            conn,
                            "clock",
                            contract,
                            periods.get(contract["id"], []),
                            now,
                            settings.forecast_min_elapsed_percent,
                        )
                except TRANSIENT_ERRORS:
                    raise
                except Exception as exc:
                    if conn.is_closed():
                        raise  # the database went: not this contract's fault
                    errors.append(_set_aside(contract, exc, metrics))
                    continue
                errors.append(None)
                alerts += len(events)
            await store.mark_clocked(conn, ids, days, errors)
        contracts += len(batch)
        if len(batch) < settings.clock_batch_size:
            break
    if contracts:
        log.info("daily clock evaluated", extra={"contracts": contracts, "alerts": alerts})
    return contracts, alerts


def _set_aside(contract: asyncpg.Record, exc: Exception, metrics: RulesMetrics | None) -> str:
    error = f"{type(exc).__name__}: {exc}".replace("\x00", "\N{REPLACEMENT CHARACTER}")
    error = error.encode("utf-8", "replace").decode("utf-8")[:_MAX_ERROR_LENGTH]
    if metrics is not None:
        metrics.clock_set_aside.inc()
    log.exception(
        "daily clock set a contract aside for the day: its evaluation raised",
        extra={"contract_id": str(contract["id"]), "error": error},
    )
    return error
