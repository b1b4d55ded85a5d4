"""The upkeep of the read models: the contract screen rows whose local date rolled over, and
the compaction of old consumption events in the event log."""

from __future__ import annotations

import datetime as dt

from burnrate_common.db import Connection

from burnrate_reporting.store import compaction, projections

#: Rows refreshed per transaction: short transactions, so consumers are not held up.
SCREEN_BATCH = 1000


async def refresh_screen(conn: Connection, now: dt.datetime) -> int:
    """Refresh every screen row whose window does not hold ``now``; how many. One short
    transaction per batch (see ``store.projections.refresh_due_screen_rows``)."""
    refreshed = 0
    while True:
        done = await projections.refresh_due_screen_rows(conn, now, SCREEN_BATCH)
        refreshed += done
        if done < SCREEN_BATCH:
            return refreshed


async def compact_event_log(conn: Connection, now: dt.datetime, after_days: int) -> tuple[int, int]:
    """Consumption events that occurred ``after_days`` or more before ``now`` summed per
    contract period; (events removed, events written). One statement, so one transaction."""
    return await compaction.compact_consumption_events(conn, now - dt.timedelta(days=after_days))
