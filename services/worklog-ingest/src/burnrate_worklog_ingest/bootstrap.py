"""The composition root of the worklog-ingest service: the only place that wires things."""

from burnrate_common.events import EventType
from burnrate_common.runtime import ServiceDefinition

from burnrate_worklog_ingest import handlers
from burnrate_worklog_ingest.api import imports, jira, worklogs
from burnrate_worklog_ingest.settings import WorklogIngestSettings


def build(settings: WorklogIngestSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or WorklogIngestSettings(),
        package="burnrate_worklog_ingest",
        title="Burnrate worklog ingest",
        routers=[worklogs.router, jira.router, imports.router],
        # The routing replica: which contract (and period) a worklog counts against.
        handlers={
            EventType.CONTRACT_CREATED: handlers.on_contract_created,
            EventType.CONTRACT_UPDATED: handlers.on_contract_updated,
            EventType.CONTRACT_DELETED: handlers.on_contract_deleted,
        },
    )
