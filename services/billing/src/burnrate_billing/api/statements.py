"""Statements: read, move through the life cycle, what-ifs (each with ?preview=true)."""

from __future__ import annotations

import uuid
from typing import Annotated

from burnrate_common.deps import ConnectionDep, CursorQuery, LimitQuery
from fastapi import APIRouter, Query

from burnrate_billing.api import DepsDep, PreviewQuery
from burnrate_billing.auth import BillingReader, BillingWriter
from burnrate_billing.schemas import (
    CancelLineIn,
    CarryIn,
    CreditIn,
    HistoryOut,
    ReasonIn,
    ReleaseIn,
    SentOut,
    StatementOut,
    StatementPage,
)
from burnrate_billing.service import approval, invoices
from burnrate_billing.service import statements as service

router = APIRouter(prefix="/v1/statements", tags=["statements"])


@router.get("", response_model=StatementPage, summary="Statements, by contract, customer, period")
async def list_statements(
    conn: ConnectionDep,
    deps: DepsDep,
    _: BillingReader,
    contract_id: Annotated[uuid.UUID | None, Query()] = None,
    customer_id: Annotated[uuid.UUID | None, Query()] = None,
    period: Annotated[
        str | None, Query(description="YYYY-MM or a day: the statement whose period holds it")
    ] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> StatementPage:
    return await service.list_statements(
        conn,
        deps,
        contract_id=contract_id,
        customer_id=customer_id,
        period=period,
        limit=limit,
        cursor=cursor,
    )


@router.get("/{statement_id}", response_model=StatementOut, summary="One statement with its lines")
async def get_statement(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    _: BillingReader,
    rate_row: Annotated[
        str | None, Query(description="Only the lines this rate row priced ('base': none)")
    ] = None,
) -> StatementOut:
    return await service.get_statement(conn, deps, statement_id, rate_row=rate_row)


@router.get(
    "/{statement_id}/history",
    response_model=list[HistoryOut],
    summary="Every change: who, when, what, why",
)
async def history(
    statement_id: uuid.UUID, conn: ConnectionDep, _: BillingReader
) -> list[HistoryOut]:
    return await service.history(conn, statement_id)


@router.post("/{statement_id}/review", response_model=StatementOut, summary="Into review")
async def review(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    body: ReasonIn | None = None,
) -> StatementOut:
    reason = body.reason if body else None
    return await service.review(conn, deps, statement_id, actor=who.name, reason=reason)


@router.post(
    "/{statement_id}/send",
    response_model=SentOut,
    summary="To the customer, with a signed approval link",
)
async def send(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    body: ReasonIn | None = None,
) -> SentOut:
    reason = body.reason if body else None
    return await approval.send(conn, deps, statement_id, actor=who.name, reason=reason)


@router.post(
    "/{statement_id}/approve",
    response_model=StatementOut,
    summary="Approve on the customer's behalf",
)
async def approve(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    body: ReasonIn | None = None,
) -> StatementOut:
    reason = body.reason if body else None
    return await service.approve(conn, deps, statement_id, actor=who.name, reason=reason)


@router.post("/{statement_id}/invoice", response_model=StatementOut, summary="Issue the invoice")
async def invoice(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    body: ReasonIn | None = None,
) -> StatementOut:
    reason = body.reason if body else None
    return await invoices.invoice(conn, deps, statement_id, actor=who.name, reason=reason)


@router.post(
    "/{statement_id}/rerate",
    response_model=StatementOut,
    summary="Rate the open statement with the contract's current terms (audited)",
)
async def rerate(
    statement_id: uuid.UUID,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    body: ReasonIn | None = None,
) -> StatementOut:
    reason = body.reason if body else None
    return await service.rerate(conn, deps, statement_id, actor=who.name, reason=reason)


@router.post(
    "/{statement_id}/carry",
    response_model=StatementOut,
    summary="Carry all or part to the next period, within the debt cap",
)
async def carry(
    statement_id: uuid.UUID,
    body: CarryIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.carry(conn, deps, statement_id, body, actor=who.name, preview=preview)


@router.post(
    "/{statement_id}/cancel-line",
    response_model=StatementOut,
    summary="Write off a worklog's lines (reason required)",
)
async def cancel_line(
    statement_id: uuid.UUID,
    body: CancelLineIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.cancel_line(
        conn, deps, statement_id, body, actor=who.name, preview=preview
    )


@router.post(
    "/{statement_id}/credit",
    response_model=StatementOut,
    summary="Grant a credit on this statement or the next",
)
async def credit(
    statement_id: uuid.UUID,
    body: CreditIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.credit(conn, deps, statement_id, body, actor=who.name, preview=preview)


@router.post(
    "/{statement_id}/release-line",
    response_model=StatementOut,
    summary="Make a line held by the hard stop billable",
)
async def release_line(
    statement_id: uuid.UUID,
    body: ReleaseIn,
    conn: ConnectionDep,
    deps: DepsDep,
    who: BillingWriter,
    preview: PreviewQuery = False,
) -> StatementOut:
    return await service.release_line(
        conn, deps, statement_id, body, actor=who.name, preview=preview
    )
