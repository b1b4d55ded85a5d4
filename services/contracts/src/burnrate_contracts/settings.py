from burnrate_common.settings import ServiceSettings
from pydantic import Field


class ContractsSettings(ServiceSettings):
    service_name: str = "contracts"
    port: int = Field(default=8001, validation_alias="BURNRATE_CONTRACTS_PORT")
    #: A running contract whose end date is at most this many days away reads as "expiring"
    #: (``BURNRATE_EXPIRING_WITHIN_DAYS``).
    expiring_within_days: int = Field(default=30, ge=0, le=3650)
