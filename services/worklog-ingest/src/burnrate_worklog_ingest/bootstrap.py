"""The composition root of the worklog-ingest service: the only place that wires things."""

from __future__ import annotations

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_worklog_ingest import handlers
from burnrate_worklog_ingest.api import imports, jira, rejected, worklogs
from burnrate_worklog_ingest.service import Deps
from burnrate_worklog_ingest.settings import WorklogIngestSettings


def build(
    settings: WorklogIngestSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition[Deps]:
    """``clock``: the one source of time (the Jira replay window); tests pass a fixed one."""
    settings = settings or WorklogIngestSettings()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_worklog_ingest",
        title="Burnrate worklog ingest",
        deps=Deps(settings=settings, clock=clock or SystemClock()),
        # rejected first: its paths (/v1/worklogs/rejected...) before /v1/worklogs/{id}
        routers=[rejected.router, worklogs.router, jira.router, imports.router],
        # The routing replica: which contract (and period) a worklog counts against.
        handlers=handlers.HANDLERS,
    )
