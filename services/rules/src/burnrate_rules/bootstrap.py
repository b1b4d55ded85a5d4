"""The composition root of the rules service: the only place that wires things."""

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.events import EventType
from burnrate_common.runtime import ServiceDefinition

from burnrate_rules.api import alerts, rules, totals
from burnrate_rules.daily import daily_clock
from burnrate_rules.handlers import Handlers
from burnrate_rules.settings import RulesSettings


def build(settings: RulesSettings | None = None, clock: Clock | None = None) -> ServiceDefinition:
    """``clock``: the one source of time (handlers, the daily clock, previews); tests pass a
    ``FixedClock``."""
    settings = settings or RulesSettings()
    clock = clock or SystemClock()
    handlers = Handlers(clock, settings)
    return ServiceDefinition(
        settings=settings,
        package="burnrate_rules",
        title="Burnrate rules",
        routers=[rules.router, alerts.router, totals.router],
        handlers={
            EventType.CONTRACT_CREATED: handlers.on_contract_changed,
            EventType.CONTRACT_UPDATED: handlers.on_contract_changed,
            # Kept as a tombstone with lifecycle "deleted": only active contracts alert.
            EventType.CONTRACT_DELETED: handlers.on_contract_changed,
            EventType.CONSUMPTION_RECORDED: handlers.on_consumption_recorded,
        },
        background=[daily_clock],
        extras={"clock": clock},
    )
