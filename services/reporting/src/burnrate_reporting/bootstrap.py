"""The composition root of the reporting service: the only place that wires things."""

import datetime as dt
from collections.abc import Callable
from typing import cast

from burnrate_common.clock import Clock
from burnrate_common.runtime import ServiceDefinition

from burnrate_reporting import handlers, upkeep
from burnrate_reporting.api import contracts, customers, pages
from burnrate_reporting.metrics import business_metrics
from burnrate_reporting.settings import ReportingSettings


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _as_callable(clock: Clock | Callable[[], dt.datetime] | None) -> Callable[[], dt.datetime]:
    if clock is None:
        return _utc_now
    now = getattr(clock, "now", None)
    return now if callable(now) else cast(Callable[[], dt.datetime], clock)


def build(
    settings: ReportingSettings | None = None,
    *,
    clock: Clock | Callable[[], dt.datetime] | None = None,
    wall_clock: Callable[[], dt.datetime] | None = None,
) -> ServiceDefinition:
    """``clock`` gives "today" (a date in each contract's zone; tests fix it); ``wall_clock``
    the real time the read-model lag is measured against."""
    settings = settings or ReportingSettings()
    now = _as_callable(clock)
    mark = handlers.HandledMark()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_reporting",
        title="Burnrate reporting",
        routers=[
            contracts.router,
            customers.router,
            pages.router,
            pages.assets_router(settings),
        ],
        # Every handled envelope is also kept in the event log, for `rebuild`.
        handlers={t: handlers.logged(h, mark) for t, h in handlers.HANDLERS.items()},
        trims=handlers.TRIMS,
        # Read models only: a commit need not wait for the disk before the next batch.
        ack_after_flush=True,
        background=[business_metrics, upkeep.screen_refresh, upkeep.event_log_compaction],
        extras={"clock": now, "now": now, "handled": mark, "wall_clock": wall_clock or _utc_now},
    )
