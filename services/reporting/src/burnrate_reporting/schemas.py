"""All request and response models of the reporting API (JSON; the CSV exports and the
pages are rendered from the same models)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from burnrate_common.contract_status import ContractStatus
from burnrate_common.contract_terms import ServiceLevelTerms
from burnrate_common.types import Hours
from pydantic import BaseModel, Field, PlainSerializer

#: A percentage with one decimal, as a JSON number.
Percent = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
#: Minutes (of business time, one decimal), as a JSON number.
Minutes = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
#: An amount of money (a decimal string in JSON, as billing writes it).
Money = Decimal


class ScreenStatus(StrEnum):
    """The statuses the contract screen shows and filters by: those of
    ``burnrate_common.contract_status`` for the lifecycle "active" (reporting keeps no
    drafts nor closed contracts)."""

    NOT_STARTED = ContractStatus.NOT_STARTED.value
    ACTIVE = ContractStatus.ACTIVE.value
    EXPIRING = ContractStatus.EXPIRING.value
    EXHAUSTED = ContractStatus.EXHAUSTED.value
    EXPIRED = ContractStatus.EXPIRED.value


class Section(StrEnum):
    """Which table of the delivery report a CSV holds."""

    PERIODS = "periods"
    TEAMS = "teams"
    TEAM_PERIODS = "team_periods"
    ACTIVITIES = "activities"
    PEOPLE = "people"
    LOCATIONS = "locations"
    OUTSIDE_DATES = "outside_dates"
    FORECAST = "forecast"


# --- the contract screen ---------------------------------------------------------------


class CurrentPeriod(BaseModel):
    start_date: dt.date
    end_date: dt.date
    planned_hours: Hours
    executed_hours: Hours
    remaining_hours: Hours
    percent: Percent | None
    overage_hours: Hours
    planned_seconds: int
    executed_seconds: int
    #: executed at the period's end: executed so far plus, for the days after today, the
    #: daily rate of the last three full periods (``domain.forecast``; the same figure as
    #: the delivery report's current forecast line)
    forecast_hours: Hours | None = None
    forecast_seconds: int | None = None
    #: what the forecast is based on: mean_daily_rate_of_last_full_periods |
    #: current_period_run_rate | no_history
    forecast_basis: str | None = None


class LastAlert(BaseModel):
    stage: str
    trigger: str
    raised_at: dt.datetime


class NotificationCounts(BaseModel):
    sent: int
    failed: int


class ContractSummary(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str | None = None
    code: str
    title: str
    start_date: dt.date
    end_date: dt.date
    timezone: str
    status: ContractStatus
    #: days of the contract still to come, today (local) included; 0 once it ended
    days_left: int = 0
    current_period: CurrentPeriod | None
    last_alert: LastAlert | None
    notifications: NotificationCounts


class Attention(BaseModel):
    """What needs attention today: contracts exhausted (current period used up), over
    forecast (the current period's forecast exceeds its plan) and expiring."""

    exhausted: int
    over_forecast: int
    expiring: int


class ForecastFilter(StrEnum):
    OVER = "over"


# --- one period of a contract ------------------------------------------------------------


class PeriodWindow(BaseModel):
    start_date: dt.date
    end_date: dt.date


class TeamHours(BaseModel):
    team: str
    executed_hours: Hours
    executed_seconds: int


class ActivityHours(BaseModel):
    activity: str
    executed_hours: Hours
    executed_seconds: int


class LocationHours(BaseModel):
    #: where the work was done (``Worklog.location``); null: the worklogs did not say
    location: str | None
    executed_hours: Hours
    executed_seconds: int
    worklog_count: int


class OutsideDatesWorklog(BaseModel):
    id: uuid.UUID
    author: str
    team: str
    activity: str
    started_at: dt.datetime
    hours: Hours
    seconds: int
    ticket: str | None


class PeriodAlert(BaseModel):
    stage: str
    trigger: str
    rule_name: str
    raised_at: dt.datetime


class ConsumptionReport(BaseModel):
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str | None
    code: str
    title: str
    period: PeriodWindow
    planned_hours: Hours
    executed_hours: Hours
    remaining_hours: Hours
    percent: Percent | None
    overage_hours: Hours
    outside_dates_hours: Hours
    worklog_count: int
    planned_seconds: int
    executed_seconds: int
    by_team: list[TeamHours]
    by_activity: list[ActivityHours]
    by_location: list[LocationHours]
    outside_dates_worklogs: list[OutsideDatesWorklog]
    alerts: list[PeriodAlert]


# --- the delivery report over a range of periods ------------------------------------------


class ContractHead(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    customer_name: str | None
    code: str
    title: str
    start_date: dt.date
    end_date: dt.date
    timezone: str
    period: str
    status: ContractStatus
    lifecycle: str
    currency: str
    rollover_policy: str
    allowance_policy: str


class RangeWindow(BaseModel):
    #: start of the first and of the last period of the report
    first_period: dt.date
    last_period: dt.date
    #: the local date in the contract's zone the report was computed for
    today: dt.date


class PeriodFigures(BaseModel):
    start_date: dt.date
    end_date: dt.date
    #: closed (ended: what is left is unused), current, or future
    state: str
    planned_hours: Hours
    executed_hours: Hours
    remaining_hours: Hours
    overage_hours: Hours
    unused_hours: Hours
    percent: Percent | None
    outside_dates_hours: Hours
    worklog_count: int
    cumulative_planned_hours: Hours
    cumulative_executed_hours: Hours
    planned_seconds: int
    executed_seconds: int
    by_team: list[TeamHours]
    by_location: list[LocationHours]


class Share(BaseModel):
    name: str
    executed_hours: Hours
    executed_seconds: int
    #: of the range's executed hours
    percent: Percent | None


class LocationShare(BaseModel):
    #: where the work was done; null: the worklogs did not say
    location: str | None
    executed_hours: Hours
    executed_seconds: int
    worklog_count: int
    #: of the range's executed hours
    percent: Percent | None


class ReportTotals(BaseModel):
    planned_hours: Hours
    executed_hours: Hours
    overage_hours: Hours
    unused_hours: Hours
    outside_dates_hours: Hours
    percent: Percent | None
    worklog_count: int
    planned_seconds: int
    executed_seconds: int
    overage_seconds: int
    unused_seconds: int


class ListedWorklog(BaseModel):
    id: uuid.UUID
    period_start: dt.date
    author: str
    team: str
    activity: str
    started_at: dt.datetime
    hours: Hours
    seconds: int
    ticket: str | None


class ReportAlert(BaseModel):
    period_start: dt.date
    stage: str
    trigger: str
    rule_name: str
    raised_at: dt.datetime


class ForecastLine(BaseModel):
    start_date: dt.date
    end_date: dt.date
    current: bool
    planned_hours: Hours
    executed_hours: Hours
    forecast_hours: Hours
    forecast_overage_hours: Hours
    planned_seconds: int
    executed_seconds: int
    forecast_seconds: int


class ForecastOut(BaseModel):
    #: mean_daily_rate_of_last_full_periods | current_period_run_rate | no_history
    basis: str
    description: str
    basis_periods: list[dt.date]
    hours_per_day: Hours
    periods: list[ForecastLine]


class DeliveryReport(BaseModel):
    contract: ContractHead
    range: RangeWindow
    totals: ReportTotals
    periods: list[PeriodFigures]
    by_team: list[Share]
    by_activity: list[Share]
    #: from ConsumptionRecorded.author; "unknown" where the producer did not say
    by_person: list[Share]
    #: from ConsumptionLine.location
    by_location: list[LocationShare]
    outside_dates_worklogs: list[ListedWorklog]
    alerts: list[ReportAlert]
    forecast: ForecastOut


# --- the customer roll-up and links -------------------------------------------------------


class RollUpContract(BaseModel):
    id: uuid.UUID
    code: str
    title: str
    start_date: dt.date
    end_date: dt.date
    periods: int
    planned_hours: Hours
    executed_hours: Hours
    overage_hours: Hours
    unused_hours: Hours
    outside_dates_hours: Hours
    percent: Percent | None
    worklog_count: int
    planned_seconds: int
    executed_seconds: int


class CustomerReport(BaseModel):
    customer_id: uuid.UUID
    customer_name: str | None
    #: periods starting in [first_day, last_day] count
    first_day: dt.date
    last_day: dt.date
    contracts: list[RollUpContract]
    totals: ReportTotals


class LinkRequest(BaseModel):
    expires_in_days: int | None = Field(
        default=None, ge=1, le=366, description="default: BURNRATE_REPORT_LINK_DAYS"
    )


class ReportLink(BaseModel):
    #: the link's record: ``DELETE /v1/customers/{customer_id}/report-links/{id}`` ends it
    id: uuid.UUID
    url: str
    token: str
    customer_id: uuid.UUID
    expires_at: dt.datetime


class LinkRecord(BaseModel):
    """A minted link (never its token): it works while ``active``, i.e. not expired, not
    revoked, and the key that minted it is not revoked."""

    id: uuid.UUID
    customer_id: uuid.UUID
    #: the name of the API key that minted it; ``key_id`` None: the bootstrap key
    minted_by: str
    key_id: uuid.UUID | None
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


# --- service levels (issue 22) ---------------------------------------------------------------


class Grain(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class SlaSection(StrEnum):
    """Which table of the service-level report a CSV holds."""

    ROWS = "rows"
    BREACHES = "breaches"


class MetricCompliance(BaseModel):
    """One metric (first response or resolution) over a group of tickets."""

    met: int
    breached: int
    #: met / (met + breached), one decimal rounded down; null: no cycle completed
    percent_met: Percent | None
    #: business time to respond / resolve of the completed cycles
    median_minutes: Minutes | None
    p90_minutes: Minutes | None
    #: cycles whose clock stopped (the times above are theirs)
    completed: int
    #: cycles the customer was warned about (at risk) before the target
    warned_at_risk: int


class ComplianceRow(BaseModel):
    """One level × priority × month / quarter / year."""

    period: str
    period_start: dt.date
    level: str
    priority: str
    tickets: int
    first_response: MetricCompliance
    resolution: MetricCompliance
    #: wall-clock time the resolution clocks were paused, waiting on the customer
    paused_minutes: Minutes


class ComplianceTotals(BaseModel):
    tickets: int
    first_response: MetricCompliance
    resolution: MetricCompliance
    paused_minutes: Minutes


class BreachOut(BaseModel):
    ticket_id: uuid.UUID
    reference: str
    contract_id: uuid.UUID
    contract_code: str | None
    metric: str
    cycle: int
    priority: str
    level: str
    category: str | None
    target_minutes: int | None
    due_at: dt.datetime | None
    #: when the target was missed (the breach event, or the clock's stop when later known)
    breached_at: dt.datetime | None
    #: when the metric stopped (answered, resolved); null: still running
    stopped_at: dt.datetime | None
    elapsed_minutes: Minutes | None
    paused_minutes: Minutes
    reason: str


class ContractLevels(BaseModel):
    """What a contract's customer bought: each level version with its targets per priority
    and category and the calendar it runs on; ``in_force`` the one for tickets opened today."""

    contract_id: uuid.UUID
    code: str
    title: str
    in_force: ServiceLevelTerms | None
    levels: list[ServiceLevelTerms]


class ServiceLevelReport(BaseModel):
    """Compliance of one contract (``contract_id`` set) or of every contract of a customer."""

    customer_id: uuid.UUID
    customer_name: str | None
    contract_id: uuid.UUID | None
    grain: Grain
    #: tickets opened on local days in [first_day, last_day] count
    first_day: dt.date
    last_day: dt.date
    today: dt.date
    levels: list[ContractLevels]
    rows: list[ComplianceRow]
    totals: ComplianceTotals
    breaches: list[BreachOut]


# --- statements and the quarterly review (issues 21, 22) -------------------------------------


class StatementPeriod(BaseModel):
    """One contract period: hours planned and executed (reporting's figures), and billing's
    statement of it; ``billed_amount`` is what its invoices billed net of credit notes, before
    VAT (null: not invoiced)."""

    contract_id: uuid.UUID
    contract_code: str
    period_start: dt.date
    period_end: dt.date
    planned_hours: Hours
    executed_hours: Hours
    overage_hours: Hours
    statement_id: uuid.UUID | None
    statement_status: str | None
    currency: str
    charged_hours: Hours | None
    charged_amount: Money | None
    subtotal: Money | None
    billed_amount: Money | None
    invoices: list[str]
    sent_at: dt.datetime | None
    approved_at: dt.datetime | None


class ContractStatements(BaseModel):
    contract_id: uuid.UUID
    customer_id: uuid.UUID
    code: str
    title: str
    first_day: dt.date
    last_day: dt.date
    periods: list[StatementPeriod]


class Amount(BaseModel):
    currency: str
    amount: Money


class ReviewHours(BaseModel):
    planned_hours: Hours
    executed_hours: Hours
    overage_hours: Hours
    #: invoiced net of credit notes, before VAT, per currency
    billed: list[Amount]
    #: on statements not yet invoiced (their current subtotal), per currency
    not_yet_billed: list[Amount]


class ReviewContract(BaseModel):
    contract_id: uuid.UUID
    code: str
    title: str
    #: the level(s) its tickets of the quarter ran under, or the one in force
    levels: list[str]
    hours: ReviewHours
    periods: list[StatementPeriod]
    service: ComplianceTotals
    breaches: int


class CustomerReview(BaseModel):
    """The quarterly review: per contract and in total, hours (planned, executed, overage,
    billed) beside the service levels (targets met), for the periods starting in the
    quarter and the tickets opened in it."""

    customer_id: uuid.UUID
    customer_name: str | None
    quarter: str
    first_day: dt.date
    last_day: dt.date
    previous_quarter: str
    next_quarter: str
    today: dt.date
    contracts: list[ReviewContract]
    hours: ReviewHours
    service: ComplianceTotals
    rows: list[ComplianceRow]
    breaches: list[BreachOut]
    levels: list[ContractLevels]
