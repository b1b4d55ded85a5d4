"""The contract screen, the consumption of one period and the delivery report over many."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page
from burnrate_common.types import Hours, seconds_to_hours
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from burnrate_reporting import store
from burnrate_reporting.api import exports
from burnrate_reporting.api.report import DeliveryReport, delivery_report
from burnrate_reporting.api.views import (
    ContractSummary,
    NowDep,
    Percent,
    SearchQuery,
    SettingsDep,
    SortQuery,
    contract_screen,
)
from burnrate_reporting.domain.figures import Figures
from burnrate_reporting.domain.periods import (
    Period,
    current_period,
    parse_period,
    select_period,
)
from burnrate_reporting.domain.status import ContractStatus

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])
ReportsRead = Annotated[object, Depends(require("reports:read"))]

PeriodQuery = Annotated[
    str | None,
    Query(
        max_length=10,
        description="YYYY-MM (the period starting in that month) or YYYY-MM-DD (the exact "
        "start of a period); default: the period containing today in the contract's zone",
        examples=["2026-03"],
    ),
]


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
    outside_dates_worklogs: list[OutsideDatesWorklog]
    alerts: list[PeriodAlert]


FormatQuery = Annotated[
    Literal["json", "csv"], Query(alias="format", description="json (default) or csv")
]
SectionQuery = Annotated[
    exports.Section,
    Query(description="Which table of the report the CSV holds (default: periods)"),
]


@router.get(
    "",
    response_model=Page[ContractSummary],
    summary="The contract screen",
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_contracts(
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
    _: ReportsRead,
    status: Annotated[ContractStatus | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    q: SearchQuery = None,
    sort: SortQuery = "created",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    output: FormatQuery = "json",
) -> Page[ContractSummary] | Response:
    page = await contract_screen(
        conn,
        now,
        settings,
        limit=limit,
        cursor=cursor,
        sort=sort,
        status=status,
        customer_id=customer_id,
        search=q,
    )
    if output == "csv":
        return exports.screen_csv(page.items)
    return page


async def _report(
    conn: ConnectionDep,
    now: dt.datetime,
    settings: SettingsDep,
    contract_id: uuid.UUID,
    first: str | None,
    last: str | None,
) -> DeliveryReport:
    return await delivery_report(
        conn,
        contract_id,
        now,
        first,
        last,
        expiring_within_days=settings.expiring_within_days,
    )


@router.get(
    "/{contract_id}/report",
    response_model=DeliveryReport,
    summary="The delivery report of a contract over a range of periods",
    responses={200: {"content": {"text/csv": {}}}},
)
async def report(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
    _: ReportsRead,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    output: FormatQuery = "json",
    section: SectionQuery = exports.Section.PERIODS,
) -> DeliveryReport | Response:
    result = await _report(conn, now, settings, contract_id, first, last)
    if output == "csv":
        return exports.report_csv(result, section)
    return result


@router.get(
    "/{contract_id}/report.csv",
    summary="The delivery report as CSV (one section)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def report_csv(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
    _: ReportsRead,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    section: SectionQuery = exports.Section.PERIODS,
) -> Response:
    result = await _report(conn, now, settings, contract_id, first, last)
    return exports.report_csv(result, section)


@router.get(
    "/{contract_id}/consumption",
    response_model=ConsumptionReport,
    summary="Planned versus executed for one period of a contract",
)
async def consumption(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    _: ReportsRead,
    period: PeriodQuery = None,
) -> ConsumptionReport:
    ref = None
    if period is not None:
        try:
            ref = parse_period(period)
        except ValueError as exc:
            raise Problem(422, "Invalid period", str(exc), field="period") from exc
    # One snapshot, so the totals, the splits and the lists agree with each other.
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        contract = await store.get_contract(conn, contract_id, now)
        if contract is None:
            raise Problem(404, "Not found", f"No contract {contract_id}.", field="contract_id")
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
        totals = await store.period_totals(conn, contract_id, chosen.start_date)
        by_team = await store.executed_by_team(conn, contract_id, chosen.start_date)
        by_activity = await store.executed_by_activity(conn, contract_id, chosen.start_date)
        outside = await store.outside_dates_worklogs(conn, contract_id, chosen.start_date)
        alerts = await store.period_alerts(conn, contract_id, chosen.start_date)

    figures = Figures(chosen.planned_seconds, totals["executed_seconds"])
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
        outside_dates_hours=seconds_to_hours(totals["outside_dates_seconds"]),
        worklog_count=totals["worklogs"],
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
        outside_dates_worklogs=[
            OutsideDatesWorklog(**dict(r), hours=seconds_to_hours(r["seconds"])) for r in outside
        ],
        alerts=[PeriodAlert(**dict(r)) for r in alerts],
    )
