"""The composition root of the rules service: the only place that wires things."""

from burnrate_common.events import EventType
from burnrate_common.runtime import ServiceDefinition

from burnrate_rules import handlers
from burnrate_rules.api import alerts, rules, totals
from burnrate_rules.settings import RulesSettings


def build(settings: RulesSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or RulesSettings(),
        package="burnrate_rules",
        title="Burnrate rules",
        routers=[rules.router, alerts.router, totals.router],
        handlers={
            EventType.CONTRACT_CREATED: handlers.on_contract_changed,
            EventType.CONTRACT_UPDATED: handlers.on_contract_changed,
            EventType.CONSUMPTION_RECORDED: handlers.on_consumption_recorded,
        },
    )
