"""The daily clock's background loop: a tick at start (the catch-up after downtime) and
every ``clock_interval_seconds`` after (see :mod:`burnrate_rules.service.clock`).

It beats the supervisor's heartbeat on every pass and while it waits, so a clock that hangs
turns ``/readyz`` 503. A lost database is waited out until the next tick; anything else that
escapes a tick goes to the supervisor (logged, counted, restarted with backoff). One
contract whose evaluation raises is set aside inside the tick and stops nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from burnrate_common.bus import TRANSIENT_ERRORS
from burnrate_common.runtime import Runtime
from burnrate_common.supervision import beat

from burnrate_rules.metrics import RulesMetrics
from burnrate_rules.service import Deps, clock

log = logging.getLogger(__name__)

#: The longest wait between two beats (the supervisor expects one within two minutes).
MAX_BEAT_INTERVAL_SECONDS = 30.0


async def daily_clock(runtime: Runtime[Deps]) -> None:
    deps = runtime.deps
    metrics = RulesMetrics.of(runtime.metrics.registry)
    while True:
        beat()
        try:
            await clock.tick(runtime.pool, deps, metrics)
        except TRANSIENT_ERRORS as exc:
            log.warning("daily clock waiting for the database", extra={"error": str(exc)})
        await _wait_beating(deps.settings.clock_interval_seconds)


async def _wait_beating(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        beat()
        await asyncio.sleep(min(left, MAX_BEAT_INTERVAL_SECONDS))
    beat()
