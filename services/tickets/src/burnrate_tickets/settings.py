from typing import Any

from burnrate_common.report_links import ReportLinkSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


def _env(name: str, default: Any, **kwargs: Any) -> Any:
    """A setting read from ``BURNRATE_TICKETS_<NAME>`` only (code may pass it by field name);
    never from a bare ``<NAME>`` another program set."""
    return Field(default=default, validation_alias=f"BURNRATE_TICKETS_{name.upper()}", **kwargs)


class TicketsSettings(ReportLinkSettings):
    model_config = SettingsConfigDict(env_prefix="BURNRATE_", extra="ignore", populate_by_name=True)

    service_name: str = "tickets"
    port: int = Field(default=8007, validation_alias="BURNRATE_TICKETS_PORT")
    # The stage timer: it wakes when the next scheduled stage falls due, and at least this
    # often (to find stages a writer scheduled meanwhile); how many tickets one transaction
    # handles.
    timer_interval_seconds: float = _env("timer_interval_seconds", 1.0, gt=0)
    timer_batch_size: int = _env("timer_batch_size", 500, ge=1, le=10_000)
    # Shared secrets of the signed webhooks; unset: the webhook answers 503.
    jsm_webhook_secret: SecretStr | None = _env("jsm_webhook_secret", None)
    zendesk_webhook_secret: SecretStr | None = _env("zendesk_webhook_secret", None)
    # A Zendesk signature timestamp further than this from now is refused (replays).
    zendesk_signature_tolerance_seconds: int = _env(
        "zendesk_signature_tolerance_seconds", 3600, ge=1
    )
    # The JSM field holding the ticket's category (its request type), if any.
    jsm_category_field: str | None = _env("jsm_category_field", "customfield_10010")
    # Per source, the statuses (case-insensitive) that mean waiting on the customer (the
    # clock pauses), resolved and closed; any other status is active.
    waiting_statuses: dict[str, list[str]] = _env(
        "waiting_statuses",
        {
            "api": ["waiting_on_customer", "pending"],
            "jsm": ["waiting for customer", "pending"],
            "zendesk": ["pending"],
        },
    )
    resolved_statuses: dict[str, list[str]] = _env(
        "resolved_statuses",
        {
            "api": ["resolved"],
            "jsm": ["resolved", "done", "canceled", "cancelled"],
            "zendesk": ["solved"],
        },
    )
    closed_statuses: dict[str, list[str]] = _env(
        "closed_statuses", {"api": ["closed"], "jsm": ["closed"], "zendesk": ["closed"]}
    )
    # The closing confirmation: where customers reach this service, and how long a link lives.
    tickets_public_url: str = _env("public_url", "http://127.0.0.1:8007")
    confirmation_days: int = _env("confirmation_days", 14, ge=1, le=366)
