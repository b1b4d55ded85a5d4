"""The composition root of the contracts service: the only place that wires things."""

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_contracts.api import (
    api_keys,
    calendars,
    contacts,
    contracts,
    customers,
    pages,
    rate_cards,
    service_levels,
)
from burnrate_contracts.handlers import HANDLERS
from burnrate_contracts.service import Deps
from burnrate_contracts.settings import ContractsSettings


def build(
    settings: ContractsSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition[Deps]:
    settings = settings or ContractsSettings()
    return ServiceDefinition(
        settings=settings,
        package="burnrate_contracts",
        title="Burnrate contracts",
        deps=Deps(settings=settings, clock=clock or SystemClock()),
        routers=[
            customers.router,
            contacts.router,
            contracts.router,
            rate_cards.router,
            service_levels.router,
            calendars.router,
            api_keys.router,
            pages.router,
        ],
        handlers=HANDLERS,
        # The contracts service issues API keys itself, so it replicates none from the bus.
        replicate_api_keys=False,
    )
