"""The composition root of the contracts service: the only place that wires things."""

from burnrate_common.clock import Clock, SystemClock
from burnrate_common.runtime import ServiceDefinition

from burnrate_contracts.api import api_keys, contacts, contracts, customers
from burnrate_contracts.settings import ContractsSettings


def build(
    settings: ContractsSettings | None = None, *, clock: Clock | None = None
) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or ContractsSettings(),
        package="burnrate_contracts",
        title="Burnrate contracts",
        routers=[customers.router, contacts.router, contracts.router, api_keys.router],
        # The contracts service issues API keys itself, so it consumes no events.
        replicate_api_keys=False,
        # "Today" (for the derived status) is a day in each contract's zone, from this clock.
        extras={"clock": clock or SystemClock()},
    )
