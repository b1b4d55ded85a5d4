"""The daily clock's background loop: a tick at start (the catch-up after downtime) and
every ``clock_interval_seconds`` after (see :mod:`burnrate_rules.service.clock`)."""

from __future__ import annotations

import asyncio
import logging

from burnrate_common.bus import TRANSIENT_ERRORS
from burnrate_common.runtime import Runtime

from burnrate_rules.service import Deps, clock

log = logging.getLogger(__name__)


async def daily_clock(runtime: Runtime[Deps]) -> None:
    deps = runtime.deps
    while True:
        try:
            await clock.tick(runtime.pool, deps)
        except TRANSIENT_ERRORS as exc:
            log.warning("daily clock waiting for the database", extra={"error": str(exc)})
        except Exception:
            log.exception("daily clock tick failed; retried at the next tick")
        await asyncio.sleep(deps.settings.clock_interval_seconds)
