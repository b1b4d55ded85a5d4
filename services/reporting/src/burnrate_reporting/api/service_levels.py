"""Service-level compliance per contract and per customer, billing's statements per contract
period, and the customer's quarterly review."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from burnrate_common.deps import ConnectionDep
from fastapi import APIRouter, Query
from fastapi.responses import Response

from burnrate_reporting.api import DepsDep, FormatQuery, FromQuery, ToQuery, exports
from burnrate_reporting.auth import ReportsReader
from burnrate_reporting.schemas import (
    ContractStatements,
    CustomerReview,
    Grain,
    ServiceLevelReport,
    SlaSection,
)
from burnrate_reporting.service import service_levels, statements

router = APIRouter(tags=["service levels and statements"])

GrainQuery = Annotated[
    Grain, Query(description="Group tickets per month (default), quarter or year opened")
]
SlaSectionQuery = Annotated[
    SlaSection, Query(description="Which table the CSV holds: rows (default) or breaches")
]
QuarterQuery = Annotated[
    str | None,
    Query(
        max_length=7,
        description="YYYY-Qn; default: the quarter of today",
        examples=["2026-Q1"],
    ),
]
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


@router.get(
    "/v1/contracts/{contract_id}/service-levels",
    response_model=ServiceLevelReport,
    summary="Service-level compliance of a contract per level × priority × month/quarter/year",
    description="Tickets opened in the months from–to (YYYY-MM; default the last 12), met, "
    "breached, % met over completed cycles, median and p90 business time to respond and to "
    "resolve, paused time, and each breach with its reason; the levels the contract carries.",
    responses=_CSV,
)
async def contract_service_levels(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    grain: GrainQuery = Grain.MONTH,
    first: FromQuery = None,
    last: ToQuery = None,
    output: FormatQuery = "json",
    section: SlaSectionQuery = SlaSection.ROWS,
) -> ServiceLevelReport | Response:
    result = await service_levels.service_level_report(
        conn, deps, contract_id=contract_id, grain=grain, first=first, last=last
    )
    if output == "csv":
        code = result.levels[0].code if result.levels else str(contract_id)
        return exports.sla_csv(result, section, code)
    return result


@router.get(
    "/v1/customers/{customer_id}/service-levels",
    response_model=ServiceLevelReport,
    summary="Service-level compliance of every contract of a customer",
    responses=_CSV,
)
async def customer_service_levels(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    grain: GrainQuery = Grain.MONTH,
    first: FromQuery = None,
    last: ToQuery = None,
    output: FormatQuery = "json",
    section: SlaSectionQuery = SlaSection.ROWS,
) -> ServiceLevelReport | Response:
    result = await service_levels.service_level_report(
        conn, deps, customer_id=customer_id, grain=grain, first=first, last=last
    )
    if output == "csv":
        return exports.sla_csv(result, section, f"customer-{customer_id}")
    return result


@router.get(
    "/v1/contracts/{contract_id}/statements",
    response_model=ContractStatements,
    summary="Per contract period: hours planned, executed, overage, and what was billed",
    description="Periods starting in the months from–to (default the last 12); the statement "
    "billing keeps for each (status, charged hours and amount) and what its invoices billed "
    "net of credit notes, before VAT.",
    responses=_CSV,
)
async def contract_statements(
    contract_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    first: FromQuery = None,
    last: ToQuery = None,
    output: FormatQuery = "json",
) -> ContractStatements | Response:
    result = await statements.contract_statements(conn, deps, contract_id, first, last)
    return exports.statements_csv(result) if output == "csv" else result


@router.get(
    "/v1/customers/{customer_id}/review",
    response_model=CustomerReview,
    summary="The quarterly review: hours and billing beside the service levels",
    description="Per contract and in total: the periods starting in the quarter (planned, "
    "executed, overage, billed) and the tickets opened in it (targets met, breaches).",
    responses=_CSV,
)
async def customer_review(
    customer_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: ReportsReader,
    quarter: QuarterQuery = None,
    output: FormatQuery = "json",
) -> CustomerReview | Response:
    result = await statements.customer_review(conn, deps, customer_id, quarter)
    return exports.review_csv(result) if output == "csv" else result
