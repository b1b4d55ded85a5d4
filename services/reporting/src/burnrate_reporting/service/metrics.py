"""The figures of the business metrics, counted from the read models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from burnrate_common.db import Connection

from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import metrics as store


@dataclass(frozen=True)
class BusinessFigures:
    contracts_by_status: dict[str, int]
    executed_seconds: int
    alerts_by_trigger: dict[str, int]
    deliveries_sent: int
    deliveries_failed: int
    #: occurred_at of the last event in the log (the lag's reference after a restart)
    last_occurred_at: dt.datetime | None


async def business_figures(conn: Connection, deps: Deps) -> BusinessFigures:
    """One snapshot, so the counts agree (a batch committing between two reads would show
    its consumption without its contracts)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        by_status = await store.contracts_by_status(
            conn, deps.clock.now(), deps.settings.expiring_within_days
        )
        row = await store.business_figures(conn)
        by_trigger = await store.alerts_by_trigger(conn)
    return BusinessFigures(
        contracts_by_status=by_status,
        executed_seconds=row["executed_seconds"],
        alerts_by_trigger=by_trigger,
        deliveries_sent=row["deliveries_sent"],
        deliveries_failed=row["deliveries_failed"],
        last_occurred_at=row["last_occurred_at"],
    )
