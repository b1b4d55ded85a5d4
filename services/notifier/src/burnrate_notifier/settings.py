from email.utils import parseaddr
from typing import Self

from burnrate_common.report_links import ReportLinkSettings
from pydantic import Field, SecretStr, field_validator, model_validator


class NotifierSettings(ReportLinkSettings):
    service_name: str = "notifier"
    port: int = Field(default=8004, validation_alias="BURNRATE_NOTIFIER_PORT")

    # SMTP relay (BURNRATE_SMTP_HOST, BURNRATE_SMTP_PORT …); the defaults fit a local sink.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65_535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # STARTTLS on a plain connection (587), or TLS from the first byte (465).
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = "Burnrate <burnrate@localhost>"

    # Delivery: tries per mail, backoff (base · 2^attempts, capped, plus jitter), batch, idle poll.
    send_max_attempts: int = Field(default=8, ge=1, le=100)
    send_retry_base_seconds: float = Field(default=2.0, gt=0)
    send_retry_max_seconds: float = Field(default=900.0, gt=0)
    send_batch_size: int = Field(default=50, ge=1, le=1_000)
    # Idle poll (a NOTIFY wakes the senders sooner); at most 30 s is used, so each sender
    # loop beats its heartbeat in time.
    sender_poll_seconds: float = Field(default=0.5, gt=0)
    # The SMTP server unreachable (refused, timed out, failed greeting or login): no mail's
    # attempts are spent; the sender tries again after base · 2^n seconds, capped at
    # smtp_outage_retry_max_seconds with jitter included (jitter shortens a wait by up to 25 %).
    smtp_outage_retry_base_seconds: float = Field(default=1.0, gt=0)
    smtp_outage_retry_max_seconds: float = Field(default=60.0, gt=0)

    # At most this many mails to one address per contract, rule and period; more are
    # recorded as suppressed, so a flood of alerts never becomes a mail bomb.
    max_mails_per_rule_period: int = Field(default=10, ge=1, le=10_000)
    # At most this many mails to one address in any 24 hours, every contract and rule
    # together (BURNRATE_MAX_MAILS_PER_ADDRESS_PER_DAY); more are recorded as suppressed
    # (reason address_daily_limit), so many rules cannot add up to a mail bomb either.
    max_mails_per_address_per_day: int = Field(default=50, ge=1, le=100_000)

    # Outbound webhooks: signed with HMAC-SHA256 of this secret; tried like mail. URLs that
    # resolve to loopback, link-local or private addresses are refused unless allowed.
    webhook_secret: SecretStr | None = None
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    # Unsubscribe links in the mails to customer contacts and extra addresses (signed with
    # BURNRATE_REPORT_LINK_SECRET): where recipients reach this service, and for how long a
    # link works (mail clients may send the one-click POST long after the mail arrived).
    notifier_public_url: str = "http://127.0.0.1:8004"
    unsubscribe_link_days: int = Field(default=180, ge=1, le=3_650)

    @field_validator("mail_from")
    @classmethod
    def _one_address(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("mail_from must be one line")
        _, address = parseaddr(value)
        local, _, domain = address.rpartition("@")
        if not local or not domain:
            raise ValueError("mail_from needs an address, e.g. 'Burnrate <burnrate@example.com>'")
        return value

    @model_validator(mode="after")
    def _smtp_consistent(self) -> Self:
        if self.smtp_starttls and self.smtp_use_tls:
            raise ValueError("choose one of BURNRATE_SMTP_STARTTLS and BURNRATE_SMTP_USE_TLS")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("BURNRATE_SMTP_USERNAME and BURNRATE_SMTP_PASSWORD go together")
        if (
            self.environment == "production"
            and self.smtp_username is not None
            and not (self.smtp_starttls or self.smtp_use_tls)
        ):
            raise ValueError("SMTP credentials need STARTTLS or TLS in production")
        return self

    @property
    def webhook_require_https(self) -> bool:
        """Plain http is for development only."""
        return self.environment == "production"

    @property
    def mail_from_address(self) -> str:
        """The bare address of ``mail_from``: the SMTP envelope sender."""
        return parseaddr(self.mail_from)[1]

    @property
    def message_id_domain(self) -> str:
        """Right-hand side of our Message-IDs: the sender's domain (no DNS lookup)."""
        return self.mail_from_address.rpartition("@")[2]
