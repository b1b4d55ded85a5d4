from pathlib import Path

from burnrate_common.report_links import ReportLinkSettings
from pydantic import Field

#: services/reporting/web: package.json, package-lock.json and, after `npm ci`, node_modules.
DEFAULT_ASSETS_DIR = Path(__file__).resolve().parents[2] / "web" / "node_modules"


class ReportingSettings(ReportLinkSettings):
    service_name: str = "reporting"
    port: int = Field(default=8005, validation_alias="BURNRATE_REPORTING_PORT")
    #: An active contract whose end date is this close (in days, local) is "expiring".
    expiring_within_days: int = Field(default=30, ge=0, le=3660)
    #: The npm packages (chart.js, pico) installed by `make install` (npm ci).
    reporting_assets_dir: Path = DEFAULT_ASSETS_DIR
    #: How often the business metrics and the read-model lag are read from the tables.
    reporting_metrics_seconds: float = Field(default=15.0, gt=0)
    #: How often the contract screen rows whose local date rolled over are refreshed (reads
    #: stay right in between; they only compute those contracts themselves).
    reporting_screen_refresh_seconds: float = Field(default=10.0, gt=0)
    #: Consumption events in the event log that occurred this many days ago or more are
    #: compacted into per-period sums, once every ``reporting_compaction_seconds``.
    reporting_compact_after_days: int = Field(default=7, ge=1)
    reporting_compaction_seconds: float = Field(default=3600.0, gt=0)
