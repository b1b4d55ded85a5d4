from burnrate_common.settings import ServiceSettings
from pydantic import Field


class RulesSettings(ServiceSettings):
    service_name: str = "rules"
    port: int = Field(default=8003, validation_alias="BURNRATE_RULES_PORT")
    # The daily clock: how often it looks for contracts whose local day has changed
    # (BURNRATE_CLOCK_INTERVAL_SECONDS), and how many contracts one transaction evaluates.
    clock_interval_seconds: float = Field(default=60.0, gt=0)
    clock_batch_size: int = Field(default=200, ge=1, le=10_000)
    # Periods that ended at most this many days ago still get their end-of-period
    # (period_unused) evaluation: the catch-up after downtime, and no flood of old periods.
    clock_catch_up_days: int = Field(default=7, ge=0, le=366)
    # forecast_over_plan stays quiet until this share of the period has passed.
    forecast_min_elapsed_percent: int = Field(default=20, ge=0, le=100)
    # At most this many enabled rules apply to one contract (its own, its customer's and
    # everyone's together): a rule that would make more is refused with a 409
    # (BURNRATE_MAX_RULES_PER_CONTRACT). The notifier caps the mails per address besides.
    max_rules_per_contract: int = Field(default=20, ge=1, le=1_000)
    # A rule or opt-out naming a contract this service has not heard of yet (it learns of
    # contracts through contract.* events, some milliseconds after the contracts service
    # answered) waits up to this long for it before the answer is 422 "Unknown contract"
    # (BURNRATE_CONTRACT_WAIT_SECONDS): a script may create a contract and at once its rule.
    contract_wait_seconds: float = Field(default=5.0, ge=0, le=60)
