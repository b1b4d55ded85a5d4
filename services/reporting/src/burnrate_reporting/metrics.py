"""Business metrics and the read-model lag, on the service's registry (``/metrics``).

The figures are read from the read models every ``BURNRATE_REPORTING_METRICS_SECONDS``, so
every replica reports the same values, and a restart or a rebuild loses nothing. The lag is
computed at scrape time: now − occurred_at of the last event this process handled.
"""

from __future__ import annotations

import asyncio
import logging

from burnrate_common.clock import Clock
from burnrate_common.events import Trigger
from burnrate_common.runtime import Runtime
from prometheus_client import CollectorRegistry, Gauge

from burnrate_reporting.schemas import ScreenStatus
from burnrate_reporting.service import Deps, HandledMark
from burnrate_reporting.service.metrics import BusinessFigures, business_figures

log = logging.getLogger(__name__)

PREFIX = "burnrate_reporting"


class ReportingMetrics:
    def __init__(self, registry: CollectorRegistry, mark: HandledMark, wall_clock: Clock) -> None:
        self.contracts = Gauge(
            f"{PREFIX}_contracts",
            "Contracts by status on the contract screen",
            ["status"],
            registry=registry,
        )
        self.hours_executed = Gauge(
            f"{PREFIX}_hours_executed",
            "Hours executed on all contracts and periods (corrections included)",
            registry=registry,
        )
        self.alerts_raised = Gauge(
            f"{PREFIX}_alerts_raised",
            "Alerts raised, by trigger",
            ["trigger"],
            registry=registry,
        )
        self.deliveries = Gauge(
            f"{PREFIX}_deliveries",
            "Notification deliveries by their latest outcome (sent, failed)",
            ["status"],
            registry=registry,
        )
        self.lag = Gauge(
            f"{PREFIX}_read_model_lag_seconds",
            "Now minus occurred_at of the last event handled (0 before the first)",
            registry=registry,
        )
        self._mark = mark
        self._wall_clock = wall_clock
        self.lag.set_function(self._lag)
        for status in ScreenStatus:
            self.contracts.labels(status.value)
        for trigger in Trigger:
            self.alerts_raised.labels(trigger.value)

    def _lag(self) -> float:
        if self._mark.occurred_at is None:
            return 0.0
        return max((self._wall_clock.now() - self._mark.occurred_at).total_seconds(), 0.0)

    def show(self, figures: BusinessFigures) -> None:
        for status in ScreenStatus:
            self.contracts.labels(status.value).set(
                figures.contracts_by_status.get(status.value, 0)
            )
        self.hours_executed.set(figures.executed_seconds / 3600)
        for trigger in Trigger:
            self.alerts_raised.labels(trigger.value).set(
                figures.alerts_by_trigger.get(trigger.value, 0)
            )
        self.deliveries.labels("sent").set(figures.deliveries_sent)
        self.deliveries.labels("failed").set(figures.deliveries_failed)
        if self._mark.occurred_at is None:
            self._mark.occurred_at = figures.last_occurred_at


async def business_metrics(runtime: Runtime[Deps]) -> None:
    """Background loop: refresh the business metrics from the read models."""
    deps = runtime.deps
    metrics = ReportingMetrics(runtime.metrics.registry, deps.handled, deps.wall_clock)
    while True:
        try:
            async with runtime.pool.acquire() as conn:
                metrics.show(await business_figures(conn, deps))
        except Exception as exc:
            log.warning("business metrics not refreshed", extra={"error": str(exc)})
        await asyncio.sleep(deps.settings.reporting_metrics_seconds)
