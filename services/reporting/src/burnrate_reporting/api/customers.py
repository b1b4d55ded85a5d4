"""The customer roll-up (every contract of one customer) and the customers' report links."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from burnrate_common.auth import require
from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from burnrate_common.errors import Problem
from burnrate_common.pagination import Page
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from burnrate_reporting import store
from burnrate_reporting.api import exports
from burnrate_reporting.api.report import CustomerReport, customer_report
from burnrate_reporting.api.views import (
    ContractSummary,
    NowDep,
    SearchQuery,
    SettingsDep,
    SortQuery,
    contract_screen,
)
from burnrate_reporting.domain.status import ContractStatus

router = APIRouter(prefix="/v1/customers", tags=["customers"])
ReportsRead = Annotated[object, Depends(require("reports:read"))]


@router.get(
    "/{customer_id}/contracts",
    response_model=Page[ContractSummary],
    summary="The contracts of one customer",
)
async def customer_contracts(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
    _: ReportsRead,
    status: Annotated[ContractStatus | None, Query()] = None,
    q: SearchQuery = None,
    sort: SortQuery = "created",
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[ContractSummary]:
    if not await store.customer_known(conn, customer_id):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    return await contract_screen(
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


@router.get(
    "/{customer_id}/report",
    response_model=CustomerReport,
    summary="Planned versus executed of every contract of a customer over a range of months",
    responses={200: {"content": {"text/csv": {}}}},
)
async def roll_up(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    _: ReportsRead,
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> CustomerReport | Response:
    result = await customer_report(conn, customer_id, now, first, last)
    return exports.customer_csv(result) if output == "csv" else result


class LinkRequest(BaseModel):
    expires_in_days: int | None = Field(
        default=None, ge=1, le=366, description="default: BURNRATE_REPORT_LINK_DAYS"
    )


class ReportLink(BaseModel):
    url: str
    token: str
    customer_id: uuid.UUID
    expires_at: dt.datetime


@router.post(
    "/{customer_id}/report-links",
    response_model=ReportLink,
    status_code=201,
    summary="A signed, expiring link that opens this customer's reports without a key",
)
async def create_report_link(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    now: NowDep,
    settings: SettingsDep,
    _: ReportsRead,
    body: LinkRequest | None = None,
) -> ReportLink:
    if not await store.customer_known(conn, customer_id):
        raise Problem(404, "Not found", f"No customer {customer_id}.", field="customer_id")
    days = body.expires_in_days if body else None
    url, token, expires_at = settings.customer_report_url(customer_id, now, days)
    return ReportLink(
        url=url,
        token=token,
        customer_id=customer_id,
        expires_at=expires_at,
    )
