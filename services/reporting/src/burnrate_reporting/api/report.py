"""The delivery report of one contract over a range of periods, and the customer roll-up:
response models, the range rules and the assembly from the store's reads (one snapshot)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.types import Hours, seconds_to_hours
from pydantic import BaseModel

from burnrate_reporting import store
from burnrate_reporting.api.views import Percent
from burnrate_reporting.domain import forecast as fc
from burnrate_reporting.domain.figures import Figures
from burnrate_reporting.domain.periods import Month, Period, parse_period, select_period
from burnrate_reporting.domain.report import PeriodInput, PeriodLine, period_lines, totals
from burnrate_reporting.domain.status import ContractStatus, derive_status

#: A report spans at most this many periods (10 years of months).
MAX_PERIODS = 120
#: Without ?from=, the report starts this many periods before its last one.
DEFAULT_PERIODS = 12


def _pct(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


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


class TeamHours(BaseModel):
    team: str
    executed_hours: Hours
    executed_seconds: int


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


class Share(BaseModel):
    name: str
    executed_hours: Hours
    executed_seconds: int
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
    outside_dates_worklogs: list[ListedWorklog]
    alerts: list[ReportAlert]
    forecast: ForecastOut


def _resolve(periods: list[Period], text: str, field: str, code: str) -> Period:
    try:
        ref = parse_period(text)
    except ValueError as exc:
        raise Problem(422, "Invalid period", str(exc), field=field) from exc
    chosen = select_period(periods, ref)
    if chosen is None:
        span = f"{periods[0].start_date} to {periods[-1].end_date}" if periods else "no periods"
        raise Problem(
            404,
            "No such period",
            f"Contract {code} has no period for {field}='{text}' (its periods run {span}).",
            field=field,
        )
    return chosen


def choose_range(
    periods: list[Period], today: dt.date, first: str | None, last: str | None, code: str
) -> tuple[Period, Period]:
    """The report's first and last period: named by ?from= / ?to=, or by default the period
    of today (else the nearest end of the contract) and the 11 before it."""
    if not periods:
        raise Problem(
            404, "No periods", f"Contract {code} has no periods to report on.", field="contract_id"
        )
    if last is not None:
        end = _resolve(periods, last, "to", code)
    else:
        end = next((p for p in periods if p.contains(today)), None) or (
            periods[-1] if today > periods[-1].end_date else periods[0]
        )
    if first is not None:
        start = _resolve(periods, first, "from", code)
    else:
        index = periods.index(end)
        start = periods[max(index - DEFAULT_PERIODS + 1, 0)]
    if start.start_date > end.start_date:
        raise Problem(
            422,
            "Invalid range",
            f"from ({start.start_date}) is after to ({end.start_date}).",
            field="to",
        )
    count = sum(1 for p in periods if start.start_date <= p.start_date <= end.start_date)
    if count > MAX_PERIODS:
        raise Problem(
            422,
            "Range too long",
            f"The range spans {count} periods; at most {MAX_PERIODS} per report.",
            field="from",
        )
    return start, end


def _shares(rows: list[tuple[str, int]], whole: int) -> list[Share]:
    return [
        Share(
            name=name,
            executed_hours=seconds_to_hours(seconds),
            executed_seconds=seconds,
            percent=_pct(seconds, whole),
        )
        for name, seconds in rows
    ]


def _period_figures(line: PeriodLine, teams: list[tuple[str, int]]) -> PeriodFigures:
    p, f = line.period, line.figures
    return PeriodFigures(
        start_date=p.start_date,
        end_date=p.end_date,
        state=line.state.value,
        planned_hours=seconds_to_hours(p.planned_seconds),
        executed_hours=seconds_to_hours(p.executed_seconds),
        remaining_hours=seconds_to_hours(f.remaining_seconds),
        overage_hours=seconds_to_hours(f.overage_seconds),
        unused_hours=seconds_to_hours(line.unused_seconds),
        percent=f.percent,
        outside_dates_hours=seconds_to_hours(p.outside_dates_seconds),
        worklog_count=p.worklogs,
        cumulative_planned_hours=seconds_to_hours(line.cumulative_planned_seconds),
        cumulative_executed_hours=seconds_to_hours(line.cumulative_executed_seconds),
        planned_seconds=p.planned_seconds,
        executed_seconds=p.executed_seconds,
        by_team=[
            TeamHours(team=t, executed_hours=seconds_to_hours(s), executed_seconds=s)
            for t, s in teams
        ],
    )


def _forecast(result: fc.Forecast) -> ForecastOut:
    return ForecastOut(
        basis=result.basis.value,
        description=result.description,
        basis_periods=list(result.basis_periods),
        hours_per_day=(result.seconds_per_day / 3600).quantize(Decimal("0.01")),
        periods=[
            ForecastLine(
                start_date=p.start_date,
                end_date=p.end_date,
                current=p.current,
                planned_hours=seconds_to_hours(p.planned_seconds),
                executed_hours=seconds_to_hours(p.executed_seconds),
                forecast_hours=seconds_to_hours(p.forecast_seconds),
                forecast_overage_hours=seconds_to_hours(p.forecast_overage_seconds),
                planned_seconds=p.planned_seconds,
                executed_seconds=p.executed_seconds,
                forecast_seconds=p.forecast_seconds,
            )
            for p in result.periods
        ],
    )


async def delivery_report(
    conn: Connection,
    contract_id: uuid.UUID,
    now: dt.datetime,
    first: str | None,
    last: str | None,
    *,
    expiring_within_days: int = 0,
    customer_id: uuid.UUID | None = None,
) -> DeliveryReport:
    """``customer_id`` limits the report to that customer's contracts (the customer links):
    another customer's contract is "not found", like an unknown one."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        contract = await store.get_contract(conn, contract_id, now)
        if contract is None or (customer_id is not None and contract["customer_id"] != customer_id):
            raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
        terms = await store.get_contract_terms(conn, contract_id)
        assert terms is not None
        rows = await store.periods_with_totals(conn, contract_id)
        today: dt.date = contract["local_today"]
        periods = [Period(r["start_date"], r["end_date"], r["planned_seconds"]) for r in rows]
        start, end = choose_range(periods, today, first, last, contract["code"])
        lo, hi = start.start_date, end.start_date
        team_rows = await store.team_by_period(conn, contract_id, lo, hi)
        activities = await store.activity_totals(conn, contract_id, lo, hi)
        people = await store.person_totals(conn, contract_id, lo, hi)
        outside = await store.outside_dates_in_range(conn, contract_id, lo, hi)
        alerts = await store.alerts_in_range(conn, contract_id, lo, hi)

    inputs = [
        PeriodInput(
            r["start_date"],
            r["end_date"],
            r["planned_seconds"],
            r["executed_seconds"],
            r["worklogs"],
            r["outside_dates_seconds"],
        )
        for r in rows
        if lo <= r["start_date"] <= hi
    ]
    lines = period_lines(inputs, today)
    sums = totals(lines)
    teams_of: dict[dt.date, list[tuple[str, int]]] = defaultdict(list)
    team_sum: dict[str, int] = defaultdict(int)
    for r in team_rows:
        teams_of[r["period_start"]].append((r["team"], r["executed_seconds"]))
        team_sum[r["team"]] += r["executed_seconds"]
    current_figures = next(
        (
            Figures(r["planned_seconds"], r["executed_seconds"])
            for r in rows
            if r["start_date"] <= today <= r["end_date"]
        ),
        None,
    )
    forecast = fc.forecast(
        [
            fc.Actual(r["start_date"], r["end_date"], r["planned_seconds"], r["executed_seconds"])
            for r in rows
        ],
        today,
    )
    whole = sums.executed_seconds
    return DeliveryReport(
        contract=ContractHead(
            id=contract_id,
            customer_id=contract["customer_id"],
            customer_name=contract["customer_name"],
            code=contract["code"],
            title=contract["title"],
            start_date=contract["start_date"],
            end_date=contract["end_date"],
            timezone=contract["timezone"],
            period=terms["period"],
            status=derive_status(
                contract["start_date"],
                contract["end_date"],
                today,
                current_figures,
                expiring_within_days,
            ),
            lifecycle=terms["lifecycle"],
            currency=terms["currency"],
            rollover_policy=terms["rollover_policy"],
            allowance_policy=terms["allowance_policy"],
        ),
        range=RangeWindow(first_period=lo, last_period=hi, today=today),
        totals=ReportTotals(
            planned_hours=seconds_to_hours(sums.planned_seconds),
            executed_hours=seconds_to_hours(sums.executed_seconds),
            overage_hours=seconds_to_hours(sums.overage_seconds),
            unused_hours=seconds_to_hours(sums.unused_seconds),
            outside_dates_hours=seconds_to_hours(sums.outside_dates_seconds),
            percent=_pct(sums.executed_seconds, sums.planned_seconds),
            worklog_count=sums.worklogs,
            planned_seconds=sums.planned_seconds,
            executed_seconds=sums.executed_seconds,
            overage_seconds=sums.overage_seconds,
            unused_seconds=sums.unused_seconds,
        ),
        periods=[_period_figures(x, teams_of.get(x.period.start_date, [])) for x in lines],
        by_team=_shares(sorted(team_sum.items(), key=lambda kv: (-kv[1], kv[0])), whole),
        by_activity=_shares([(r["name"], r["executed_seconds"]) for r in activities], whole),
        by_person=_shares([(r["name"], r["executed_seconds"]) for r in people], whole),
        outside_dates_worklogs=[
            ListedWorklog(**dict(r), hours=seconds_to_hours(r["seconds"])) for r in outside
        ],
        alerts=[ReportAlert(**dict(r)) for r in alerts],
        forecast=_forecast(forecast),
    )


# --- the customer roll-up ---------------------------------------------------------------


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


def month_window(first: str | None, last: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` months, both included; by default the 12 months up to this one."""

    def month(text: str, field: str) -> Month:
        try:
            ref = parse_period(text)
        except ValueError as exc:
            raise Problem(422, "Invalid month", str(exc), field=field) from exc
        if not isinstance(ref, Month):
            raise Problem(422, "Invalid month", f"'{text}' is not YYYY-MM.", field=field)
        return ref

    end = month(last, "to") if last else Month(today.year, today.month)
    if first:
        start = month(first, "from")
    else:
        index = end.year * 12 + end.month - 1 - (DEFAULT_PERIODS - 1)
        start = Month(index // 12, index % 12 + 1)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if months < 1:
        raise Problem(422, "Invalid range", "from is after to.", field="to")
    if months > MAX_PERIODS:
        raise Problem(
            422, "Range too long", f"At most {MAX_PERIODS} months per report.", field="from"
        )
    return start.first_day, end.last_day


async def customer_report(
    conn: Connection,
    customer_id: uuid.UUID,
    now: dt.datetime,
    first: str | None,
    last: str | None,
) -> CustomerReport:
    start, end = month_window(first, last, now.date())
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if not await store.customer_known(conn, customer_id):
            raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
        name = await store.customer_name(conn, customer_id)
        rows = await store.customer_roll_up(conn, customer_id, start, end, now)
    contracts = [
        RollUpContract(
            id=r["id"],
            code=r["code"],
            title=r["title"],
            start_date=r["start_date"],
            end_date=r["end_date"],
            periods=r["periods"],
            planned_hours=seconds_to_hours(r["planned_seconds"]),
            executed_hours=seconds_to_hours(r["executed_seconds"]),
            overage_hours=seconds_to_hours(r["overage_seconds"]),
            unused_hours=seconds_to_hours(r["unused_seconds"]),
            outside_dates_hours=seconds_to_hours(r["outside_dates_seconds"]),
            percent=_pct(r["executed_seconds"], r["planned_seconds"]),
            worklog_count=r["worklogs"],
            planned_seconds=r["planned_seconds"],
            executed_seconds=r["executed_seconds"],
        )
        for r in rows
    ]
    planned = sum(r["planned_seconds"] for r in rows)
    executed = sum(r["executed_seconds"] for r in rows)
    overage = sum(r["overage_seconds"] for r in rows)
    unused = sum(r["unused_seconds"] for r in rows)
    return CustomerReport(
        customer_id=customer_id,
        customer_name=name,
        first_day=start,
        last_day=end,
        contracts=contracts,
        totals=ReportTotals(
            planned_hours=seconds_to_hours(planned),
            executed_hours=seconds_to_hours(executed),
            overage_hours=seconds_to_hours(overage),
            unused_hours=seconds_to_hours(unused),
            outside_dates_hours=seconds_to_hours(sum(r["outside_dates_seconds"] for r in rows)),
            percent=_pct(executed, planned),
            worklog_count=sum(r["worklogs"] for r in rows),
            planned_seconds=planned,
            executed_seconds=executed,
            overage_seconds=overage,
            unused_seconds=unused,
        ),
    )
