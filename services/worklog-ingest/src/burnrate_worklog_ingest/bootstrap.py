"""The composition root of the worklog-ingest service: the only place that wires things."""

from __future__ import annotations

from burnrate_common.runtime import ServiceDefinition

from burnrate_worklog_ingest import handlers
from burnrate_worklog_ingest.api import imports, jira, worklogs
from burnrate_worklog_ingest.service import Deps
from burnrate_worklog_ingest.settings import WorklogIngestSettings


def build(settings: WorklogIngestSettings | None = None) -> ServiceDefinition[Deps]:
    settings = settings or WorklogIngestSettings()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_worklog_ingest",
        title="Burnrate worklog ingest",
        deps=Deps(settings=settings),
        routers=[worklogs.router, jira.router, imports.router],
        # The routing replica: which contract (and period) a worklog counts against.
        handlers=handlers.HANDLERS,
    )
