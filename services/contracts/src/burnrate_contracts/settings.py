from burnrate_common.settings import ServiceSettings
from pydantic import Field


class ContractsSettings(ServiceSettings):
    service_name: str = "contracts"
    port: int = Field(default=8001, validation_alias="BURNRATE_CONTRACTS_PORT")
