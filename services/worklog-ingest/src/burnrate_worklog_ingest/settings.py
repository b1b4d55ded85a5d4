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
    # ... and their location when the URL names none (None: no location).
    jira_default_location: str | None = None
    # A Jira delivery is applied only if its signed `timestamp` is within this many seconds
    # of now, and only once (the SHA-256 of its body is remembered that long). Outside it,
    # the delivery is kept under /v1/worklogs/rejected (reason outside_replay_window), for a
    # person to replay: never applied by itself, never lost.
    jira_replay_window_seconds: int = Field(default=1800, ge=60)
