"""The contract screen, the consumption of one period and the delivery report over many."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.pagination import Page
from fastapi import APIRouter, Query
from fastapi.responses import Response

from burnrate_reporting.api import (
    DepsDep,
    ForecastQuery,
    FormatQuery,
    FromQuery,
    SearchQuery,
    SectionQuery,
    SortQuery,
    ToQuery,
    exports,
)
from burnrate_reporting.auth import ReportsReader
from burnrate_reporting.schemas import (
    Attention,
    ConsumptionReport,
    ContractSummary,
    DeliveryReport,
    ForecastFilter,
    ScreenStatus,
    Section,
)
from burnrate_reporting.service import reports, screen

router = APIRouter(prefix="/v1/contracts", tags=["contracts"])

PeriodQuery = Annotated[
    str | None,
    Query(
        max_length=10,
        description="YYYY-MM (the period starting in that month) or YYYY-MM-DD (the exact "
        "start of a period); default: the period containing today in the contract's zone",
        examples=["2026-03"],
    ),
]


@router.get(
    "",
    response_model=Page[ContractSummary],
    summary="The contract screen",
    responses={200: {"content": {"text/csv": {}}}},
)
async def list_contracts(
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    status: Annotated[ScreenStatus | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    q: SearchQuery = None,
    sort: SortQuery = "created",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    output: FormatQuery = "json",
    forecast: ForecastQuery = None,
) -> Page[ContractSummary] | Response:
    page = await screen.contract_screen(
        conn,
        deps,
        limit=limit,
        cursor=cursor,
        sort=sort,
        status=status,
        customer_id=customer_id,
        search=q,
        over_forecast=forecast is ForecastFilter.OVER,
    )
    return exports.screen_csv(page.items) if output == "csv" else page


@router.get(
    "/attention",
    response_model=Attention,
    summary="What needs attention today: contracts exhausted, over forecast and expiring",
)
async def attention(
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
) -> Attention:
    return await screen.attention(conn, deps, customer_id)


@router.get(
    "/{contract_id}/report",
    response_model=DeliveryReport,
    summary="The delivery report of a contract over a range of periods",
    responses={200: {"content": {"text/csv": {}}}},
)
async def report(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    first: FromQuery = None,
    last: ToQuery = None,
    output: FormatQuery = "json",
    section: SectionQuery = Section.PERIODS,
) -> DeliveryReport | Response:
    result = await reports.delivery_report(conn, deps, contract_id, first, last)
    return exports.report_csv(result, section) if output == "csv" else result


@router.get(
    "/{contract_id}/report.csv",
    summary="The delivery report as CSV (one section)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def report_csv(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    first: FromQuery = None,
    last: ToQuery = None,
    section: SectionQuery = Section.PERIODS,
) -> Response:
    result = await reports.delivery_report(conn, deps, contract_id, first, last)
    return exports.report_csv(result, section)


@router.get(
    "/{contract_id}/consumption",
    response_model=ConsumptionReport,
    summary="Planned versus executed for one period of a contract",
)
async def consumption(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    period: PeriodQuery = None,
) -> ConsumptionReport:
    return await reports.consumption_report(conn, deps, contract_id, period)
