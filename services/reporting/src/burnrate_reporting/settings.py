from pathlib import Path

from burnrate_common.settings import ServiceSettings
from pydantic import Field, SecretStr, model_validator

#: services/reporting/web: package.json, package-lock.json and, after `npm ci`, node_modules.
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[2] / "web" / "node_modules"

#: Signs the customers' report links in development only; production must set its own.
DEVELOPMENT_LINK_SECRET = "development-only-report-link-secret"  # noqa: S105 (public on purpose)


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    port: int = Field(default=8005, validation_alias="BURNRATE_REPORTING_PORT")
    #: An active contract whose end date is this close (in days, local) is "expiring".
    expiring_within_days: int = Field(default=30, ge=0, le=3660)
    #: HMAC key of the customers' report links; required in production.
    report_link_secret: SecretStr | None = None
    #: Lifetime of a customer report link when the request does not say.
    report_link_days: int = Field(default=30, ge=1, le=366)
    #: Where customers reach this service (the links are built on it).
    reporting_public_url: str = "http://127.0.0.1:8005"
    #: The npm packages (chart.js, pico) installed by `make install` (npm ci).
    reporting_assets_dir: Path = DEFAULT_ASSETS_DIR
    #: How often the business metrics and the read-model lag are read from the tables.
    reporting_metrics_seconds: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _link_secret_in_production(self) -> "ReportingSettings":
        if self.environment == "production" and self.report_link_secret is None:
            raise ValueError("BURNRATE_REPORT_LINK_SECRET is required in production")
        return self

    @property
    def link_secret(self) -> bytes:
        secret = self.report_link_secret
        return (secret.get_secret_value() if secret else DEVELOPMENT_LINK_SECRET).encode()
