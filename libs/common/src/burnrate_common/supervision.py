"""Every long-running loop of a service runs supervised, so none can stop silently.

A loop that ends or raises is logged with its error, counted
(``burnrate_<service>_loop_restarts_total``) and started again after a backoff (1 s, doubling
to 30 s; back to 1 s once a run has lasted a minute). A loop that calls :func:`beat` is
expected to keep beating: ``/readyz`` answers 503 while any loop is restarting or has not
beaten within its ``stale_after``, so an orchestrator sees a stuck service as well as a
dead one.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from burnrate_common.metrics import ServiceMetrics

log = logging.getLogger(__name__)

#: How long a loop that beats may go without a beat before the service reads as not ready.
DEFAULT_STALE_AFTER_SECONDS = 120.0
_FIRST_BACKOFF_SECONDS = 1.0
_MAX_BACKOFF_SECONDS = 30.0
_HEALTHY_RUN_SECONDS = 60.0


@dataclass
class LoopHealth:
    name: str
    stale_after: float
    running: bool = False
    #: monotonic time of the last beat; None: the loop never beats (only crashes count)
    last_beat: float | None = None
    restarts: int = 0
    last_error: str | None = None

    def healthy(self, now: float) -> bool:
        if not self.running:
            return False
        return self.last_beat is None or now - self.last_beat <= self.stale_after


_current: contextvars.ContextVar[LoopHealth | None] = contextvars.ContextVar(
    "burnrate_loop", default=None
)


def beat() -> None:
    """Tell the supervisor the calling loop is making progress (or idling as it should).

    Call it at least once per ``stale_after`` from every pass of the loop, waits included.
    Outside a supervised loop it does nothing.
    """
    health = _current.get()
    if health is not None:
        health.last_beat = time.monotonic()


class Loops:
    """The supervised loops of one service."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics
        self._loops: dict[str, LoopHealth] = {}

    def start(
        self,
        name: str,
        run: Callable[[], Awaitable[None]],
        *,
        stale_after: float = DEFAULT_STALE_AFTER_SECONDS,
    ) -> asyncio.Task[None]:
        """Run ``run()`` as the loop ``name`` until cancelled, restarting it as needed."""
        if name in self._loops:
            raise ValueError(f"a loop named {name} runs already")
        health = LoopHealth(name, stale_after)
        self._loops[name] = health
        return asyncio.create_task(self._supervise(health, run), name=name)

    def health(self) -> dict[str, LoopHealth]:
        return dict(self._loops)

    def ready(self) -> dict[str, bool]:
        now = time.monotonic()
        return {f"loop:{name}": h.healthy(now) for name, h in self._loops.items()}

    async def _supervise(self, health: LoopHealth, run: Callable[[], Awaitable[None]]) -> None:
        _current.set(health)
        backoff = _FIRST_BACKOFF_SECONDS
        while True:
            started = time.monotonic()
            health.running = True
            if health.last_beat is not None:
                health.last_beat = started
            try:
                await run()
                health.last_error = "the loop returned"
                log.error("loop ended, restarting", extra={"loop": health.name})
            except asyncio.CancelledError:
                health.running = False
                raise
            except Exception as exc:
                health.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("loop failed, restarting", extra={"loop": health.name})
            health.running = False
            health.restarts += 1
            self._metrics.loop_restarts.labels(health.name).inc()
            if time.monotonic() - started >= _HEALTHY_RUN_SECONDS:
                backoff = _FIRST_BACKOFF_SECONDS
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
