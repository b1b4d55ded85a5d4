"""The reports: planned versus executed for one period of a contract, the delivery report
over a range of periods, and the customer roll-up. Each reads one snapshot, so its totals,
splits and lists agree with each other."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from burnrate_common.contract_status import derive_status
from burnrate_common.db import Connection
from burnrate_common.errors import Problem
from burnrate_common.figures import Figures
from burnrate_common.types import seconds_to_hours

from burnrate_reporting.domain import forecast as fc
from burnrate_reporting.domain.periods import (
    Month,
    Period,
    current_period,
    parse_period,
    select_period,
)
from burnrate_reporting.domain.report import PeriodInput, PeriodLine, period_lines, totals
from burnrate_reporting.schemas import (
    ActivityHours,
    ConsumptionReport,
    ContractHead,
    CustomerReport,
    DeliveryReport,
    ForecastLine,
    ForecastOut,
    ListedWorklog,
    LocationHours,
    LocationShare,
    OutsideDatesWorklog,
    PeriodAlert,
    PeriodFigures,
    PeriodWindow,
    RangeWindow,
    ReportAlert,
    ReportTotals,
    RollUpContract,
    Share,
    TeamHours,
)
from burnrate_reporting.service.deps import Deps
from burnrate_reporting.store import reports as store

#: A report spans at most this many periods (10 years of months).
MAX_PERIODS = 120
#: Without ?from=, the report starts this many periods before its last one.
DEFAULT_PERIODS = 12


def _not_found(contract_id: uuid.UUID) -> Problem:
    return Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")


# --- one period --------------------------------------------------------------------------


async def consumption_report(
    conn: Connection, deps: Deps, contract_id: uuid.UUID, period: str | None
) -> ConsumptionReport:
    """``period``: YYYY-MM or YYYY-MM-DD (see ``domain.periods``); None: today's, in the
    contract's zone."""
    ref = None
    if period is not None:
        try:
            ref = parse_period(period)
        except ValueError as exc:
            raise Problem(422, "Invalid period", str(exc), field="period") from exc
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        contract = await store.get_contract(conn, contract_id, deps.clock.now())
        if contract is None:
            raise _not_found(contract_id)
        periods = [Period(**dict(r)) for r in await store.get_periods(conn, contract_id)]
        if ref is None:
            chosen = current_period(periods, contract["local_today"])
            if chosen is None:
                raise Problem(
                    404,
                    "No current period",
                    f"Contract {contract['code']} has no period on {contract['local_today']} "
                    f"(it runs {contract['start_date']} to {contract['end_date']}); "
                    "ask for one with ?period=YYYY-MM.",
                    field="period",
                )
        else:
            chosen = select_period(periods, ref)
            if chosen is None:
                raise Problem(
                    404,
                    "No such period",
                    f"Contract {contract['code']} has no period for '{period}' "
                    f"(it runs {contract['start_date']} to {contract['end_date']}).",
                    field="period",
                )
        sums = await store.period_totals(conn, contract_id, chosen.start_date)
        by_team = await store.executed_by_team(conn, contract_id, chosen.start_date)
        by_activity = await store.executed_by_activity(conn, contract_id, chosen.start_date)
        by_location = await store.executed_by_location(conn, contract_id, chosen.start_date)
        outside = await store.outside_dates_worklogs(conn, contract_id, chosen.start_date)
        alerts = await store.period_alerts(conn, contract_id, chosen.start_date)

    figures = Figures(chosen.planned_seconds, sums["executed_seconds"])
    return ConsumptionReport(
        contract_id=contract_id,
        customer_id=contract["customer_id"],
        customer_name=contract["customer_name"],
        code=contract["code"],
        title=contract["title"],
        period=PeriodWindow(start_date=chosen.start_date, end_date=chosen.end_date),
        planned_hours=seconds_to_hours(figures.planned_seconds),
        executed_hours=seconds_to_hours(figures.executed_seconds),
        remaining_hours=seconds_to_hours(figures.remaining_seconds),
        percent=figures.percent,
        overage_hours=seconds_to_hours(figures.overage_seconds),
        outside_dates_hours=seconds_to_hours(sums["outside_dates_seconds"]),
        worklog_count=sums["worklogs"],
        planned_seconds=figures.planned_seconds,
        executed_seconds=figures.executed_seconds,
        by_team=[
            TeamHours(
                team=r["team"],
                executed_hours=seconds_to_hours(r["executed_seconds"]),
                executed_seconds=r["executed_seconds"],
            )
            for r in by_team
        ],
        by_activity=[
            ActivityHours(
                activity=r["activity"],
                executed_hours=seconds_to_hours(r["executed_seconds"]),
                executed_seconds=r["executed_seconds"],
            )
            for r in by_activity
        ],
        by_location=[
            _location_hours(r["location"], r["executed_seconds"], r["worklogs"])
            for r in by_location
        ],
        outside_dates_worklogs=[
            OutsideDatesWorklog(**dict(r), hours=seconds_to_hours(r["seconds"])) for r in outside
        ],
        alerts=[PeriodAlert(**dict(r)) for r in alerts],
    )


# --- the delivery report over a range of periods -------------------------------------------


def _share_percent(part: int, whole: int) -> Decimal | None:
    """A part's share of the whole (one decimal, half up, so the shares add up to 100)."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


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
    periods: list[Period],
    today: dt.date,
    first: str | None,
    last: str | None,
    code: str,
    default_periods: int | None = DEFAULT_PERIODS,
) -> tuple[Period, Period]:
    """The report's first and last period: named by ?from= / ?to=, or by default the period
    of today (else the nearest end of the contract) and the ``default_periods`` - 1 before
    it (the API: 12 periods; the page opens on the current period alone). None: the whole
    term (its last ``MAX_PERIODS`` periods)."""
    if not periods:
        raise Problem(
            404, "No periods", f"Contract {code} has no periods to report on.", field="contract_id"
        )
    if default_periods is None and first is None and last is None:
        return periods[max(len(periods) - MAX_PERIODS, 0)], periods[-1]
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
        span = min(default_periods or DEFAULT_PERIODS, MAX_PERIODS)
        start = periods[max(index - span + 1, 0)]
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
            percent=_share_percent(seconds, whole),
        )
        for name, seconds in rows
    ]


def _location_hours(location: str, seconds: int, worklogs: int) -> LocationHours:
    """One location's sums as the API shows them (``''`` in the read model: not said)."""
    return LocationHours(
        location=location or None,
        executed_hours=seconds_to_hours(seconds),
        executed_seconds=seconds,
        worklog_count=worklogs,
    )


def _location_shares(sums: dict[str, tuple[int, int]], whole: int) -> list[LocationShare]:
    """The range's sums per location, most hours first (``''``: not said)."""
    return [
        LocationShare(
            location=location or None,
            executed_hours=seconds_to_hours(seconds),
            executed_seconds=seconds,
            worklog_count=worklogs,
            percent=_share_percent(seconds, whole),
        )
        for location, (seconds, worklogs) in sorted(sums.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if seconds or worklogs
    ]


def _period_figures(
    line: PeriodLine, teams: list[tuple[str, int]], locations: list[LocationHours]
) -> PeriodFigures:
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
        by_location=locations,
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


def _totals(
    planned: int, executed: int, overage: int, unused: int, outside: int, worklogs: int
) -> ReportTotals:
    return ReportTotals(
        planned_hours=seconds_to_hours(planned),
        executed_hours=seconds_to_hours(executed),
        overage_hours=seconds_to_hours(overage),
        unused_hours=seconds_to_hours(unused),
        outside_dates_hours=seconds_to_hours(outside),
        percent=Figures(planned, executed).percent,
        worklog_count=worklogs,
        planned_seconds=planned,
        executed_seconds=executed,
        overage_seconds=overage,
        unused_seconds=unused,
    )


async def delivery_report(
    conn: Connection,
    deps: Deps,
    contract_id: uuid.UUID,
    first: str | None,
    last: str | None,
    *,
    customer_id: uuid.UUID | None = None,
    default_periods: int | None = DEFAULT_PERIODS,
) -> DeliveryReport:
    """``customer_id`` limits the report to that customer's contracts (the customer links):
    another customer's contract is "not found", like an unknown one. ``default_periods``:
    how many periods up to today's the range spans when ``first`` is not given (None: the
    whole term)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        contract = await store.get_contract(conn, contract_id, deps.clock.now())
        if contract is None or (customer_id is not None and contract["customer_id"] != customer_id):
            raise _not_found(contract_id)
        terms = await store.get_contract_terms(conn, contract_id)
        if terms is None:  # the contract row was read in this snapshot
            raise _not_found(contract_id)
        rows = await store.periods_with_totals(conn, contract_id)
        today: dt.date = contract["local_today"]
        periods = [Period(r["start_date"], r["end_date"], r["planned_seconds"]) for r in rows]
        start, end = choose_range(periods, today, first, last, contract["code"], default_periods)
        lo, hi = start.start_date, end.start_date
        team_rows = await store.team_by_period(conn, contract_id, lo, hi)
        activities = await store.activity_totals(conn, contract_id, lo, hi)
        people = await store.person_totals(conn, contract_id, lo, hi)
        location_rows = await store.location_by_period(conn, contract_id, lo, hi)
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
    locations_of: dict[dt.date, list[LocationHours]] = defaultdict(list)
    location_sum: dict[str, tuple[int, int]] = {}
    for r in location_rows:
        seconds, worklogs = r["executed_seconds"], r["worklogs"]
        locations_of[r["period_start"]].append(_location_hours(r["location"], seconds, worklogs))
        before = location_sum.get(r["location"], (0, 0))
        location_sum[r["location"]] = (before[0] + seconds, before[1] + worklogs)
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
                start_date=contract["start_date"],
                end_date=contract["end_date"],
                today=today,
                expiring_within_days=deps.settings.expiring_within_days,
                exhausted=current_figures is not None and current_figures.exhausted,
            ),
            lifecycle=terms["lifecycle"],
            currency=terms["currency"],
            rollover_policy=terms["rollover_policy"],
            allowance_policy=terms["allowance_policy"],
        ),
        range=RangeWindow(first_period=lo, last_period=hi, today=today),
        totals=_totals(
            sums.planned_seconds,
            sums.executed_seconds,
            sums.overage_seconds,
            sums.unused_seconds,
            sums.outside_dates_seconds,
            sums.worklogs,
        ),
        periods=[
            _period_figures(
                x, teams_of.get(x.period.start_date, []), locations_of.get(x.period.start_date, [])
            )
            for x in lines
        ],
        by_team=_shares(sorted(team_sum.items(), key=lambda kv: (-kv[1], kv[0])), whole),
        by_activity=_shares([(r["name"], r["executed_seconds"]) for r in activities], whole),
        by_person=_shares([(r["name"], r["executed_seconds"]) for r in people], whole),
        by_location=_location_shares(location_sum, whole),
        outside_dates_worklogs=[
            ListedWorklog(**dict(r), hours=seconds_to_hours(r["seconds"])) for r in outside
        ],
        alerts=[ReportAlert(**dict(r)) for r in alerts],
        forecast=_forecast(forecast),
    )


# --- the customer roll-up ---------------------------------------------------------------


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
    deps: Deps,
    customer_id: uuid.UUID,
    first: str | None,
    last: str | None,
) -> CustomerReport:
    now = deps.clock.now()
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
            percent=Figures(r["planned_seconds"], r["executed_seconds"]).percent,
            worklog_count=r["worklogs"],
            planned_seconds=r["planned_seconds"],
            executed_seconds=r["executed_seconds"],
        )
        for r in rows
    ]
    return CustomerReport(
        customer_id=customer_id,
        customer_name=name,
        first_day=start,
        last_day=end,
        contracts=contracts,
        totals=_totals(
            sum(r["planned_seconds"] for r in rows),
            sum(r["executed_seconds"] for r in rows),
            sum(r["overage_seconds"] for r in rows),
            sum(r["unused_seconds"] for r in rows),
            sum(r["outside_dates_seconds"] for r in rows),
            sum(r["worklogs"] for r in rows),
        ),
    )
