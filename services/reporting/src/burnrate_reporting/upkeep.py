"""Background upkeep of the read models: the contract screen rows whose local date rolled
over, and the compaction of old consumption events in the event log."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from burnrate_common.db import Connection
from burnrate_common.runtime import Runtime

from burnrate_reporting import store
from burnrate_reporting.settings import ReportingSettings

log = logging.getLogger(__name__)

#: Rows refreshed per transaction: short transactions, so consumers are not held up.
SCREEN_BATCH = 1000


async def refresh_screen(conn: Connection, now: dt.datetime) -> int:
    """Refresh every screen row whose window does not hold ``now``; how many."""
    refreshed = 0
    while True:
        done = await store.refresh_due_screen_rows(conn, now, SCREEN_BATCH)
        refreshed += done
        if done < SCREEN_BATCH:
            return refreshed


async def compact_event_log(conn: Connection, now: dt.datetime, after_days: int) -> tuple[int, int]:
    return await store.compact_consumption_events(conn, now - dt.timedelta(days=after_days))


def _settings(runtime: Runtime) -> ReportingSettings:
    settings = runtime.settings
    assert isinstance(settings, ReportingSettings)
    return settings


async def screen_refresh(runtime: Runtime) -> None:
    """Background loop: the rows of contracts whose local date rolled over (local midnight,
    at the service's clock) are recomputed; until then reads compute those contracts."""
    settings = _settings(runtime)
    now = runtime.extras["clock"]
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                refreshed = await refresh_screen(conn, now())
            if refreshed:
                log.info("contract screen rows refreshed", extra={"rows": refreshed})
        except Exception as exc:
            log.warning("contract screen not refreshed", extra={"error": str(exc)})
        await asyncio.sleep(settings.reporting_screen_refresh_seconds)


async def event_log_compaction(runtime: Runtime) -> None:
    """Background loop: old consumption events summed per contract period (see store)."""
    settings = _settings(runtime)
    now = runtime.extras["clock"]
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                removed, written = await compact_event_log(
                    conn, now(), settings.reporting_compact_after_days
                )
            if removed:
                log.info("event log compacted", extra={"removed": removed, "written": written})
        except Exception as exc:
            log.warning("event log not compacted", extra={"error": str(exc)})
        await asyncio.sleep(settings.reporting_compaction_seconds)
