"""The composition root of the reporting service: the only place that wires things."""

from __future__ import annotations

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_reporting import handlers, upkeep
from burnrate_reporting.api import contracts, customers, pages, service_levels, sla_pages
from burnrate_reporting.metrics import business_metrics
from burnrate_reporting.service import Deps, HandledMark
from burnrate_reporting.settings import ReportingSettings


def build(
    settings: ReportingSettings | None = None,
    *,
    clock: Clock | None = None,
    wall_clock: Clock | None = None,
) -> ServiceDefinition[Deps]:
    """``clock`` gives "today" (a date in each contract's zone; tests fix it); ``wall_clock``
    the real time the read-model lag is measured against."""
    settings = settings or ReportingSettings()
    deps = Deps(
        settings=settings,
        clock=clock or SystemClock(),
        wall_clock=wall_clock or SystemClock(),
        handled=HandledMark(),
        templates=pages.templates(),
    )
    return ServiceDefinition(
        settings=settings,
        package="burnrate_reporting",
        title="Burnrate reporting",
        deps=deps,
        routers=[
            contracts.router,
            customers.router,
            service_levels.router,
            pages.router,
            sla_pages.router,
            pages.assets_router(settings),
        ],
        handlers=handlers.HANDLERS,
        # Every handled envelope is also kept in the event log, for `rebuild`.
        wrap_handlers=handlers.keep_in_event_log(deps.handled),
        trims=handlers.TRIMS,
        # Read models only: a commit need not wait for the disk before the next batch.
        ack_after_flush=True,
        background=[business_metrics, upkeep.screen_refresh, upkeep.event_log_compaction],
    )
