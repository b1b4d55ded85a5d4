"""The composition root of the contracts service: the only place that wires things."""

from burnrate_common.runtime import ServiceDefinition

from burnrate_contracts.api import api_keys, contracts, customers
from burnrate_contracts.settings import ContractsSettings


def build(settings: ContractsSettings | None = None) -> ServiceDefinition:
    return ServiceDefinition(
        settings=settings or ContractsSettings(),
        package="burnrate_contracts",
        title="Burnrate contracts",
        routers=[customers.router, contracts.router, api_keys.router],
        # The contracts service issues API keys itself, so it consumes no events.
        replicate_api_keys=False,
    )
