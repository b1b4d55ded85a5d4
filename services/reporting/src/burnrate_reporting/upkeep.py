"""The background loops that keep the read models: the contract screen rows whose local date
rolled over, and the compaction of old consumption events in the event log (the work itself
is in ``service.upkeep``)."""

from __future__ import annotations

import asyncio
import logging

from burnrate_common.runtime import Runtime

from burnrate_reporting.service import Deps, upkeep

log = logging.getLogger(__name__)


async def screen_refresh(runtime: Runtime[Deps]) -> None:
    """The rows of contracts whose local date rolled over (local midnight, at the service's
    clock) are recomputed; until then reads compute those contracts."""
    deps = runtime.deps
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                refreshed = await upkeep.refresh_screen(conn, deps.clock.now())
            if refreshed:
                log.info("contract screen rows refreshed", extra={"rows": refreshed})
        except Exception as exc:
            log.warning("contract screen not refreshed", extra={"error": str(exc)})
        await asyncio.sleep(deps.settings.reporting_screen_refresh_seconds)


async def event_log_compaction(runtime: Runtime[Deps]) -> None:
    """Old consumption events summed per contract period (see ``store.compaction``)."""
    deps = runtime.deps
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                removed, written = await upkeep.compact_event_log(
                    conn, deps.clock.now(), deps.settings.reporting_compact_after_days
                )
            if removed:
                log.info("event log compacted", extra={"removed": removed, "written": written})
        except Exception as exc:
            log.warning("event log not compacted", extra={"error": str(exc)})
        await asyncio.sleep(deps.settings.reporting_compaction_seconds)
