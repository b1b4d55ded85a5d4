"""The composition root of the reporting service: the only place that wires things."""

import datetime as dt

from burnrate_common.events import EventType
from burnrate_common.runtime import ServiceDefinition

from burnrate_reporting import handlers
from burnrate_reporting.api import contracts, customers
from burnrate_reporting.api.views import Clock
from burnrate_reporting.settings import ReportingSettings


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build(
    settings: ReportingSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or ReportingSettings(),
        package="burnrate_reporting",
        title="Burnrate reporting",
        routers=[contracts.router, customers.router],
        handlers={
            EventType.CUSTOMER_CREATED: handlers.on_customer_changed,
            EventType.CUSTOMER_UPDATED: handlers.on_customer_changed,
            EventType.CONTRACT_CREATED: handlers.on_contract_changed,
            EventType.CONTRACT_UPDATED: handlers.on_contract_changed,
            EventType.CONSUMPTION_RECORDED: handlers.on_consumption_recorded,
            EventType.WORKLOG_RECORDED: handlers.on_worklog_changed,
            EventType.WORKLOG_CORRECTED: handlers.on_worklog_changed,
            EventType.WORKLOG_DELETED: handlers.on_worklog_changed,
            EventType.ALERT_RAISED: handlers.on_alert_raised,
            EventType.NOTIFICATION_SENT: handlers.on_notification_outcome,
            EventType.NOTIFICATION_FAILED: handlers.on_notification_outcome,
        },
        # "Today" is a date in each contract's zone, taken from this clock (tests fix it).
        extras={"clock": clock or _utc_now},
    )
