from burnrate_common.settings import ServiceSettings
from pydantic import Field


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    port: int = Field(default=8005, validation_alias="BURNRATE_REPORTING_PORT")
