"""The composition root of the tickets service: the only place that wires things."""

from __future__ import annotations

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_tickets import handlers
from burnrate_tickets.api import confirmations, levels, mappings, tickets, webhooks
from burnrate_tickets.service import Deps
from burnrate_tickets.settings import TicketsSettings
from burnrate_tickets.timer import stage_timer


def build(
    settings: TicketsSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition[Deps]:
    """``clock``: the one source of time (clocks, stages, links); tests pass a
    ``FixedClock``."""
    settings = settings or TicketsSettings()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_tickets",
        title="Burnrate tickets",
        deps=Deps(clock=clock or SystemClock(), settings=settings),
        routers=[
            tickets.router,
            levels.router,
            webhooks.router,
            mappings.router,
            confirmations.router,
        ],
        handlers=handlers.HANDLERS,
        background=[stage_timer],
    )
