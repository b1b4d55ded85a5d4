"""The customer roll-up (every contract of one customer) and the customers' report links."""

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
    SortQuery,
    ToQuery,
    exports,
)
from burnrate_reporting.auth import ReportsReader
from burnrate_reporting.schemas import (
    ContractSummary,
    CustomerReport,
    ForecastFilter,
    LinkRecord,
    LinkRequest,
    ReportLink,
    ScreenStatus,
)
from burnrate_reporting.service import access, reports, screen

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get(
    "/{customer_id}/contracts",
    response_model=Page[ContractSummary],
    summary="The contracts of one customer",
)
async def customer_contracts(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    status: Annotated[ScreenStatus | None, Query()] = None,
    q: SearchQuery = None,
    sort: SortQuery = "created",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
    forecast: ForecastQuery = None,
) -> Page[ContractSummary]:
    return await screen.customer_contracts(
        conn,
        deps,
        customer_id,
        limit=limit,
        cursor=cursor,
        sort=sort,
        status=status,
        search=q,
        over_forecast=forecast is ForecastFilter.OVER,
    )


@router.get(
    "/{customer_id}/report",
    response_model=CustomerReport,
    summary="Planned versus executed of every contract of a customer over a range of months",
    responses={200: {"content": {"text/csv": {}}}},
)
async def roll_up(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    first: FromQuery = None,
    last: ToQuery = None,
    output: FormatQuery = "json",
) -> CustomerReport | Response:
    result = await reports.customer_report(conn, deps, customer_id, first, last)
    return exports.customer_csv(result) if output == "csv" else result


@router.post(
    "/{customer_id}/report-links",
    response_model=ReportLink,
    status_code=201,
    summary="A signed, expiring link that opens this customer's reports without a key",
    description="The link works until it expires, is revoked (DELETE), or the API key that "
    "minted it is revoked. 503 while BURNRATE_REPORT_LINK_SECRET is not set.",
    responses={503: {"description": "BURNRATE_REPORT_LINK_SECRET is not set"}},
)
async def create_report_link(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    principal: ReportsReader,
    body: LinkRequest | None = None,
) -> ReportLink:
    days = body.expires_in_days if body else None
    return await access.create_report_link(conn, deps, principal, customer_id, days)


@router.get(
    "/{customer_id}/report-links",
    response_model=list[LinkRecord],
    summary="The links minted for this customer (newest first, at most 500; no tokens)",
)
async def list_report_links(
    customer_id: uuid.UUID, conn: ConnectionDep, deps: DepsDep, _: ReportsReader
) -> list[LinkRecord]:
    return await access.report_links_of(conn, deps, customer_id)


@router.delete(
    "/{customer_id}/report-links/{link_id}",
    status_code=204,
    response_class=Response,
    summary="Revoke a customer's report link: it stops working at once",
)
async def revoke_report_link(
    customer_id: uuid.UUID,
    link_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
) -> Response:
    await access.revoke_report_link(conn, deps, customer_id, link_id)
    return Response(status_code=204)
