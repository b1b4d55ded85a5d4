"""The composition root of the rules service: the only place that wires things."""

from __future__ import annotations

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_rules import handlers
from burnrate_rules.api import alerts, rules, totals
from burnrate_rules.daily import daily_clock
from burnrate_rules.service import Deps
from burnrate_rules.settings import RulesSettings


def build(
    settings: RulesSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition[Deps]:
    """``clock``: the one source of time (handlers, the daily clock, previews); tests pass a
    ``FixedClock``."""
    settings = settings or RulesSettings()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_rules",
        title="Burnrate rules",
        deps=Deps(clock=clock or SystemClock(), settings=settings),
        routers=[rules.router, alerts.router, totals.router],
        handlers=handlers.HANDLERS,
        background=[daily_clock],
    )
