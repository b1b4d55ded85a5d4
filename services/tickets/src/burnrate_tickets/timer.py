"""The stage timer's background loop: a round at start (the catch-up after downtime), then
a round when the next scheduled stage falls due, and at least every
``timer_interval_seconds`` (a stage a writer schedules meanwhile is found by then); at once
again while rounds come back full (see :mod:`burnrate_tickets.service.stages`)."""

from __future__ import annotations

import asyncio
import logging

from burnrate_common.bus import TRANSIENT_ERRORS
from burnrate_common.runtime import Runtime
from burnrate_common.supervision import beat

from burnrate_tickets.service import Deps, stages

log = logging.getLogger(__name__)


async def stage_timer(runtime: Runtime[Deps]) -> None:
    deps = runtime.deps
    while True:
        beat()
        wait = deps.settings.timer_interval_seconds
        try:
            await stages.tick(runtime.pool, deps)
            wait = await stages.seconds_to_next(runtime.pool, deps, wait)
        except TRANSIENT_ERRORS as exc:
            log.warning("stage timer waiting for the database", extra={"error": str(exc)})
        except Exception:
            log.exception("stage timer round failed; retried at the next round")
        beat()
        await asyncio.sleep(wait)
