from burnrate_common.settings import ServiceSettings
from pydantic import Field


class RulesSettings(ServiceSettings):
    service_name: str = "rules"
    port: int = Field(default=8003, validation_alias="BURNRATE_RULES_PORT")
