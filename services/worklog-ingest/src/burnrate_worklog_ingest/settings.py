from burnrate_common.settings import ServiceSettings
from pydantic import Field, SecretStr


class WorklogIngestSettings(ServiceSettings):
    service_name: str = "worklog-ingest"
    port: int = Field(default=8002, validation_alias="BURNRATE_WORKLOG_INGEST_PORT")
    # Jira Cloud webhooks: the shared secret Jira signs bodies with (unset: webhooks refused),
    # and the team / activity of Jira worklogs when the webhook URL does not name them.
    jira_webhook_secret: SecretStr | None = None
    jira_default_team: str = "jira"
    jira_default_activity: str = "jira"
