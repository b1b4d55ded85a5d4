from burnrate_common.settings import ServiceSettings
from pydantic import Field


class WorklogIngestSettings(ServiceSettings):
    service_name: str = "worklog-ingest"
    port: int = Field(default=8002, validation_alias="BURNRATE_WORKLOG_INGEST_PORT")
